"""Jobs that add jobs, at the schedd: a running job submits with its run's credential into
its workflow as its owner, and can do nothing else, and nothing once the run is over."""

from __future__ import annotations

import pytest

from classad import ClassAd
from roost import security
from roost.client import JobAction, Schedd
from roost.config import load_config
from roost.errors import RoostError
from schedd import job_tokens, submit_cli
from schedd.database import default_url
from schedd.job_tokens import ADDRESS_VARIABLE, TOKEN_VARIABLE, JobCredentials
from schedd.lifecycle import JobExited, JobStarted
from schedd.retries import Failure

from .conftest import Pool
from .test_dags import Dags


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path, default_url(tmp_path))
    yield pool
    pool.close()


def job(**attrs) -> ClassAd:
    return ClassAd({"Cmd": "/bin/true", **attrs})


class Run:
    """A job of alice's started as a claim starts it: its credential minted first."""

    def __init__(self, pool: Pool, job_id: str) -> None:
        self.pool, self.job_id = pool, job_id
        ad = self.ad()
        self.environment = pool.credentials.environment(ad)
        pool.jobs.job_started(job_id, JobStarted(host="slot1@host", time=pool.jobs.now()))

    def ad(self) -> ClassAd:
        cluster, _, proc = self.job_id.partition(".")
        return pool_query(self.pool, f"ClusterId == {cluster} && ProcId == {proc}")[0]

    def client(self) -> Schedd:
        return Schedd(self.pool.address, self.environment[TOKEN_VARIABLE],
                      config=self.pool.config, timeout=30)

    def end(self, failure: Failure = Failure.NONE) -> None:
        self.pool.jobs.job_exited(self.job_id, JobExited(self.pool.jobs.now(), "slot1@host",
                                                         failure, exit_code=0))


def pool_query(pool: Pool, constraint: str = "") -> list[ClassAd]:
    return list(pool.jobs.query(constraint))


def queued(pool: Pool) -> int:
    return len(pool_query(pool))


@pytest.fixture
def running(pool):
    with pool.client() as alice:
        cluster = alice.submit(job(JobBatchName="eigen")).cluster()
    return Run(pool, f"{cluster}.0")


def test_a_running_job_submits_into_its_workflow(pool, running):
    assert running.environment[ADDRESS_VARIABLE] == pool.address
    with running.client() as spawner:
        children = spawner.submit(job(), count=3).cluster()
        reduce = spawner.submit(job(), parents=[children]).cluster()
        assert {ad.eval("ClusterId") for ad in spawner.query()} == {1, children, reduce}
    for cluster in (children, reduce):
        for ad in pool_query(pool, f"ClusterId == {cluster}"):
            assert (ad.eval("Owner"), ad.eval("SpawnedBy"), ad.eval("WorkflowId"),
                    ad.eval("JobBatchName")) == ("alice", "1.0", 1, "eigen")
    assert pool_query(pool, f"ClusterId == {reduce}")[0].eval("JobStatus") == 8  # Waiting


def test_a_spawned_job_spawns_into_the_same_workflow(pool, running):
    with running.client() as spawner:
        child = spawner.submit(job()).cluster()
    grandchild_run = Run(pool, f"{child}.0")
    with grandchild_run.client() as spawner:
        grandchild = spawner.submit(job(), parents=[1, child]).cluster()
    ad = pool_query(pool, f"ClusterId == {grandchild}")[0]
    assert (ad.eval("SpawnedBy"), ad.eval("WorkflowId")) == (f"{child}.0", 1)


def test_the_token_is_found_in_the_environment(pool, running, monkeypatch, capsys):
    monkeypatch.setenv(TOKEN_VARIABLE, running.environment[TOKEN_VARIABLE])
    monkeypatch.setenv(ADDRESS_VARIABLE, running.environment[ADDRESS_VARIABLE])
    monkeypatch.setenv("ROOST_HOME", str(pool.config.home / "elsewhere"))  # no token file
    with Schedd(config=load_config()) as spawner:
        assert spawner.user == "alice"
        cluster = spawner.submit(job()).cluster()
    assert pool_query(pool, f"ClusterId == {cluster}")[0].eval("SpawnedBy") == "1.0"
    description = pool.config.home / "child.sub"
    description.write_text("executable = /bin/true\nqueue 2\n")
    assert submit_cli.main([str(description)]) == 0
    assert "2 job(s) submitted to cluster 3." in capsys.readouterr().out
    assert {ad.eval("SpawnedBy") for ad in pool_query(pool, "ClusterId == 3")} == {"1.0"}


def test_a_job_submits_nothing_as_another_owner(pool, running):
    with running.client() as spawner, pytest.raises(
            RoostError, match="permission denied .*a job of alice may not submit jobs as bob"):
        spawner.submit_cluster(job(Owner="bob"), [], 1)
    assert queued(pool) == 1


def test_a_job_cannot_move_its_jobs_to_another_workflow(pool, running):
    with running.client() as spawner, pytest.raises(
            RoostError, match="WorkflowId is set by the schedd, not by a submit"):
        spawner.submit_cluster(job(), [ClassAd({"WorkflowId": 7})], 0)
    assert queued(pool) == 1


