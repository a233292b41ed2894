"""``roost wait``: its pure core with plain events, the JobEvents stream it follows, and the
command against a schedd served in-process (to finish jobs through the queue) and against
real daemons (for ``roost hold`` and ``roost rm``)."""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

import classad
from classad import ClassAd
from roost import cli
from roost.client import JobAction, Schedd
from roost.errors import RoostError
from roost.rpc import schedd_pb2, schedd_pb2_grpc
from roost.security import call_metadata
from roost.submit_description import complete_job_ad
from schedd import last_submit, wait_cli
from schedd.database import default_url
from schedd.job_queue import JobChange
from schedd.job_status import JobStatus
from schedd.lifecycle import Failure, JobExited, JobStarted
from schedd.service import SUBSCRIBED, _Subscribers
from schedd.wait_progress import (
    Counts,
    Finished,
    Follower,
    JobChanged,
    JobState,
    Throttle,
    failure_lines,
    progress_line,
    summary_line,
)

from ..daemons import Daemons

IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5
T = 1_700_000_000


# -- the pure core ---------------------------------------------------------------------------


@pytest.fixture
def follower():
    made = []

    def make(*names):
        made.append(Follower(names))
        return made[-1]

    yield make
    for one in made:
        one.validate()


def state(job_id, status, time=T, **attrs):
    return JobState(job_id, status, time, attrs)


def changed(job_id, status, time=T + 10, kind="", **attrs):
    return JobChanged(job_id, status, kind, time, attrs)


def test_a_finished_cluster_is_over_at_the_first_sync(follower):
    f = follower("5")
    assert not f.over and f.clusters == [5]
    finished = f.sync([], [state("5.0", COMPLETED, ExitCode=0),
                           state("5.1", COMPLETED, ExitCode=0)])
    assert [(x.job_id, x.ok) for x in finished] == [("5.0", True), ("5.1", True)]
    assert f.confirmed and f.exit_status() == 0
    assert f.counts == Counts(succeeded=2)


def test_events_move_the_counts_and_an_end_they_show_needs_a_sync(follower):
    f = follower("1")
    f.sync([state("1.0", IDLE), state("1.1", IDLE)], [])
    assert f.counts == Counts(idle=2) and not f.over
    assert f.handle(changed("1.0", RUNNING, kind="started")) == []
    assert f.counts == Counts(idle=1, running=1)
    (done,) = f.handle(changed("1.0", COMPLETED, kind="exited", ExitCode=0,
                               ExitBySignal=False))
    assert (done.job_id, done.ok, done.reason) == ("1.0", True, "exited with code 0")
    f.handle(changed("1.1", RUNNING))
    (bad,) = f.handle(changed("1.1", COMPLETED, ExitCode=3, ExitBySignal=False))
    assert (bad.ok, bad.reason) == (False, "exited with code 3")
    assert f.over and not f.confirmed  # events may be stale: the shell reads once more
    assert f.sync([], [state("1.1", COMPLETED, T + 10, ExitCode=3),
                       state("1.0", COMPLETED, T + 10, ExitCode=0)]) == []  # told already
    assert f.confirmed and f.exit_status() == 1
    assert f.counts == Counts(succeeded=1, failed=1)
    assert [x.job_id for x in f.failures()] == ["1.1"]


@pytest.mark.parametrize(("status", "attrs", "ok", "reason"), [
    (COMPLETED, {"ExitCode": 0, "ExitBySignal": False}, True, "exited with code 0"),
    (COMPLETED, {}, True, "completed"),
    (COMPLETED, {"ExitCode": 1}, False, "exited with code 1"),
    (COMPLETED, {"ExitBySignal": True, "ExitSignal": 9}, False, "killed by signal 9"),
    (COMPLETED, {"ExitCode": 3, "JobSuccessExitCode": 3}, True, "exited with code 3"),
    (COMPLETED, {"ExitCode": 0, "JobSuccessExitCode": 3}, False, "exited with code 0"),
    (REMOVED, {"RemoveReason": "via roost rm"}, False, "removed: via roost rm"),
    (HELD, {"HoldReason": "no input", "HoldReasonCode": 1}, False, "held: no input"),
    (HELD, {}, False, "held: no reason given"),
])
def test_how_a_job_ended(follower, status, attrs, ok, reason):
    f = follower("2.0")
    (finished,) = f.sync([], [state("2.0", status, **attrs)])
    assert (finished.ok, finished.reason) == (ok, reason)
    assert f.exit_status() == (0 if ok else 1)


