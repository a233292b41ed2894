"""startd.lifeline: a startd killed with SIGKILL takes its jobs with it, at once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from startd.starter import FAMILY_VARIABLE

# A stand-in for the startd: it starts its lifeline, then a "job" marked as its own (and a
# process marked as another startd's), prints their pids, and waits to be killed.
FAKE_STARTD = f"""
import os, subprocess, sys, time
from pathlib import Path
from startd import lifeline
execute = Path(sys.argv[1])
lifeline.start(execute)
(execute / f"dir_{{os.getpid()}}_1").mkdir()
mine = subprocess.Popen(["sleep", "300"],
                        env={{**os.environ, "{FAMILY_VARIABLE}": f"{{os.getpid()}}.1.secret"}})
other = subprocess.Popen(["sleep", "300"],
                         env={{**os.environ, "{FAMILY_VARIABLE}": "1.1.secret"}})
print(mine.pid, other.pid, flush=True)
time.sleep(300)
"""


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_the_jobs_of_a_killed_startd_die_with_it(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    startd = subprocess.Popen([sys.executable, "-c", FAKE_STARTD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})
    mine, other = (int(pid) for pid in startd.stdout.readline().split())
    try:
        assert psutil.pid_exists(mine)
        startd.send_signal(signal.SIGKILL)
        startd.wait()
        assert wait_gone(mine), "the killed startd's job still runs"
        assert not (tmp_path / f"dir_{startd.pid}_1").exists()
        assert psutil.Process(other).status() != psutil.STATUS_ZOMBIE  # not its job
    finally:
        for pid in (mine, other):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
