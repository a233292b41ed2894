"""HTCondor 23.10's own submit translator, as a test oracle in a venv of its own.

``htcondor==23.10.29`` (the v1 bindings: ``htcondor.Submit(text).jobs(...)``) cannot sit in
the test suite's venv: the suite's ``htcondor==25.14.1`` (the ClassAd oracle) has the same
package name, 25.x's ``htcondor2.Submit.jobs`` is not implemented, and the checkout's own
``classad/`` package would shadow the bindings' ``classad``.  So the first test run makes
``.venv-condor23`` at the checkout's root (git ignores it) with ``python3 -m venv`` and
``pip install htcondor==23.10.29``, under a file lock so that pytest-xdist workers starting
together make it once; later runs reuse it.  The bindings are then only ever run as a
subprocess (``condor23_translate.py``), one per batch of cases.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import classad

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-condor23"
REQUIREMENT = "htcondor==23.10.29"
_SCRIPT = Path(__file__).with_name("condor23_translate.py")
_READY = VENV / "ready"  # written last: a venv without it is a half-made one


def python() -> Path:
    """The oracle venv's interpreter, made (once, whichever worker comes first) if need be."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.with_name(VENV.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _READY.exists():
            shutil.rmtree(VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", REQUIREMENT], check=True)
            _READY.write_text(REQUIREMENT + "\n")
    return VENV / "bin" / "python"


def translate(cases: list[tuple[Path, str]]) -> tuple[dict[str, str], list]:
    """HTCondor's job ads for each ``(directory, submit text)``: a list of roost ClassAds,
    or the error text where HTCondor refuses the file; with the environment the
    translator ran in (what ``getenv`` copies)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/home/alice",
           "LANG": "C.UTF-8", "ORACLE_MARK": "condor23", "CONDOR_CONFIG": "/dev/null"}
    payload = json.dumps([{"dir": str(d), "text": text} for d, text in cases])
    # -I: isolated, so neither the working directory nor PYTHON* variables reach imports.
    done = subprocess.run([str(python()), "-I", str(_SCRIPT)], input=payload, env=env,
                          capture_output=True, text=True, check=True)
    reply = json.loads(done.stdout)
    results = []
    for result in reply["results"]:
        if "error" in result:
            results.append(result["error"])
        else:
            results.append([classad.ClassAd(text) for text in result["ads"]])
    return reply["environ"], results
