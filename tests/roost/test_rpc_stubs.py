"""The committed gRPC stubs are exactly what scripts/gen_rpc.py makes from proto/."""

import importlib.util
import re
import tomllib
from pathlib import Path

import grpc
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_rpc", ROOT / "scripts" / "gen_rpc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stubs_are_current(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools is in the test extra")
    made = _generator().generate(tmp_path)
    committed = sorted((ROOT / "roost" / "rpc").glob("*_pb2*.py*"))
    assert [p.name for p in made] == [p.name for p in committed]
    for new, old in zip(made, committed, strict=True):
        assert new.read_bytes() == old.read_bytes(), f"{old.name} is stale: run scripts/gen_rpc.py"


def test_runtime_bounds_match_the_generator():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["test"]
    tools = next(d for d in deps if d.startswith("grpcio-tools=="))
    tools_version = tools.split("==")[1]
    stub = (ROOT / "roost" / "rpc" / "collector_pb2_grpc.py").read_text()
    assert f"GRPC_GENERATED_VERSION = '{tools_version}'" in stub
    assert f"grpcio>={tools_version}" in deps
    gencode = re.search(r"Protobuf Python Version: (\d+)\.(\d+)\.(\d+)",
                        (ROOT / "roost" / "rpc" / "collector_pb2.py").read_text())
    major, minor, patch = gencode.groups()
    assert f"protobuf>={major}.{minor}.{patch},<{int(major) + 1}" in deps
    def version(text):
        return tuple(int(part) for part in text.split(".")[:3])

    assert version(grpc.__version__) >= version(tools_version)
