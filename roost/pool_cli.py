"""``roost pool up|status|down``: a personal pool as background daemons under the roost
home: the matchmaker, a schedd and N startds on this machine.

``up`` starts what is not running (so it also brings a pool back after a crash) and returns
once every daemon is serving and the slots are in the collector.  With several startds,
each offers an equal part of the machine and names its slots ``slotN@<host>-<i>``.
``down`` stops the startds first (their jobs are vacated and go back to Idle), then the
schedd, then the matchmaker.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from roost.errors import RoostError

# HTCondor's JobStatus numbers, as pool status words them.
_STATUS_WORDS = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held",
                 6: "transferring", 7: "suspended"}
STOP_TIMEOUT = 60.0  # seconds a daemon gets to stop before pool down gives up on it


@dataclass(frozen=True)
class Member:
    """One daemon of the pool: its file name (``startd-2``) and how to start it."""

    name: str
    verb: str
    arguments: tuple[str, ...] = ()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="roost pool", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the pool's daemons that are not running")
    up.add_argument("--startds", type=int, default=1, metavar="N",
                    help="how many startds (default 1; 0 for none, e.g. for glide-ins)")
    up.add_argument("--slots", metavar="N|partitionable",
                    help="each startd's slots (default: one partitionable slot)")
    up.add_argument("--policy", choices=("always", "desktop", "glidein"),
                    help="the startds' owner policy (default: always)")
    commands.add_parser("status", help="show the pool's daemons, slots and jobs")
    commands.add_parser("down", help="stop the pool's daemons")
    args = parser.parse_args(argv)
    if getattr(args, "startds", 0) < 0:
        parser.error("--startds must not be negative")

    from roost.config import load_config

    config = load_config()
    if args.command == "up":
        return _up(config, args)
    if args.command == "down":
        return _down(config)
    return _status(config)


def members(startds: int, slots: str | None = None,
            policy: str | None = None) -> list[Member]:
    """The pool's daemons, in the order they start."""
    import psutil

    found = [Member("matchmaker", "matchmaker"), Member("schedd", "schedd")]
    host = socket.getfqdn()
    shared: list[str] = []
    if slots:
        shared += ["--slots", slots]
    if policy:
        shared += ["--policy", policy]
    if startds == 1:
        found.append(Member("startd", "startd", tuple(shared)))
    else:
        cpus = max(1, len(os.sched_getaffinity(0)) // max(startds, 1))
        memory = max(128, psutil.virtual_memory().total // 2**20 // max(startds, 1))
        for i in range(1, startds + 1):
            found.append(Member(f"startd-{i}", "startd", (
                "--instance", str(i), "--name", f"{host}-{i}", "--cpus", str(cpus),
                "--memory", str(memory), *shared)))
    return found


def _running(config) -> dict[str, int]:
    """The pool's daemons that run now, by file name, with their pids."""
    from roost.daemon import running_pid

    run = config.home / "run"
    found = {}
    for path in sorted(run.glob("*.pid")) if run.is_dir() else []:
        pid = running_pid(path)
        if pid is not None:
            found[path.stem] = pid
    return found


def _up(config, args) -> int:
    running = _running(config)
    wanted = members(args.startds, args.slots, args.policy)
    for member in wanted:
        if member.name in running:
            print(f"{member.name} is running (pid {running[member.name]})")
            continue
        _start(member)
    slots = _wait_for_slots(config, {m.name for m in wanted if m.verb == "startd"})
    print(f"the pool is up: {slots} slot(s); submit with 'roost submit', watch with "
          f"'roost q' or 'roost wait'")
    return 0


def _start(member: Member) -> None:
    started = subprocess.run([sys.executable, "-m", "roost", member.verb, *member.arguments],
                             capture_output=True, text=True)
    if started.returncode != 0:
        raise RoostError(started.stderr.strip() or f"{member.name} did not start")
    print(started.stdout.strip())
    if started.stderr.strip():  # the daemon's warnings at start
        print(started.stderr.strip(), file=sys.stderr)


def _wait_for_slots(config, startds: set[str], timeout: float = 30.0) -> int:
    """How many slots the collector has once every startd has reported (each advertises
    before it says it is ready, so this rarely waits)."""
    from roost.client import Collector

    deadline = time.monotonic() + timeout
    with Collector(config=config, timeout=5.0) as collector:
        while True:
            ads = collector.query("Machine", projection=["Name"])
            if len(ads) >= len(startds) or time.monotonic() > deadline:
                return len(ads)
            time.sleep(0.1)


def _down(config) -> int:
    running = _running(config)
    if not running:
        print("no daemon of the pool is running")
        return 0
    order = sorted(running, key=lambda name: (not name.startswith("startd"),
                                              name == "matchmaker", name))
    for name in order:
        pid = running[name]
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        if _wait_gone(pid, STOP_TIMEOUT):
            print(f"{name} stopped (pid {pid})")
        else:
            print(f"{name} (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s",
                  file=sys.stderr)
    return 0


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _status(config) -> int:
    from roost.client import Collector, Schedd

    running = _running(config)
    run = config.home / "run"
    known = sorted({path.stem for path in run.glob("*.pid")} | set(running)) \
        if run.is_dir() else []
    if not known:
        print(f"no pool under {config.home} (start one with 'roost pool up')")
        return 1
    for name in known:
        state = f"running (pid {running[name]})" if name in running else "not running"
        address = _address(config.home, name)
        print(f"{name:<12} {state}{f' at {address}' if address else ''}")
    problems = [name for name in known if name not in running]
    try:
        with Collector(config=config, timeout=5.0) as collector:
            slots = collector.query("Machine", projection=["State"])
        states: dict[str, int] = {}
        for ad in slots:
            states[str(ad.eval("State"))] = states.get(str(ad.eval("State")), 0) + 1
        print(f"slots: {len(slots)} " + " ".join(f"{state.lower()} {count}"
                                                 for state, count in sorted(states.items())))
        with Schedd(config=config, timeout=5.0) as schedd:
            totals: dict[str, int] = {}
            for summary in schedd.summarize().clusters:
                totals["done"] = totals.get("done", 0) + summary.completed
                for status, count in summary.counts.items():
                    word = _STATUS_WORDS.get(status, str(status))
                    totals[word] = totals.get(word, 0) + count
        print("jobs: " + (" ".join(f"{word} {count}" for word, count in totals.items()
                                   if count) or "none in the queue"))
    except RoostError as error:
        print(f"cannot read the pool: {error}")
        return 1
    return 1 if problems else 0


def _address(home: Path, name: str) -> str:
    try:
        return (home / "run" / f"{name}.address").read_text().strip()
    except OSError:
        return ""
