"""A DAG node's course decided without a queue (``schedd.dag_node``): how its parts' ends
decide it, which ready nodes the throttles admit, and its scripts' command lines."""

from __future__ import annotations

from classad import ClassAd
from schedd.dag_node import (
    DONE,
    FAILED,
    READY,
    REMOVED_RETURN,
    Candidate,
    Rules,
    Script,
    admit,
    decide,
    job_return,
    script_argv,
)
from schedd.job_status import JobStatus


def test_success_is_done_and_failure_retries_until_they_run_out():
    assert decide(Rules(), True, 0, "job").phase == DONE
    assert decide(Rules(), False, 1, "job").phase == FAILED
    again = decide(Rules(max_retries=2, retries=1), False, 1, "job")
    assert (again.phase, again.reason) == (READY, "its job returned 1; retry 2 of 2")
    out = decide(Rules(max_retries=2, retries=2), False, 1, "POST script")
    assert (out.phase, out.reason) == (FAILED, "its POST script returned 1 after 2 retries")


def test_unless_exit_fails_at_once():
    out = decide(Rules(max_retries=5, unless_exit=3), False, 3, "job")
    assert (out.phase, out.reason) == (FAILED, "its job returned 3 (RETRY's UNLESS-EXIT)")
    assert decide(Rules(max_retries=5, unless_exit=3), False, 4, "job").phase == READY


def test_abort_dag_on_wins_over_retries_and_keeps_the_value_without_return():
    out = decide(Rules(max_retries=5, abort_value=2), False, 2, "PRE script")
    assert (out.phase, out.abort, out.dag_return) == (FAILED, True, 2)
    out = decide(Rules(abort_value=0, abort_return=7), True, 0, "job")
    assert (out.phase, out.abort, out.dag_return) == (DONE, True, 7)
    assert not decide(Rules(abort_value=2), False, 1, "job").abort


def job(status=JobStatus.COMPLETED, **attrs) -> ClassAd:
    return ClassAd({"JobStatus": int(status), "ExitBySignal": False, "ExitCode": 0, **attrs})


def test_job_return_is_the_first_failure_a_signal_or_a_removal():
    assert job_return([job(), job()]) == (True, 0)
    assert job_return([job(), job(ExitCode=4), job(ExitCode=5)]) == (False, 4)
    assert job_return([job(ExitBySignal=True, ExitSignal=9)]) == (False, -9)
    assert job_return([job(JobStatus.REMOVED)]) == (False, REMOVED_RETURN)


def test_admit_holds_each_throttle_and_a_full_category_keeps_back_only_its_own():
    ready = [Candidate(1, "big", 1), Candidate(2, "big", 1), Candidate(3, "", 1),
             Candidate(4, "small", 3), Candidate(5, "", 1)]
    free = {"under_way": 0, "idle": 0, "per_category": {}, "max_jobs": 0, "max_idle": 0}
    assert admit(ready, **free, limits={"big": 1}) == [1, 3, 4, 5]
    assert admit(ready, **{**free, "per_category": {"big": 1}}, limits={"big": 1}) == [3, 4, 5]
    assert admit(ready, **{**free, "max_jobs": 3, "under_way": 1}, limits={}) == [1, 2]
    # -maxidle counts procs: node 4's three fill it.
    assert admit(ready[2:], **{**free, "max_idle": 3}, limits={}) == [3, 4]
    assert admit(ready, **{**free, "max_idle": 2, "idle": 2}, limits={}) == []


def test_script_macros_are_whole_arguments():
    script = Script("post.sh", ("$JOB", "$RETURN", "x$JOB", "$RETRY"))
    assert script_argv(script, {"$JOB": "A", "$RETURN": -1002, "$RETRY": 1}) == [
        "post.sh", "A", "-1002", "x$JOB", "1"]


def test_a_script_survives_its_row_and_its_ad():
    script = Script("pre.sh", ("a", "b"), defer_status=4, defer_time=30,
                    debug_file="d.out", debug_type="ALL")
    assert Script.from_text(script.text()) == script
    assert Script.from_ad(script.ad()) == script
    assert Script.from_text("") is None and Script.from_ad(None) is None
