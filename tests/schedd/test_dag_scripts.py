"""PRE and POST scripts run by the schedd's script runner (``schedd.dag_scripts``), on the
submit side, in the node's directory, with DAGMan's macros, their output kept beside the
DAG file; their ends move the node on."""

from __future__ import annotations

import os
import pwd
import time

import pytest

from schedd.dag_scripts import ScriptRunner
from schedd.job_status import JobStatus

from .test_dags import Dags


@pytest.fixture
def dags(pool, tmp_path, monkeypatch, capsys):
    # As the user the tests run as: a schedd running as root runs a DAG's scripts as its
    # owner, and the tests' alice has no account here.
    token = tmp_path / "user.token"
    token.write_text(pool.token(f"{pwd.getpwuid(os.geteuid()).pw_name}@pool"))
    monkeypatch.setenv("ROOST_HOME", str(tmp_path))
    monkeypatch.setenv("ROOST_SCHEDD_ADDRESS", pool.address)
    monkeypatch.setenv("ROOST_SECURITY_TOKEN_FILE", str(token))
    directory = tmp_path / "dag"
    directory.mkdir()
    found = Dags(pool, directory, capsys)
    runner = ScriptRunner(found.dags)
    pool.jobs.listen(runner.changed)
    yield found
    runner.stop()


def until(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


def script(dags, name: str, body: str) -> None:
    path = dags.directory / name
    path.write_text("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)


def test_scripts_run_with_macros_in_the_node_directory_and_decide_the_node(dags):
    script(dags, "pre.sh", 'echo "pre $1 $2 in $(pwd)" >> log\n')
    script(dags, "post.sh", 'echo "post $1 returned $2 retry $3" >> log\n'
                            '[ "$2" = 0 ] || [ "$3" = 1 ]\n')
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nPARENT A CHILD B\n"
                                "SCRIPT PRE A pre.sh $JOB .gz\n"
                                "SCRIPT POST A post.sh $JOB $RETURN $RETRY\nRETRY A 1\n")
    until(lambda: dags.status(nodes["A"]) == JobStatus.IDLE)
    dags.run(nodes["A"], code=3)  # the POST script fails the node: a retry, PRE first
    until(lambda: dags.phases(dag_id)["A"] == "queued" and
          dags.status(nodes["A"]) == JobStatus.IDLE)
    dags.run(nodes["A"], code=3)  # the POST script passes the retry
    until(lambda: dags.phases(dag_id)["A"] == "done")
    assert dags.status(nodes["B"]) == JobStatus.IDLE
    assert (dags.directory / "log").read_text().splitlines() == [
        f"pre A .gz in {dags.directory}", "post A returned 3 retry 0",
        f"pre A .gz in {dags.directory}", "post A returned 3 retry 1"]
    output = (dags.directory / "test.dag.A.pre.out").read_text()
    assert output.count("--- PRE script of node A") == 2


def test_the_manuals_macros_of_the_node_and_its_dag(dags):
    script(dags, "pre.sh", 'echo "pre $*" >> log\n')
    script(dags, "post.sh", 'echo "post $*" >> log\n')
    dag_id, nodes = dags.submit("JOB A a.sub\nRETRY A 2\n"
                                "SCRIPT PRE A pre.sh $NODE $DAGID $MAX_RETRIES\n"
                                "SCRIPT POST A post.sh $NODE $CLUSTERID $JOBID $RETURN\n")
    until(lambda: dags.status(nodes["A"]) == JobStatus.IDLE)
    dags.run(nodes["A"], code=0)
    until(lambda: dags.phases(dag_id)["A"] == "done")
    assert (dags.directory / "log").read_text().splitlines() == [
        f"pre A {dag_id} 2", f"post A {nodes['A']} {nodes['A']}.0 0"]


def test_a_script_that_cannot_run_fails_its_node(dags):
    dag_id, nodes = dags.submit("JOB A a.sub\nSCRIPT PRE A no-such-script.sh\n")
    until(lambda: dags.phases(dag_id)["A"] == "failed")
    _, (node,) = dags.dags.view(dag_id)
    assert node.eval("Reason") == "its PRE script returned 127"
    assert "cannot run" in (dags.directory / "test.dag.A.pre.out").read_text()


def test_a_deferred_script_runs_again_after_its_defer_time(dags):
    script(dags, "pre.sh", 'echo x >> tries\n[ "$(wc -l < tries)" -ge 2 ] || exit 4\n')
    dag_id, nodes = dags.submit("JOB A a.sub\nSCRIPT DEFER 4 1 PRE A pre.sh\n")
    until(lambda: dags.status(nodes["A"]) == JobStatus.IDLE)
    assert (dags.directory / "tries").read_text() == "x\nx\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="a schedd not running as root runs scripts "
                    "as itself")
def test_a_root_schedd_never_runs_a_script_as_root_for_a_user_it_does_not_know(dags, pool,
                                                                               tmp_path):
    (tmp_path / "user.token").write_text(pool.token("nobody-here@pool"))
    script(dags, "pre.sh", "touch ran\n")
    dag_id, _ = dags.submit("JOB A a.sub\nSCRIPT PRE A pre.sh\n")
    until(lambda: dags.phases(dag_id)["A"] == "failed")
    assert not (dags.directory / "ran").exists()
    assert "user 'nobody-here' does not exist on this machine" in (
        dags.directory / "test.dag.A.pre.out").read_text()