def test_a_held_job_is_finished_until_it_is_released(follower):
    f = follower("3")
    f.sync([state("3.0", IDLE, JobSuccessExitCode=0), state("3.1", RUNNING)], [])
    (held,) = f.handle(changed("3.0", HELD, kind="hold", HoldReason="wait for data",
                               HoldReasonCode=1))
    assert held.reason == "held: wait for data"
    assert f.handle(changed("3.0", HELD, T + 11, HoldReason="by me")) == []  # still held
    assert f.handle(changed("3.0", IDLE, T + 12, kind="release")) == []
    assert f.counts == Counts(idle=1, running=1)
    f.handle(changed("3.1", COMPLETED, ExitCode=0))
    f.handle(changed("3.0", RUNNING, T + 13))
    (done,) = f.handle(changed("3.0", COMPLETED, T + 14, ExitCode=0))
    assert done.ok  # what it had while held is gone; JobSuccessExitCode stays
    assert done.attrs == {"JobSuccessExitCode": 0, "ExitCode": 0}
    assert f.over


def test_names_that_match_nothing_are_missing(follower):
    f = follower("7", "8.1", "8.5")
    f.sync([state("8.1", IDLE)], [state("8.0", COMPLETED)])
    assert f.missing == ["7", "8.5"]
    assert f.counts.total == 1  # 8.0 is not followed: only 8.1 was named of cluster 8


def test_the_queue_wins_over_the_history_and_the_newest_history(follower):
    f = follower("4")
    f.sync([state("4.0", IDLE, T + 50)],  # retried: back from its history
           [state("4.0", REMOVED, T + 40), state("4.1", COMPLETED, T + 30, ExitCode=0),
            state("4.1", REMOVED, T + 20)])
    assert f.counts == Counts(idle=1, succeeded=1)


def test_an_old_change_that_comes_again_is_not_told_twice(follower):
    f = follower("6")
    (first,) = f.sync([], [state("6.0", COMPLETED, T + 5, ExitCode=0)])
    assert first.ok
    # Committed before the read, delivered after it: the job seems to run again a moment.
    assert f.handle(changed("6.0", RUNNING, T + 1, kind="started")) == []
    assert not f.over
    assert f.handle(changed("6.0", COMPLETED, T + 5, kind="exited", ExitCode=0)) == []
    assert f.over


def test_events_of_other_jobs_and_submits_are_ignored(follower):
    f = follower("9.0")
    assert f.handle(changed("9.0", RUNNING)) == []  # before the first sync
    f.sync([state("9.0", IDLE), state("9.1", IDLE)], [])
    assert f.handle(changed("9.1", HELD)) == []
    assert f.handle(changed("9.*", IDLE, kind="submitted")) == []
    assert f.counts == Counts(idle=1)
    with pytest.raises(ValueError, match="not a JobStatus"):
        f.handle(changed("9.0", 42))


def test_timed_out_is_exit_status_2(follower):
    f = follower("1")
    f.sync([state("1.0", IDLE)], [])
    assert f.exit_status(timed_out=True) == 2


def test_progress_and_summary_lines():
    counts = Counts(idle=40, running=12, held=3, succeeded=45, failed=0)
    assert progress_line(counts) == (
        "[#######.........] 45/100 done  12 running  40 idle  3 held  0 failed")
    assert progress_line(Counts(succeeded=3)).startswith("[################] 3/3 done")
    failures = [Finished(f"1.{p}", JobStatus.COMPLETED, False, "exited with code 1", T, {})
                for p in range(12)]
    line = summary_line(Counts(succeeded=88, failed=12), failures)
    assert line == ("100 jobs: 88 succeeded, 12 failed, 0 held; failed or held: "
                    "1.0 1.1 1.2 1.3 1.4 1.5 1.6 1.7 1.8 1.9 and 2 more")
    assert summary_line(Counts(succeeded=1), []) == "1 job: 1 succeeded, 0 failed, 0 held"
    assert summary_line(Counts(idle=1, running=1), [], timed_out_after=2.5) == (
        "timed out after 2.5 s: 2 jobs, 0 done (0 failed), 1 running, 1 idle, 0 held")
    lines = failure_lines(failures)
    assert lines[0] == "Job 1.0 exited with code 1" and lines[-1] == "... and 2 more"
    assert len(lines) == 11