def test_a_job_waits_only_for_jobs_of_its_workflow(pool, running):
    with pool.client() as alice:
        other = alice.submit(job()).cluster()
    before = queued(pool)
    with running.client() as spawner:
        with pytest.raises(RoostError, match=f"parent {other} is not in workflow 1: a job may "
                                             "wait only for jobs of its own workflow"):
            spawner.submit(job(), parents=[other])
        with pytest.raises(RoostError, match="unknown parent 99"):
            spawner.submit(job(), parents=["99.0"])
    assert queued(pool) == before


@pytest.mark.parametrize("action", ["remove", "hold", "edit", "remove_dag"])
def test_a_job_credential_only_submits_and_reads(pool, running, action):
    with pool.client("bob@pool") as bob:
        bobs = bob.submit(job()).cluster()
    with running.client() as spawner:
        mine = spawner.submit(job()).cluster()
        calls = {
            "remove": lambda: spawner.act(JobAction.Remove, [f"{bobs}.0", f"{mine}.0"]),
            "hold": lambda: spawner.act(JobAction.Hold, f"{mine}.0"),
            "edit": lambda: spawner.edit(f"{mine}.0", "Foo", "1"),
            "remove_dag": lambda: spawner.remove_dag(1),
        }
        with pytest.raises(RoostError, match="permission denied .*a job's credential may only "
                                             "submit jobs and read the queue"):
            calls[action]()
    assert {ad.eval("ClusterId"): ad.eval("JobStatus") for ad in pool_query(pool)} == {
        1: 2, bobs: 1, mine: 1}


def test_the_credential_is_refused_once_the_job_ends(pool, running):
    with running.client() as spawner:
        spawner.submit(job())
        running.end()
        for call in (lambda: spawner.submit(job()), spawner.query):
            with pytest.raises(RoostError, match="did not accept the token: job 1.0 is no "
                                                 "longer in the queue"):
                call()
    assert queued(pool) == 1


def test_the_credential_is_refused_once_the_job_runs_again(pool, running):
    running.end(Failure.MACHINE_LOST)  # back to Idle, to run again
    with running.client() as spawner:
        with pytest.raises(RoostError, match="job 1.0 is idle: its credential died with run 1"):
            spawner.query()
        again = Run(pool, "1.0")
        with pytest.raises(RoostError, match="job 1.0 has run again since"):
            spawner.query()
    with again.client() as spawner:
        assert spawner.query("ClusterId == 1")


def test_the_credential_is_not_in_the_job_ad(pool, running):
    token = running.environment[TOKEN_VARIABLE]
    with running.client() as spawner:
        spawner.submit(job())
    assert not any(token in ad.print_old() for ad in pool_query(pool))


def test_a_job_whose_owner_no_credential_can_name_runs_without_one(pool):
    odd = ClassAd({"ClusterId": 5, "ProcId": 0, "Owner": "a b", "NumJobStarts": 0})
    assert pool.credentials.environment(odd) == {}


def test_the_job_key_is_the_schedds_own_and_outlives_a_restart(pool, running, tmp_path):
    path = job_tokens.key_path(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_bytes() != (
        tmp_path / "pool.key").read_bytes()
    token = running.environment[TOKEN_VARIABLE]
    restarted = JobCredentials.open(pool.jobs, tmp_path)  # the next start of the schedd
    identity = security.verify_token(pool.key, token, job_key=restarted.key)
    assert identity.job == security.JobGrant("1.0", run=1, workflow=1)
    restarted.admit(identity, "/roost.rpc.Schedd/Submit")  # its run lives on


def test_a_dag_nodes_job_spawns_into_its_dag(pool, tmp_path, monkeypatch, capsys):
    token = tmp_path / "alice.token"
    token.write_text(pool.token("alice@pool"))
    monkeypatch.setenv("ROOST_HOME", str(tmp_path))
    monkeypatch.setenv("ROOST_SCHEDD_ADDRESS", pool.address)
    monkeypatch.setenv("ROOST_SECURITY_TOKEN_FILE", str(token))
    (tmp_path / "dag").mkdir()
    dags = Dags(pool, tmp_path / "dag", capsys)
    dag_id, nodes = dags.submit("JOB A a.sub\nJOB B b.sub\nPARENT A CHILD B\n")
    with pool.client() as alice:
        outside = alice.submit(job()).cluster()
    node = Run(pool, f"{nodes['A']}.0")
    with node.client() as spawner:
        child = spawner.submit(job(), parents=[nodes["A"], f"{nodes['B']}.0"]).cluster()
        with pytest.raises(RoostError, match=f"parent {outside} is not in workflow {dag_id}"):
            spawner.submit(job(), parents=[outside])
    ad = pool_query(pool, f"ClusterId == {child}")[0]
    assert (ad.eval("SpawnedBy"), ad.eval("WorkflowId")) == (f"{nodes['A']}.0", dag_id)
    assert "DAGNodeName" not in ad  # a job of the DAG's workflow, not a node of it
