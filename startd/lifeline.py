"""The jobs' lifeline: when the startd dies, its jobs die with it.

A startd runs its jobs itself (``startd.starter``), so a startd killed with SIGKILL would
leave them running with nobody to report their end; its schedd, hearing nothing, puts them
back in the queue after the claim's lease and runs them elsewhere, and the orphan would run
beside its new copy.  HTCondor's starter ends a job whose shadow it cannot reach within the
lease; here a small process does it at once: started by the startd with the read end of a
pipe whose write end only the startd holds (not inheritable, so jobs do not keep it open),
it waits for end-of-file, which comes when the startd exits however it exits, and then kills
what is left of the startd's jobs (their processes carry the startd's pid in
``ROOST_JOB_ID``) and removes their sandboxes.  After a clean stop there is nothing left to
kill.

    python -m startd.lifeline STARTD_PID EXECUTE_DIR   (stdin: the pipe)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

# Rounds of killing: a job's process may fork between the scan of /proc and the kill.
_ROUNDS = 5


def start(execute_dir: Path) -> int:
    """Start this process's lifeline; returns the pipe's write end, to keep open for the
    whole life of the startd (it closes with the process)."""
    read_end, write_end = os.pipe()  # not inheritable: jobs never hold the write end
    subprocess.Popen([sys.executable, "-m", "startd.lifeline", str(os.getpid()),
                      str(execute_dir)], stdin=read_end, stdout=subprocess.DEVNULL,
                     start_new_session=True)  # signals to the startd's group spare it
    os.close(read_end)
    return write_end


def main(argv: list[str]) -> int:
    from startd.starter import kill_jobs_of

    startd_pid, execute_dir = int(argv[0]), Path(argv[1])
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    while os.read(0, 4096):
        pass
    for _ in range(_ROUNDS):
        if not kill_jobs_of(lambda pid: pid == startd_pid, execute_dir):
            break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