def test_the_json_record():
    held = Finished("2.1", JobStatus.HELD, False, "held: x", T,
                    {"HoldReason": "x", "HoldReasonCode": 1, "JobSuccessExitCode": 0})
    assert held.record() == {"JobId": "2.1", "JobStatus": 5, "Ok": False,
                             "Reason": "held: x", "Time": T, "HoldReason": "x",
                             "HoldReasonCode": 1}
    signalled = Finished("2.2", JobStatus.COMPLETED, False, "killed by signal 9", T,
                         {"ExitBySignal": True, "ExitSignal": 9})
    assert signalled.record()["ExitSignal"] == 9 and "ExitCode" not in signalled.record()


def test_the_throttle_shows_changes_at_most_once_an_interval():
    throttle = Throttle(1.0)
    one, two, three = Counts(idle=1), Counts(running=1), Counts(succeeded=1)
    assert throttle.due(one, 10.0)
    assert not throttle.due(one, 12.0)  # unchanged
    assert throttle.wake_at(one) is None
    assert throttle.due(two, 12.0)
    assert not throttle.due(three, 12.5)  # too soon: held back...
    assert throttle.wake_at(three) == 13.0  # ...until then
    assert throttle.due(three, 13.0)
    assert throttle.due(one, 13.1, force=True)
    throttle.forget()
    assert throttle.due(one, 13.2, force=True)


# -- the subscriber set ----------------------------------------------------------------------


def change(job_id, status=IDLE):
    return JobChange(job_id, status, "edited", T, {})


def test_a_commit_reaches_the_streams_of_its_clusters_only():
    subscribers = _Subscribers(max_streams=10, backlog=100)
    one, both, every = (subscribers.add(frozenset(c)) for c in ({1}, {1, 2}, set()))
    subscribers.publish([change("1.0"), change("2.0"), change("3.0")])
    assert [c.job_id for c in one.get(0)] == ["1.0"]
    assert [c.job_id for c in both.get(0)] == ["1.0", "2.0"]
    assert [c.job_id for c in every.get(0)] == ["1.0", "2.0", "3.0"]
    assert one.get(0) is None
    subscribers.remove(one)
    subscribers.publish([change("1.1")])
    assert one.get(0) is None and [c.job_id for c in both.get(0)] == ["1.1"]
    assert len(subscribers) == 2


def test_a_reader_that_falls_behind_is_cut_off_and_costs_nothing_more():
    subscribers = _Subscribers(max_streams=10, backlog=3)
    slow = subscribers.add(frozenset())
    subscribers.publish([change("1.0"), change("1.1")])
    subscribers.publish([change("1.2")])
    assert not slow.overflowed
    subscribers.publish([change("1.3")])  # 4 waiting > 3
    assert slow.overflowed and slow.get(0) is None
    assert len(subscribers) == 0  # dropped: later commits do not visit it
    # One batch bigger than the backlog still reaches a reader that keeps up.
    quick = subscribers.add(frozenset({1}))
    subscribers.publish([change(f"1.{p}") for p in range(10)])
    assert not quick.overflowed and len(quick.get(0)) == 10


def test_no_more_streams_than_allowed():
    subscribers = _Subscribers(max_streams=2, backlog=10)
    first = subscribers.add(frozenset({1}))
    assert subscribers.add(frozenset({2})) is not None
    assert subscribers.add(frozenset({3})) is None
    subscribers.remove(first)
    assert subscribers.add(frozenset({3})) is not None


def test_closing_wakes_a_waiting_stream():
    subscribers = _Subscribers(max_streams=2, backlog=10)
    waiting = subscribers.add(frozenset({1}))
    threading.Timer(0.1, waiting.close).start()
    started = time.monotonic()
    assert waiting.get(30) is None
    assert time.monotonic() - started < 10


