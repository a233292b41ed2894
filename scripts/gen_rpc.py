#!/usr/bin/env python3
"""Generate the gRPC stubs in roost/rpc/ from the .proto sources in proto/.

The proto package (``roost.rpc``) matches the Python package the stubs live in, so the
generated imports work as generated.  ``--out DIR`` writes the tree somewhere else (the
test that checks the committed stubs are current uses it).  Needs grpcio-tools at the
version pinned in pyproject's test extra: another protoc writes other files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"


def generate(out: Path) -> list[Path]:
    from grpc_tools import protoc

    sources = sorted(PROTO.rglob("*.proto"))
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(s) for s in sources),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted((out / "roost" / "rpc").glob("*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="root of the tree to write")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path.relative_to(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
