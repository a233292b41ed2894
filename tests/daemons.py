"""Real ``roost matchmaker`` and ``roost schedd`` processes under a temporary roost home."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_gone(pid: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still running")


class Daemons:
    """Starts daemons as ``roost VERB`` (in the background, as a user would) and stops
    whatever is still running at the end."""

    def __init__(self, home: Path, database_url: str = "") -> None:
        self.home = home
        self.env = dict(os.environ, ROOST_HOME=str(home),
                        ROOST_MATCHMAKER_ADDRESS=f"127.0.0.1:{free_port()}")
        if database_url:
            self.env["ROOST_SCHEDD_DATABASE_URL"] = database_url
        self.pids: dict[str, int] = {}

    def start(self, verb: str, *args: str) -> int:
        started = subprocess.run([sys.executable, "-m", "roost", verb, *args], env=self.env,
                                 capture_output=True, text=True, timeout=60)
        assert started.returncode == 0, started.stderr
        pid = int((self.home / "run" / f"{verb}.pid").read_text())
        self.pids[verb] = pid
        return pid

    def kill(self, verb: str, signum: int = signal.SIGKILL) -> None:
        pid = self.pids.pop(verb)
        os.kill(pid, signum)
        wait_gone(pid)
        if signum == signal.SIGKILL:
            # A killed daemon leaves its pid file; the next start sees the pid is dead.
            assert (self.home / "run" / f"{verb}.pid").exists()

    def stop_all(self) -> None:
        for verb in list(self.pids):
            with contextlib.suppress(ProcessLookupError, AssertionError):
                self.kill(verb, signal.SIGTERM)