# -- the stream over gRPC (an in-process schedd) ---------------------------------------------


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: what is tested here is the stream and the command, not the store."""
    return default_url(tmp_path)


def job(**attrs) -> ClassAd:
    ad = ClassAd({"Cmd": "/bin/true", "Arguments": "", **attrs})
    return complete_job_ad(ad, owner="alice", now=T, cwd=Path("/tmp"))


def stub(pool):
    return schedd_pb2_grpc.ScheddStub(pool.client().channel)


def subscribed(pool, count=1, seconds=10.0):
    """Wait until ``count`` event streams are open."""
    deadline = time.monotonic() + seconds
    while len(pool.service._subscribers) != count:
        assert time.monotonic() < deadline, f"never {count} event streams open"
        time.sleep(0.01)


def test_include_current_without_clusters_is_every_job(pool):
    with pool.client() as alice, pool.client("bob@pool") as bob:
        alice.submit_cluster(job(), [], 1)
        bob.submit_cluster(job(), [], 2)
        alice.act(JobAction.Hold, "1.0", "not yet")
    events = stub(pool).JobEvents(schedd_pb2.JobEventsRequest(include_current=True),
                                  metadata=call_metadata(pool.token()), timeout=20)
    assert SUBSCRIBED in tuple(events.initial_metadata())
    current = [next(events) for _ in range(3)]
    assert [(e.job_id, e.status, e.kind) for e in current] == [
        ("1.0", HELD, "current"), ("2.0", IDLE, "current"), ("2.1", IDLE, "current")]
    attrs = classad.ad_from_pairs((a.name, a.expr) for a in current[0].attrs.attrs)
    assert (attrs["HoldReason"], attrs["Owner"]) == ("not yet", "alice")
    assert current[0].time == T
    events.cancel()


def test_a_reader_that_falls_behind_gets_resource_exhausted(pool):
    pool.service._subscribers.backlog = 1
    events = stub(pool).JobEvents(schedd_pb2.JobEventsRequest(clusters=[1]),
                                  metadata=call_metadata(pool.token()), timeout=20)
    events.initial_metadata()
    subscribed(pool)
    for _ in range(2000):  # faster than the stream can send them
        pool.service._subscribers.publish([change("1.0")])
    with pytest.raises(grpc.RpcError) as caught:
        for _ in events:
            pass
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "fell more than 1 changes behind" in caught.value.details()
    subscribed(pool, 0)


def test_the_client_reconnects_after_falling_behind(pool):
    pool.service._subscribers.backlog = 1
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 1)
        events = alice.job_events([1], include_current=True)
        first = next(events)
        assert (first.job_id, first.kind) == ("", "subscribed")
        current = next(events)
        assert (current.job_id, current.kind) == ("1.0", "current")
        for _ in range(2000):
            pool.service._subscribers.publish([change("1.0")])
        kinds = []
        for event in events:
            kinds.append(event.kind)
            if event.kind == "subscribed":
                break
        assert kinds[-1] == "subscribed"  # opened again: read the jobs again now
        assert next(events).kind == "current"


def test_too_many_streams_are_refused_and_the_schedd_still_answers(pool):
    pool.service._subscribers.max_streams = 1
    with pool.client() as alice:
        first = alice.job_events([1])
        assert next(first).kind == "subscribed"
        with pytest.raises(RoostError, match="event streams open"):
            next(alice.job_events([2]))
        assert alice.submit_cluster(job(), [], 1).cluster() == 1
        first.close()


# -- roost wait against an in-process schedd -------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def shown(stream: io.StringIO, text: str, seconds: float = 10.0) -> None:
    """Wait until ``text`` has been written to ``stream`` (by roost wait's thread)."""
    deadline = time.monotonic() + seconds
    while text not in stream.getvalue():
        assert time.monotonic() < deadline, f"{text!r} never shown: {stream.getvalue()!r}"
        time.sleep(0.01)


def start_wait(pool, *args, err=None):
    """``roost wait ARGS`` in a thread; (thread, result) where result gets "status",
    "out" and "err" when it ends."""
    out, err = io.StringIO(), err if err is not None else io.StringIO()
    result: dict = {}

    def run():
        try:
            result["status"] = wait_cli.follow(pool.client(), wait_cli.parse(args), out, err)
        except Exception as error:
            result["error"] = error
        result["out"], result["err"] = out.getvalue(), err.getvalue()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def finish(thread, result, seconds=20):
    thread.join(seconds)
    assert not thread.is_alive(), "roost wait did not return"
    if "error" in result:
        raise result["error"]
    return result["status"], result["out"], result["err"]


def run(pool, job_id, exit_code=0, signal=None, at=T + 100):
    pool.jobs.job_started(job_id, JobStarted(host="node1", time=at))
    failure = Failure.SIGNAL if signal else Failure.NONE
    pool.jobs.job_exited(job_id, JobExited(time=at + 5, host="node1", failure=failure,
                                           exit_code=None if signal else exit_code,
                                           exit_signal=signal))


def test_all_succeed(pool):
    pool.client().submit_cluster(job(), [], 3)
    thread, result = start_wait(pool, "1")
    subscribed(pool)
    for proc in range(3):
        run(pool, f"1.{proc}")
    status, out, err = finish(thread, result)
    assert status == 0
    assert out == "3 jobs: 3 succeeded, 0 failed, 0 held\n"
    assert err.splitlines()[-1] == (
        "[################] 3/3 done  0 running  0 idle  0 held  0 failed")
    subscribed(pool, 0)  # roost wait closed its stream: the schedd lets it go


def test_a_non_zero_exit_and_a_signal_fail(pool):
    pool.client().submit_cluster(job(), [], 3)
    thread, result = start_wait(pool, "1", "-quiet")
    subscribed(pool)
    run(pool, "1.0")
    run(pool, "1.1", exit_code=2)
    run(pool, "1.2", signal=9)
    status, out, err = finish(thread, result)
    assert status == 1
    assert out.splitlines() == [
        "Job 1.1 exited with code 2",
        "Job 1.2 killed by signal 9",
        "3 jobs: 1 succeeded, 2 failed, 0 held; failed or held: 1.1 1.2",
    ]
    assert err == ""  # -quiet


def test_json_lines_as_jobs_finish(pool):
    pool.client().submit_cluster(job(), [], 2)
    thread, result = start_wait(pool, "1.1", "1.0", "-json")
    subscribed(pool)
    run(pool, "1.1", exit_code=1)
    run(pool, "1.0")
    status, out, err = finish(thread, result)
    assert status == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["JobId"], r["Ok"], r.get("ExitCode")) for r in records] == [
        ("1.1", False, 1), ("1.0", True, 0)]
    assert records[0]["Reason"] == "exited with code 1" and records[0]["JobStatus"] == 4
    assert err.splitlines()[-1] == "2 jobs: 1 succeeded, 1 failed, 0 held; failed or held: 1.1"


