"""startd.startd with real jobs: what a claim's schedd asks of its job (``control``):
suspend and continue the whole process family, vacate it with its KillSig and kill what
stays after its vacate time, and the claim ending with the vacated job."""

from __future__ import annotations

import signal
from pathlib import Path

from startd.startd import CONTINUE, SUSPEND, VACATE
from startd.states import Activity, State

from . import test_startd
from .test_startd import HOST, events_of, job, slot_named, wait_until

# test_startd's fixtures: a startd with two static slots, and the subreaper it needs.
make = test_startd.make
subreaper = test_startd.subreaper


def process_state(pid: int) -> str:
    """The state letter of /proc/PID/stat (R, S, T...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def started_family(startd, tmp_path: Path, script: str, after: str = "", **attributes):
    """Claim slot1 and run ``script`` after recording the pids of the shell and of a
    ``sleep`` child in tmp_path/pids, then wait for the child, then run ``after``;
    (claim id, run events, [pids])."""
    slot = slot_named(startd, f"slot1@{HOST}")
    claim_id = slot.claim_id
    assert startd.request_claim(claim_id, job(), lease=60).accepted
    pids = tmp_path / "pids"
    events = startd.activate(claim_id, job(
        f"{script}; sleep 300 & echo $$ $! > {pids}.new; mv {pids}.new {pids}; wait{after}",
        **attributes))
    wait_until(pids.exists)
    return claim_id, events, [int(pid) for pid in pids.read_text().split()]


def test_suspend_stops_the_whole_family_and_continue_resumes_it(make, tmp_path):
    startd = make()
    claim_id, events, pids = started_family(startd, tmp_path, "true")
    slot = slot_named(startd, f"slot1@{HOST}")
    assert startd.control(claim_id, SUSPEND) == ""
    assert slot.activity is Activity.SUSPENDED
    wait_until(lambda: all(process_state(pid) == "T" for pid in pids))
    assert startd.control(claim_id, CONTINUE) == ""
    assert slot.activity is Activity.BUSY
    wait_until(lambda: all(process_state(pid) in "RS" for pid in pids))
    assert startd.control(claim_id, CONTINUE) == ""  # running already: nothing to do
    assert startd.control("not-the-claim", SUSPEND) == "no claimed slot has this claim id"
    assert startd.release(claim_id)
    assert [event.kind for event in events_of(events)][-1] == "evicted"


def test_a_vacate_sends_the_jobs_kill_sig_and_ends_the_claim(make, tmp_path):
    startd = make()
    note = tmp_path / "note"
    # The signal goes to the whole family: the child may die of it first, and then the
    # shell's wait returns before the shell has run its trap, which it runs before its
    # next command or in the next wait.
    claim_id, events, pids = started_family(
        startd, tmp_path, f'trap "echo got-usr1 > {note}; exit 0" USR1', after="; sleep 30 & wait",
        KillSig="SIGUSR1")
    slot = slot_named(startd, f"slot1@{HOST}")
    assert startd.control(claim_id, VACATE) == ""
    assert (slot.state, slot.activity) in ((State.PREEMPTING, Activity.VACATING),
                                           (State.UNCLAIMED, Activity.IDLE))
    ended = events_of(events)[-1]
    assert (ended.kind, ended.attrs["Failure"]) == ("evicted", "evicted")
    assert note.read_text().strip() == "got-usr1"
    wait_until(lambda: (slot.state, slot.activity) == (State.UNCLAIMED, Activity.IDLE))
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert startd.control(claim_id, VACATE) == "no claimed slot has this claim id"


def test_a_job_that_ignores_its_soft_kill_is_killed_after_its_vacate_time(make, tmp_path):
    startd = make()
    claim_id, events, pids = started_family(startd, tmp_path, 'trap "" TERM',
                                            JobMaxVacateTime=1)
    assert startd.control(claim_id, VACATE) == ""
    ended = events_of(events, timeout=10)[-1]
    assert (ended.kind, ended.attrs["ExitSignal"]) == ("evicted", signal.SIGKILL)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_a_suspended_job_is_continued_to_take_its_soft_kill(make, tmp_path):
    startd = make()
    claim_id, events, pids = started_family(startd, tmp_path, "true")
    assert startd.control(claim_id, SUSPEND) == ""
    wait_until(lambda: all(process_state(pid) == "T" for pid in pids))
    assert startd.control(claim_id, VACATE) == ""
    ended = events_of(events)[-1]
    assert (ended.kind, ended.attrs["ExitSignal"]) == ("evicted", signal.SIGTERM)
