#!/usr/bin/env python3
"""Generate classad/_parsetab.py, the ClassAd grammar's LALR tables, so that no process
builds them again: ply builds them from the grammar in a fifth of a second, which every
``roost`` command (and every thread's parser) would otherwise pay.

``--out DIR`` writes the module somewhere else (the test that checks the committed tables
are the grammar's uses it).  Run it after any change to classad/_grammar.py's rules: until
then the parser still works, building the tables itself at each start (ply compares the
grammar's signature with the module's).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classad._grammar import TABLES, Grammar  # noqa: E402


def generate(out: Path) -> Path:
    import ply.yacc

    out.mkdir(parents=True, exist_ok=True)
    # ply writes tables only when it cannot read current ones: the committed module is
    # hidden from it (None in sys.modules makes its import fail) while it builds them.
    hidden = sys.modules.get(TABLES)
    sys.modules[TABLES] = None
    try:
        ply.yacc.yacc(module=Grammar.__new__(Grammar), tabmodule=TABLES.rpartition(".")[2],
                      outputdir=str(out), write_tables=True, debug=False,
                      errorlog=ply.yacc.NullLogger())
    finally:
        if hidden is None:
            sys.modules.pop(TABLES, None)
        else:
            sys.modules[TABLES] = hidden
    return out / f"{TABLES.rpartition('.')[2]}.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "classad")
    print(generate(parser.parse_args().out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