def test_a_cluster_that_already_finished_returns_at_once(pool):
    pool.client().submit_cluster(job(), [], 2)
    run(pool, "1.0")
    run(pool, "1.1")
    started = time.monotonic()
    thread, result = start_wait(pool, "1")
    status, out, _ = finish(thread, result)
    assert (status, out) == (0, "2 jobs: 2 succeeded, 0 failed, 0 held\n")
    assert time.monotonic() - started < 5


def test_a_held_job_ends_the_wait_with_its_reason(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 2)
        thread, result = start_wait(pool, "1")
        subscribed(pool)
        run(pool, "1.0")
        alice.act(JobAction.Hold, "1.1", "the input is missing")
    status, out, _ = finish(thread, result)
    assert status == 1
    assert out.splitlines() == [
        "Job 1.1 held: the input is missing",
        "2 jobs: 1 succeeded, 0 failed, 1 held; failed or held: 1.1"]


def test_timeout(pool):
    pool.client().submit_cluster(job(), [], 2)
    run(pool, "1.0")
    started = time.monotonic()
    thread, result = start_wait(pool, "1", "-timeout", "0.3")
    status, out, _ = finish(thread, result)
    assert status == 2
    assert out == ("timed out after 0.3 s: 2 jobs, 1 done (0 failed), 0 running, 1 idle, "
                   "0 held\n")
    assert time.monotonic() - started < 5


