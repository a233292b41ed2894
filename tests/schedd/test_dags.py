"""DAGs in the schedd: ``roost dag submit|status|rm`` against a schedd on a free port, and
the queue moving nodes on as their jobs, their scripts' ends and the throttles say.  Jobs
are run by telling the queue they started and exited (no startd); scripts' ends are told
to the DAG queue as its script runner would (``DagQueue.script_ended``)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from roost import cli
from schedd.job_status import JobStatus
from schedd.lifecycle import Failure, JobExited, JobStarted
from schedd.reschedule import Rescheduler

WAIT, IDLE, DONE, GONE = (JobStatus.WAITING, JobStatus.IDLE, JobStatus.COMPLETED,
                          JobStatus.REMOVED)
SUBMIT = "executable = /bin/true\narguments = $(node)\nqueue\n"


class Dags:
    """The schedd under test, DAG files in a directory, and the CLI talking as alice."""

    def __init__(self, pool, directory: Path, capsys) -> None:
        self.pool, self.directory, self.capsys = pool, directory, capsys
        self.dags = pool.service.dags

    def roost(self, *args: str) -> tuple[int, str, str]:
        status = cli.main(list(args))
        out, err = self.capsys.readouterr()
        return status, out, err

    def submit(self, text: str, *options: str, name: str = "test.dag") -> tuple[int, dict]:
        """Write the DAG file (each JOB's submit file too, if absent) and submit it: the DAG
        id and the nodes' clusters by name."""
        path = self.directory / name
        path.write_text(text)
        for line in text.splitlines():
            words = line.split()
            if words and words[0].upper() == "JOB" and not (self.directory / words[2]).exists():
                (self.directory / words[2]).write_text(SUBMIT)
        status, out, err = self.roost("dag", "submit", "-json", *options, str(path))
        assert status == 0, err
        found = json.loads(out)
        return found["DAGManJobId"], found["Nodes"]

    def job(self, cluster: int, proc: int = 0):
        """The job's ad in the queue, else its latest in the history."""
        constraint = f"ClusterId == {cluster} && ProcId == {proc}"
        for ad in self.pool.jobs.query(constraint):
            return ad
        return next(self.pool.jobs.history(constraint))

    def status(self, cluster: int, proc: int = 0) -> JobStatus:
        return JobStatus(self.job(cluster, proc).eval("JobStatus"))

    def run(self, cluster: int, code: int = 0, proc: int = 0) -> None:
        job_id = f"{cluster}.{proc}"
        now = self.pool.jobs.now()
        self.pool.jobs.job_started(job_id, JobStarted("host", now))
        self.pool.jobs.job_exited(job_id, JobExited(now, "host", Failure.NONE, exit_code=code))

    def phases(self, dag_id: int) -> dict[str, str]:
        _dag, nodes = self.dags.view(dag_id)
        return {ad.eval("DAGNodeName"): ad.eval("Phase") for ad in nodes}

    def dag(self, dag_id: int):
        """The DAG's ad, as ``roost dag status`` reads it."""
        with self.pool.client() as schedd:
            return schedd.dag_status(dag_id)[0]


@pytest.fixture
def dags(pool, tmp_path, monkeypatch, capsys):
    token = tmp_path / "alice.token"
    token.write_text(pool.token("alice@pool"))
    monkeypatch.setenv("ROOST_HOME", str(tmp_path))
    monkeypatch.setenv("ROOST_SCHEDD_ADDRESS", pool.address)
    monkeypatch.setenv("ROOST_SECURITY_TOKEN_FILE", str(token))
    directory = tmp_path / "dag"
    directory.mkdir()
    return Dags(pool, directory, capsys)


DIAMOND = """\
JOB A a.sub
JOB B b.sub
JOB C c.sub
JOB D d.sub
PARENT A CHILD B C
PARENT B C CHILD D
"""


def test_submit_prints_the_node_count_and_the_dag_id(dags):
    (dags.directory / "test.dag").write_text(DIAMOND)
    for name in "abcd":
        (dags.directory / f"{name}.sub").write_text(SUBMIT)
    status, out, err = dags.roost("dag", "submit", str(dags.directory / "test.dag"))
    assert (status, err) == (0, "")
    assert out.startswith("4 node(s) submitted as DAG ") and out.endswith(".\n")
    dag_id = int(out.split()[-1].rstrip("."))
    ads = {ad.eval("DAGNodeName"): ad for ad in dags.pool.jobs.query(f"DAGManJobId == {dag_id}")}
    assert set(ads) == set("ABCD")
    assert {name: ad.eval("JobStatus") for name, ad in ads.items()} == {
        "A": IDLE, "B": WAIT, "C": WAIT, "D": WAIT}
    assert ads["A"].eval("JobBatchName") == f"test.dag+{dag_id}"
    assert ads["A"].eval("Owner") == "alice"


def test_the_diamond_runs_parents_before_children_and_succeeds(dags):
    dag_id, nodes = dags.submit(DIAMOND)
    a, b, c, d = (nodes[n] for n in "ABCD")
    dags.run(a)
    assert (dags.status(b), dags.status(c), dags.status(d)) == (IDLE, IDLE, WAIT)
    dags.run(b)
    assert dags.status(d) == WAIT
    dags.run(c)
    assert dags.status(d) == IDLE
    assert dags.dag(dag_id).eval("DAGStatus") == "running"
    dags.run(d)
    assert dags.phases(dag_id) == dict.fromkeys("ABCD", "done")
    dag = dags.dag(dag_id)
    assert (dag.eval("DAGStatus"), dag.eval("ReturnValue")) == ("succeeded", 0)
    assert dags.job(d).eval("DAGParentNodeNames") in ("B,C", "C,B")


def test_a_released_node_asks_for_a_negotiation_cycle_as_a_submitted_job_does(dags):
    _, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nPARENT A CHILD B\n")
    told = []
    dags.pool.jobs.listen(told.append)
    dags.run(nodes["A"])
    assert [(e.job_id, e.kind) for batch in told for e in batch if e.status == IDLE] == [
        (f"{nodes['B']}.0", "released")]
    asked = threading.Event()
    rescheduler = Rescheduler(lambda: None, asked.set)  # the schedd's listener
    try:
        for batch in told:
            rescheduler.changed(batch)
        assert asked.wait(10)
    finally:
        rescheduler.stop()


def test_a_failure_blocks_one_branch_while_the_other_completes(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\nJOB D d.sub\n"
                                "PARENT A CHILD B\nPARENT C CHILD D\n")
    dags.run(nodes["A"], code=3)
    assert dags.status(nodes["B"]) == GONE
    assert dags.phases(dag_id) == {"A": "failed", "B": "blocked", "C": "queued",
                                   "D": "waiting"}
    dags.run(nodes["C"])
    dags.run(nodes["D"])
    assert dags.phases(dag_id)["D"] == "done"
    dag = dags.dag(dag_id)
    assert (dag.eval("DAGStatus"), dag.eval("ReturnValue")) == ("failed", 1)
    status, out, _ = dags.roost("dag", "status", str(dag_id))
    assert status == 0
    assert f"DAG {dag_id} (test.dag+{dag_id}" in out and "failed, return value 1" in out
    assert "2 done" in out and "1 failed" in out and "1 blocked" in out
    assert f"failed: A (cluster {nodes['A']}): its job returned 3" in out
    assert "  blocked behind it: B" in out


def test_retry_runs_a_failed_node_again_unless_its_exit_says_not(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\nPARENT A CHILD C\n"
                                "RETRY A 2\nRETRY B 5 UNLESS-EXIT 7\n")
    a, b = nodes["A"], nodes["B"]
    dags.run(a, code=1)
    assert dags.status(a) == IDLE and dags.status(nodes["C"]) == WAIT
    dags.run(a, code=0)  # the second time
    assert dags.status(nodes["C"]) == IDLE
    dags.run(b, code=7)
    _, ads = dags.dags.view(dag_id)
    node_b = next(ad for ad in ads if ad.eval("DAGNodeName") == "B")
    assert (node_b.eval("Phase"), node_b.eval("Retries")) == ("failed", 0)
    assert node_b.eval("Reason") == "its job returned 7 (RETRY's UNLESS-EXIT)"
    node_a = next(ad for ad in ads if ad.eval("DAGNodeName") == "A")
    assert (node_a.eval("Phase"), node_a.eval("Retries")) == ("done", 1)
    assert dags.job(a).eval("NumJobStarts") == 2


def test_retries_run_out(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nRETRY A 1\n")
    dags.run(nodes["A"], code=2)
    dags.run(nodes["A"], code=2)
    _, (node,) = dags.dags.view(dag_id)
    assert (node.eval("Phase"), node.eval("Reason")) == (
        "failed", "its job returned 2 after 1 retries")
    assert dags.dag(dag_id).eval("DAGStatus") == "failed"


def test_pre_and_post_scripts_decide_the_node(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nPARENT A CHILD B\n"
                                "SCRIPT PRE A pre.sh $JOB\nSCRIPT POST A post.sh $RETURN\n"
                                "SCRIPT POST B post.sh $RETURN\n")
    a, b = nodes["A"], nodes["B"]
    assert dags.phases(dag_id)["A"] == "pre" and dags.status(a) == WAIT
    due = [(row.cluster_id, row.phase) for row in dags.dags.scripts_due()]
    assert due == [(a, "pre")]
    assert dags.dags.script_ended(a, "pre", 0)
    assert dags.status(a) == IDLE
    dags.run(a, code=5)  # the job failed, but its POST script decides
    assert dags.phases(dag_id)["A"] == "post"
    assert dags.status(a) == DONE and dags.job(a).eval("DAGPostPending") is True
    assert dags.status(b) == WAIT
    assert not dags.dags.script_ended(a, "pre", 0)  # stale news changes nothing
    assert dags.dags.script_ended(a, "post", 0)
    assert dags.phases(dag_id)["A"] == "done" and dags.status(b) == IDLE
    ad = dags.job(a)
    assert (ad.eval("DAGNodeSuccess"), ad.eval("DAGPostReturn")) == (True, 0)
    _, ads = dags.dags.view(dag_id)
    assert ads[0].eval("ReturnValue") == 0
    dags.run(b, code=0)
    dags.dags.script_ended(b, "post", 4)  # a POST script fails a node whose job succeeded
    assert dags.phases(dag_id)["B"] == "failed"
    assert dags.job(b).eval("DAGNodeSuccess") is False
    assert dags.dag(dag_id).eval("DAGStatus") == "failed"


def test_a_failed_pre_script_fails_the_node_without_running_its_job(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nPARENT A CHILD B\n"
                                "SCRIPT PRE A pre.sh\n")
    dags.dags.script_ended(nodes["A"], "pre", 3)
    assert dags.phases(dag_id) == {"A": "failed", "B": "blocked"}
    ad = dags.job(nodes["A"])
    assert (ad.eval("JobStatus"), ad.eval("NumJobStarts")) == (GONE, 0)
    assert "its PRE script returned 3" in ad.eval("RemoveReason")


def test_a_failed_pre_script_with_retries_runs_again_before_the_job(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nSCRIPT PRE A pre.sh\nRETRY A 1\n")
    dags.dags.script_ended(nodes["A"], "pre", 1)
    assert dags.phases(dag_id)["A"] == "pre" and dags.status(nodes["A"]) == WAIT
    dags.dags.script_ended(nodes["A"], "pre", 0)
    assert dags.status(nodes["A"]) == IDLE


def test_pre_skip_noop_and_done_succeed_without_running(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub NOOP\nJOB C c.sub DONE\n"
                                "JOB D d.sub\nPARENT A B C CHILD D\nSCRIPT PRE A pre.sh\n"
                                "PRE_SKIP A 2\nSCRIPT POST A post.sh\n")
    assert dags.phases(dag_id)["C"] == "done" and dags.phases(dag_id)["B"] == "done"
    dags.dags.script_ended(nodes["A"], "pre", 2)
    assert dags.phases(dag_id) == {"A": "done", "B": "done", "C": "done", "D": "queued"}
    for name, why in (("A", "PRE_SKIP"), ("B", "NOOP"), ("C", "DONE")):
        ad = dags.job(nodes[name])
        assert (ad.eval("JobStatus"), ad.eval("NumJobStarts"), ad.eval("DAGNodeSkipped")) == (
            DONE, 0, why)
    assert dags.status(nodes["D"]) == IDLE


def test_abort_dag_on_stops_the_dag_whatever_the_retries(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\nPARENT A CHILD C\n"
                                "RETRY A 3\nABORT-DAG-ON A 9 RETURN 4\n")
    dags.run(nodes["A"], code=9)
    dag = dags.dag(dag_id)
    assert (dag.eval("DAGStatus"), dag.eval("ReturnValue")) == ("aborted", 4)
    assert "node A its job returned 9: ABORT-DAG-ON" in dag.eval("Reason")
    assert dags.phases(dag_id) == {"A": "failed", "B": "aborted", "C": "aborted"}
    assert dags.status(nodes["B"]) == GONE and dags.status(nodes["C"]) == GONE
    assert dags.job(nodes["A"]).eval("NumJobStarts") == 1


def test_a_category_throttle_and_maxjobs_hold_as_nodes_end(dags):
    text = "".join(f"JOB N{i} n.sub\nCATEGORY N{i} big\n" for i in range(5))
    dag_id, nodes = dags.submit(text + "JOB X x.sub\nJOB Y y.sub\nMAXJOBS big 2\n")
    def idle() -> set[str]:
        return {name for name, cluster in nodes.items() if dags.status(cluster) == IDLE}
    assert idle() == {"N0", "N1", "X", "Y"}  # the category alone holds the others back
    for step in range(3):
        dags.run(nodes[f"N{step}"])
        assert len(idle() & {f"N{i}" for i in range(5)}) == min(2, 4 - step)
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\n", "-maxjobs", "1",
                                name="max.dag")
    assert idle() == {"A"}
    dags.run(nodes["A"])
    assert idle() == {"B"}


def test_maxidle_counts_idle_jobs_and_a_start_makes_room(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\n", "-maxidle", "1")
    statuses = [dags.status(nodes[n]) for n in "ABC"]
    assert statuses == [IDLE, WAIT, WAIT]
    dags.pool.jobs.job_started(f"{nodes['A']}.0", JobStarted("host", dags.pool.jobs.now()))
    assert dags.status(nodes["B"]) == IDLE and dags.status(nodes["C"]) == WAIT


def test_priority_orders_ready_nodes_under_a_throttle(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\nPRIORITY C 10\n",
                                "-maxjobs", "1")
    assert dags.status(nodes["C"]) == IDLE and dags.status(nodes["A"]) == WAIT
    assert dags.job(nodes["C"]).eval("JobPrio") == 10


def test_vars_reach_the_job_and_macros_the_submit_file(dags):
    (dags.directory / "v.sub").write_text("executable = /bin/echo\narguments = $(state)\n"
                                          "+Where = \"$(state)\"\nqueue 2\n")
    dag_id, nodes = dags.submit('JOB A v.sub\nVARS A state="Wisconsin"\n')
    ads = [dags.job(nodes["A"], proc) for proc in (0, 1)]
    assert [ad.eval("Where") for ad in ads] == ["Wisconsin", "Wisconsin"]
    assert ads[0].eval("DAGNodeName") == "A" and ads[1].eval("DAGManJobId") == dag_id
    dags.run(nodes["A"], proc=0)
    assert dags.phases(dag_id)["A"] == "queued"  # the node waits for its whole cluster
    dags.run(nodes["A"], proc=1)
    assert dags.phases(dag_id)["A"] == "done"


def test_a_nodes_submit_file_knows_the_node_as_job(dags):
    (dags.directory / "j.sub").write_text('executable = /bin/true\n+Node = "$(JOB)"\n'
                                          "output = $(JOB).out\nqueue\n")
    dag_id, nodes = dags.submit("JOB A j.sub\nJOB B j.sub\n")
    assert [dags.job(nodes[n]).eval("Node") for n in "AB"] == ["A", "B"]
    assert dags.job(nodes["B"]).eval("Out") == "B.out"


def test_a_global_category_throttles_the_nodes_of_every_splice(dags):
    (dags.directory / "p.sub").write_text(SUBMIT)
    for name in ("one.dag", "two.dag"):
        (dags.directory / name).write_text("JOB P p.sub\nCATEGORY P +init\n"
                                           "JOB Q p.sub\nCATEGORY Q +init\n")
    dag_id, nodes = dags.submit("SPLICE S1 one.dag\nSPLICE S2 two.dag\nMAXJOBS +init 1\n")
    idle = [name for name, cluster in nodes.items() if dags.status(cluster) == IDLE]
    assert len(idle) == 1, idle
    dags.run(nodes[idle[0]])
    assert sum(1 for cluster in nodes.values() if dags.status(cluster) == IDLE) == 1


def test_a_subdag_runs_between_its_parents_and_children(dags):
    (dags.directory / "inner.dag").write_text("JOB X x.sub\nJOB Y y.sub\nPARENT X CHILD Y\n")
    for name in "xy":
        (dags.directory / f"{name}.sub").write_text(SUBMIT)
    dag_id, nodes = dags.submit("JOB A a.sub\nSUBDAG EXTERNAL S inner.dag\nJOB B b.sub\n"
                                "PARENT A CHILD S\nPARENT S CHILD B\n")
    assert set(nodes) == {"A", "S", "S/X", "S/Y", "B"}
    dags.run(nodes["A"])
    assert dags.status(nodes["S/X"]) == IDLE and dags.status(nodes["B"]) == WAIT
    dags.run(nodes["S/X"])
    dags.run(nodes["S/Y"])
    assert dags.status(nodes["B"]) == IDLE
    dags.run(nodes["B"])
    assert dags.dag(dag_id).eval("DAGStatus") == "succeeded"


def test_dag_rm_removes_its_jobs_and_nothing_starts_again(dags):
    dag_id, nodes = dags.submit(DIAMOND)
    dags.pool.jobs.job_started(f"{nodes['A']}.0", JobStarted("host", dags.pool.jobs.now()))
    status, out, _ = dags.roost("dag", "rm", str(dag_id))
    assert (status, out) == (0, f"DAG {dag_id} removed: 4 job(s) removed.\n")
    assert all(dags.status(cluster) == GONE for cluster in nodes.values())
    assert dags.dag(dag_id).eval("DAGStatus") == "removed"
    assert set(dags.phases(dag_id).values()) == {"removed"}
    status, _, err = dags.roost("dag", "rm", str(dag_id))
    assert status == 1 and "has already ended (removed)" in err


def test_roost_retry_of_a_dag_reruns_what_did_not_succeed(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\nPARENT A CHILD B\n")
    dags.run(nodes["A"], code=1)
    dags.run(nodes["C"])
    assert dags.dag(dag_id).eval("DAGStatus") == "failed"
    status, out, err = dags.roost("retry", str(dag_id))
    assert status == 0, err
    assert dags.phases(dag_id) == {"A": "queued", "B": "waiting", "C": "done"}
    assert dags.status(nodes["A"]) == IDLE and dags.status(nodes["B"]) == WAIT
    dags.run(nodes["A"])
    dags.run(nodes["B"])
    assert dags.dag(dag_id).eval("DAGStatus") == "succeeded"
    assert dags.job(nodes["C"]).eval("NumJobStarts") == 1


def test_submit_errors_name_the_file_and_line_and_queue_nothing(dags):
    path = dags.directory / "bad.dag"
    path.write_text("JOB A a.sub\nPARENT A CHILD Z\n")
    status, out, err = dags.roost("dag", "submit", str(path))
    assert (status, out) == (1, "")
    assert err.strip().endswith(f"{path}:2: unknown node 'Z'")
    path.write_text("JOB A missing.sub\n")
    status, _, err = dags.roost("dag", "submit", str(path))
    assert status == 1 and f"{path}:1: node A: cannot read" in err
    assert list(dags.pool.jobs.query("true")) == []


def test_status_of_no_such_dag(dags):
    status, _, err = dags.roost("dag", "status", "999")
    assert status == 1 and "no DAG 999" in err


def test_another_user_may_not_remove_a_dag(dags, pool):
    dag_id, _ = dags.submit("JOB A a.sub\n")
    with pool.client("bob@pool") as bob, pytest.raises(Exception, match="permission denied"):
        bob.remove_dag(dag_id)


def test_roost_retry_of_a_failed_node_reruns_it_and_what_it_alone_blocked(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB X x.sub\nJOB B b.sub\nJOB C c.sub\n"
                                "JOB D d.sub\nPARENT A CHILD B\nPARENT A X CHILD C\n"
                                "PARENT B CHILD D\n")
    dags.run(nodes["A"], code=1)
    dags.run(nodes["X"], code=1)
    assert dags.phases(dag_id) == {"A": "failed", "X": "failed", "B": "blocked",
                                   "C": "blocked", "D": "blocked"}
    assert dags.dag(dag_id).eval("DAGStatus") == "failed"
    status, out, err = dags.roost("retry", str(nodes["A"]))
    assert status == 0, err
    # C waits for X too, which still failed: it stays blocked.
    assert dags.phases(dag_id) == {"A": "queued", "X": "failed", "B": "waiting",
                                   "C": "blocked", "D": "waiting"}
    assert dags.dag(dag_id).eval("DAGStatus") == "running"
    dags.run(nodes["A"])
    dags.run(nodes["B"])
    dags.run(nodes["D"])
    assert dags.phases(dag_id)["D"] == "done"
    assert dags.dag(dag_id).eval("DAGStatus") == "failed"  # X and C still
    assert dags.roost("retry", str(nodes["X"]))[0] == 0
    dags.run(nodes["X"])
    dags.run(nodes["C"])
    assert dags.dag(dag_id).eval("DAGStatus") == "succeeded"
    status, _, err = dags.roost("retry", str(nodes["C"]))
    assert status == 1 and "has not failed: it is done" in err
    status, _, err = dags.roost("retry", f"{nodes['C']}.0")
    assert status == 1 and "is a DAG node's: retry its node" in err


def test_roost_rerun_of_dag_nodes_runs_them_again_through_their_dag(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nJOB C c.sub\nPARENT A CHILD B\n"
                                "RETRY B 2\n")
    dags.run(nodes["A"])
    dags.run(nodes["B"])
    dags.run(nodes["C"], code=1)
    assert dags.dag(dag_id).eval("DAGStatus") == "failed"
    # A node that succeeded runs again whole, its retries unused; its DAG runs again.
    status, out, err = dags.roost("rerun", "-constraint", 'DAGNodeName == "B"')
    assert (status, out, err) == (0, "1 finished job(s) re-queued.\n", "")
    assert dags.phases(dag_id) == {"A": "done", "B": "queued", "C": "failed"}
    assert dags.dag(dag_id).eval("DAGStatus") == "running"
    dags.run(nodes["B"], code=1)  # one of its two retries
    assert dags.status(nodes["B"]) == IDLE
    dags.run(nodes["B"])
    assert dags.phases(dag_id) == {"A": "done", "B": "done", "C": "failed"}
    assert dags.dag(dag_id).eval("DAGStatus") == "failed"
    assert dags.job(nodes["B"]).eval("NumJobStarts") == 3
    # A failed node reruns the same way, and the DAG ends as its nodes now stand.
    assert dags.roost("rerun", str(nodes["C"]))[0] == 0
    dags.run(nodes["C"])
    assert dags.dag(dag_id).eval("DAGStatus") == "succeeded"
    assert dags.job(nodes["A"]).eval("NumJobStarts") == 1


def test_roost_rerun_leaves_a_dag_node_that_has_not_ended(dags):
    (dags.directory / "a.sub").write_text("executable = /bin/true\nqueue 2\n")
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nPARENT A CHILD B\n")
    dags.run(nodes["A"], proc=0)  # one of its two jobs: the node has not ended
    status, out, err = dags.roost("rerun", f"{nodes['A']}.0")
    assert (status, out) == (1, "0 finished job(s) re-queued.\n")
    assert f"DAG node A (cluster {nodes['A']}) has not ended: it is queued" in err
    assert dags.phases(dag_id)["A"] == "queued"
    assert dags.status(nodes["A"], proc=0) == DONE


def test_a_dag_goes_to_the_schedd_in_pieces_under_the_message_limit(dags, monkeypatch):
    from roost import client

    # A piece a node: a 100,000-node DAG is about 25 pieces of 4 MiB; 30 nodes, 31 pieces
    # (the DAG's own first).
    sent = []
    pieces = client.dag_pieces

    def counted(*args):
        for piece in pieces(*args):
            sent.append(len(piece.nodes))
            yield piece

    monkeypatch.setattr(client, "DAG_PIECE_BYTES", 1)
    monkeypatch.setattr(client, "dag_pieces", counted)
    lines = [f"JOB N{i} n.sub" for i in range(30)]
    lines += [f"PARENT N{i} CHILD N{i + 1}" for i in range(29)]
    dag_id, nodes = dags.submit("\n".join(lines) + "\n", name="chain.dag")
    assert sent == [0] + [1] * 30
    assert len(nodes) == 30
    assert dags.job(nodes["N7"]).eval("DAGParentNodeNames") == "N6"
    assert [dags.status(nodes[f"N{i}"]) for i in range(3)] == [IDLE, WAIT, WAIT]


def test_the_pieces_of_a_dag_hold_the_dags_first_and_the_nodes_in_order():
    from roost.client import dag_pieces
    from roost.rpc import schedd_pb2

    first = schedd_pb2.SubmitDagRequest(dags=[schedd_pb2.DagDescription(parent=-1)])
    nodes = [schedd_pb2.DagNode(dag=0, parents=list(range(i))) for i in range(10)]
    limit = 40
    pieces = list(dag_pieces(first, nodes, limit))
    assert len(pieces[0].dags) == 1 and not any(p.dags for p in pieces[1:])
    assert [list(n.parents) for p in pieces for n in p.nodes] == [
        list(range(i)) for i in range(10)]
    assert all(p.ByteSize() <= limit for p in pieces) and len(pieces) > 2
    # Under a limit nothing fits: the DAGs alone, then a node each (made again from the
    # same start, as a retry makes them).
    assert [len(p.nodes) for p in dag_pieces(first, nodes, 1)] == [0] + [1] * 10


def test_a_submit_file_shared_by_nodes_is_read_once_unless_its_job_is_the_nodes(
        dags, monkeypatch):
    from roost import submit_description

    parsed = []
    real = submit_description.parse_submit

    def counting(text, **kwargs):
        parsed.append(kwargs["filename"])
        return real(text, **kwargs)

    monkeypatch.setattr(submit_description, "parse_submit", counting)
    (dags.directory / "same.sub").write_text("executable = /bin/true\nqueue\n")
    (dags.directory / "named.sub").write_text(
        "executable = /bin/echo\narguments = $(JOB)\nqueue\n")
    lines = [f"JOB S{i} same.sub" for i in range(20)] + [f"JOB N{i} named.sub"
                                                         for i in range(3)]
    _, nodes = dags.submit("\n".join(lines) + "\nVARS S0 x=\"1\"\n", name="shared.dag")
    counts = {name: sum(1 for f in parsed if f.endswith(name)) for name in ("same.sub",
                                                                          "named.sub")}
    assert counts == {"same.sub": 2, "named.sub": 3}  # S0's VARS make its job its own
    assert [dags.job(nodes[f"N{i}"]).eval("Arguments") for i in range(3)] == [
        "N0", "N1", "N2"]
    assert dags.job(nodes["S7"]).eval("DAGNodeName") == "S7"