def test_progress_on_a_terminal_is_one_line_redrawn(pool):
    pool.client().submit_cluster(job(), [], 2)
    terminal = FakeTerminal()
    thread, result = start_wait(pool, "1", err=terminal)
    shown(terminal, "0/2 done")  # roost wait has read the jobs
    run(pool, "1.0")
    shown(terminal, "1/2 done")
    run(pool, "1.1", exit_code=1)
    status, _, err = finish(thread, result)
    assert status == 1
    assert err.startswith("\r[................] 0/2 done  0 running  2 idle")
    assert err.count("\n") == 1 and err.endswith("\n")  # the line ends once, at the end
    drawn = err.rstrip("\n").split("\r")[1:]
    assert drawn[-1] == "[################] 2/2 done  0 running  0 idle  0 held  1 failed"
    assert len(drawn) >= 2


def test_without_names_it_follows_the_callers_jobs_in_the_queue(pool):
    with pool.client() as alice, pool.client("bob@pool") as bob:
        alice.submit_cluster(job(), [], 1)
        bob.submit_cluster(job(), [], 1)  # not alice's: not waited for
        alice.submit_cluster(job(), [], 1)
        thread, result = start_wait(pool)
        subscribed(pool)
        run(pool, "1.0")
        run(pool, "3.0")
        status, out, _ = finish(thread, result)
    assert (status, out) == (0, "2 jobs: 2 succeeded, 0 failed, 0 held\n")


def test_without_names_a_cluster_is_followed_whole(pool):
    """A job of the cluster that failed before roost wait began is a failure of the wait."""
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 3)
        run(pool, "1.0", exit_code=3)  # in the history before the wait starts
        thread, result = start_wait(pool, "-quiet")
        subscribed(pool)
        run(pool, "1.1")
        run(pool, "1.2")
    status, out, _ = finish(thread, result)
    assert status == 1
    assert out.splitlines() == ["Job 1.0 exited with code 3",
                                "3 jobs: 2 succeeded, 1 failed, 0 held; failed or held: 1.0"]


def test_without_names_the_last_submit_is_followed_with_the_clusters_in_the_queue(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 1)  # still in the queue
        alice.submit_cluster(job(), [], 2)
    last_submit.record(pool.config.home, 2, "alice")
    run(pool, "2.0")
    run(pool, "2.1", signal=9)  # cluster 2 has left the queue before the wait
    thread, result = start_wait(pool, "-quiet")
    subscribed(pool)
    run(pool, "1.0")
    status, out, _ = finish(thread, result)
    assert status == 1
    assert out.splitlines() == ["Job 2.1 killed by signal 9",
                                "3 jobs: 2 succeeded, 1 failed, 0 held; failed or held: 2.1"]


def test_the_last_submit_of_someone_else_or_of_a_gone_cluster_is_nothing_to_wait_for(pool):
    with pool.client("bob@pool") as bob:
        bob.submit_cluster(job(), [], 1)
    run(pool, "1.0", exit_code=1)
    last_submit.record(pool.config.home, 1, "bob")  # bob's token, used from this home
    thread, result = start_wait(pool)
    assert finish(thread, result)[:2] == (0, "You have no jobs in the queue to wait for.\n")
    last_submit.record(pool.config.home, 9, "alice")  # in neither the queue nor the history
    thread, result = start_wait(pool)
    assert finish(thread, result)[:2] == (0, "You have no jobs in the queue to wait for.\n")


def test_the_record_of_the_last_submit(tmp_path):
    assert last_submit.last_cluster(tmp_path, "alice") is None
    last_submit.record(tmp_path, 4, "alice")
    last_submit.record(tmp_path, 5, "alice")
    assert last_submit.last_cluster(tmp_path, "alice") == 5
    assert last_submit.last_cluster(tmp_path, "bob") is None
    assert [p.name for p in tmp_path.iterdir()] == [last_submit.NAME]  # nothing half-written
    last_submit.path(tmp_path).write_text("5\n")
    assert last_submit.last_cluster(tmp_path, "alice") is None
    (tmp_path / "file").write_text("")
    with pytest.raises(RoostError, match="cannot record the submit"):
        last_submit.record(tmp_path / "file", 6, "alice")


def test_nothing_to_wait_for(pool):
    thread, result = start_wait(pool)
    assert finish(thread, result)[:2] == (0, "You have no jobs in the queue to wait for.\n")
    pool.client().submit_cluster(job(), [], 1)
    thread, result = start_wait(pool, "1", "2", "1.5")
    with pytest.raises(RoostError, match=r"^1.5, 2: no such job") as caught:
        finish(thread, result)
    assert caught.value.exit_code == 2


def test_through_the_dispatcher(pool, monkeypatch, capsys):
    pool.client().submit_cluster(job(), [], 1)
    run(pool, "1.0", exit_code=4)
    monkeypatch.setattr(wait_cli, "connect", pool.client)
    assert cli.main(["wait", "1"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "Job 1.0 exited with code 4"


@pytest.mark.parametrize(("args", "message"), [
    (["x"], "not a cluster or job id: 'x'"),
    (["1", "-timeout", "soon"], "-timeout needs a number of seconds"),
    (["1", "-timeout", "0"], "greater than 0"),
    (["1", "-bogus"], "unknown option '-bogus'"),
])
def test_usage_errors_exit_2(capsys, args, message):
    assert cli.main(["wait", *args]) == 2
    assert message in capsys.readouterr().err


def test_help(capsys):
    assert cli.main(["wait", "-help"]) == 0
    assert capsys.readouterr().out.startswith("usage: roost wait")


def test_options_are_htcondors():
    options = wait_cli.parse(["--json", "-q", "-t", "5", "12", "13.4"])
    assert (options.json, options.quiet, options.timeout, options.names) == (
        True, True, 5.0, ["12", "13.4"])


# -- roost wait against real daemons ---------------------------------------------------------


@pytest.fixture
def daemons(tmp_path, monkeypatch):
    started = Daemons(tmp_path / "home")
    (tmp_path / "home").mkdir()
    started.start("matchmaker")
    started.start("schedd")
    for name, value in started.env.items():
        if name.startswith("ROOST_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    yield started
    started.stop_all()


def roost(*args: str, **options) -> subprocess.Popen:
    """``roost ARGS`` as a user runs it, in the test's roost home and directory."""
    return subprocess.Popen([sys.executable, "-m", "roost", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)


def first_line(stream, seconds: float = 20.0) -> str:
    """The first line written to ``stream``, within ``seconds``."""
    lines: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=seconds)
    except queue.Empty:
        raise AssertionError(f"nothing written within {seconds} s") from None


def test_hold_and_rm_with_real_daemons(daemons, tmp_path, capsys):
    (tmp_path / "j.ad").write_text('Cmd = "/bin/true"\n')
    assert cli.main(["submit", "j.ad", "-queue", "3"]) == 0
    capsys.readouterr()
    waiting = roost("wait", "1")
    # The first progress line: roost wait has subscribed and read the jobs.
    assert first_line(waiting.stderr).startswith("[................] 0/3 done")
    with Schedd() as schedd:
        schedd.act(JobAction.Hold, "1.0", "data not staged")
        schedd.act(JobAction.Remove, ["1.1", "1.2"], "not needed")
    out, _ = waiting.communicate(timeout=20)
    assert waiting.returncode == 1
    assert out.splitlines() == [
        "Job 1.0 held: data not staged",
        "Job 1.1 removed: not needed",
        "Job 1.2 removed: not needed",
        "3 jobs: 0 succeeded, 2 failed, 1 held; failed or held: 1.0 1.1 1.2"]
    # Removed jobs are in the history: waiting for them again ends at once.
    assert cli.main(["rm", "1.0"]) == 0
    capsys.readouterr()
    started = time.monotonic()
    assert cli.main(["wait", "1", "-json"]) == 1
    out, err = capsys.readouterr()
    assert time.monotonic() - started < 5
    assert [json.loads(line)["JobStatus"] for line in out.splitlines()] == [3, 3, 3]
    assert err.splitlines()[-1] == "3 jobs: 0 succeeded, 3 failed, 0 held; failed or held: " \
        "1.0 1.1 1.2"


def test_timeout_with_real_daemons(daemons, tmp_path, capsys):
    (tmp_path / "j.ad").write_text('Cmd = "/bin/true"\n')
    assert cli.main(["submit", "j.ad"]) == 0
    capsys.readouterr()
    started = time.monotonic()
    assert cli.main(["wait", "-timeout", "1.5"]) == 2  # no startd: it stays idle
    out, err = capsys.readouterr()
    assert time.monotonic() - started < 10
    assert out == "timed out after 1.5 s: 1 job, 0 done (0 failed), 0 running, 1 idle, 0 held\n"
    assert err.splitlines() == ["[................] 0/1 done  0 running  1 idle  0 held  0 failed"]


# -- bare roost wait in a pool that runs the jobs --------------------------------------------


@pytest.fixture
def running_pool(tmp_path, monkeypatch):
    """A matchmaker, a schedd and a startd of eight slots, under a roost home of the test's;
    the test's directory is the user's."""
    started = Daemons(tmp_path / "home")
    (tmp_path / "home").mkdir()
    started.env["ROOST_MATCHMAKER_NEGOTIATOR_INTERVAL"] = "2"
    if os.geteuid() == 0:  # as root the startd runs jobs as root rather than refuse them
        started.env["ROOST_STARTD_RUN_AS"] = "root"
    for name, value in started.env.items():
        if name.startswith("ROOST_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    started.start("matchmaker")
    started.start("schedd")
    started.start("startd", "--cpus", "8", "--memory", "4096", "--slots", "8")
    yield started
    started.stop_all()


def sweep(count: int, failing: int) -> str:
    """A submit description of ``count`` jobs of which proc ``failing`` exits with 3."""
    return ("executable = /bin/sh\n"
            f"arguments = \"-c 'test $(Process) -ne {failing} || exit 3'\"\n"
            f"queue {count}\n")


def submitted(description: str) -> int:
    """``roost submit`` of ``description`` (as a file); its cluster."""
    Path("jobs.sub").write_text(description)
    submit = roost("submit", "jobs.sub", "-json")
    out, err = submit.communicate(timeout=60)
    assert submit.returncode == 0, err
    return json.loads(out)["ClusterId"]


def left_the_queue(constraint: str, count: int, seconds: float = 120.0) -> None:
    """Wait until ``count`` jobs matching ``constraint`` are in the history."""
    deadline = time.monotonic() + seconds
    with Schedd() as schedd:
        while len(list(schedd.history(constraint, ["ProcId"]))) < count:
            assert time.monotonic() < deadline, f"never {count} jobs of {constraint} done"
            time.sleep(0.1)


def bare_wait() -> tuple[int, list[str]]:
    """``roost wait -quiet`` with no job named: its exit status and standard output."""
    waiting = roost("wait", "-quiet")
    out, err = waiting.communicate(timeout=180)
    assert err == ""
    return waiting.returncode, out.splitlines()


def test_a_job_that_failed_before_roost_wait_began_fails_it(running_pool):
    cluster = submitted(sweep(1000, failing=7))
    left_the_queue(f"ClusterId == {cluster} && ProcId == 7", 1)
    assert bare_wait() == (1, [f"Job {cluster}.7 exited with code 3",
                               f"1000 jobs: 999 succeeded, 1 failed, 0 held; failed or held: "
                               f"{cluster}.7"])


def test_a_cluster_that_ended_before_roost_wait_is_the_last_submit(running_pool):
    first = submitted(sweep(20, failing=3))
    left_the_queue(f"ClusterId == {first}", 20)
    with Schedd() as schedd:
        assert schedd.query() == []  # nothing of the user's left in the queue
    assert bare_wait() == (1, [f"Job {first}.3 exited with code 3",
                               f"20 jobs: 19 succeeded, 1 failed, 0 held; failed or held: "
                               f"{first}.3"])
    # The next submit is the last one: the first cluster's failure is not this one's.
    second = submitted(sweep(20, failing=20))
    left_the_queue(f"ClusterId == {second}", 20)
    assert bare_wait() == (0, ["20 jobs: 20 succeeded, 0 failed, 0 held"])
