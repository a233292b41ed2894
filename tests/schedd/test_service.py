"""The schedd over real gRPC and a real database: submit, read, act, edit, retry, policy."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import classad
from classad import ClassAd
from roost.client import JobAction
from roost.errors import RoostError
from roost.rpc import classad_pb2, schedd_pb2, schedd_pb2_grpc
from roost.security import call_metadata
from roost.submit_description import complete_job_ad, parse_submit


def job(**attrs) -> ClassAd:
    ad = ClassAd({"Cmd": "/bin/true", "Arguments": "", **attrs})
    return complete_job_ad(ad, owner="alice", now=1_700_000_000, cwd=Path("/tmp"))


def test_submit_and_query(pool):
    with pool.client() as alice:
        result = alice.submit_cluster(job(), [], 5)
        assert (result.cluster(), result.first_proc(), result.num_procs()) == (1, 0, 5)
        ads = alice.query()
        assert [(ad["ClusterId"], ad["ProcId"]) for ad in ads] == [(1, p) for p in range(5)]
        first = ads[0]
        assert first["Owner"] == "alice"
        assert first["JobStatus"] == 1
        assert first["Cmd"] == "/bin/true"
        assert first["TotalSubmitProcs"] == 5
        assert first.eval("Requirements") is not None
        # Ids keep growing: the next cluster is 2.
        assert alice.submit_cluster(job(), [], 1).cluster() == 2


def test_owner_is_the_caller_not_the_ad(pool):
    with pool.client("bob@pool") as bob:
        bob.submit_cluster(job(Owner="alice"), [], 1)
        (ad,) = bob.query()
    assert ad["Owner"] == "bob"


def test_submit_file_procs_hold_only_what_differs(pool):
    plan = parse_submit("executable = /bin/echo\narguments = $(Item)\nqueue Item in (a, b, c)\n",
                        cwd=pool.config.home, owner="alice", now=1_700_000_000)
    with pool.client() as alice:
        result = alice.submit_cluster(plan.cluster_ad, plan.procs, plan.count)
        assert result.num_procs() == 3
        ads = alice.query(projection=["ProcId", "Arguments", "Cmd"])
    assert [(ad["ProcId"], ad["Arguments"], ad["Cmd"]) for ad in ads] == [
        (0, "a", "/bin/echo"), (1, "b", "/bin/echo"), (2, "c", "/bin/echo")]
    assert set(ads[0]) == {"ProcId", "Arguments", "Cmd"}


def test_query_constraints_projection_and_limit(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(RequestCpus=2), [], 4)
        alice.submit_cluster(job(RequestCpus=1), [], 3)
        cases = {
            "ClusterId == 2": 3,
            "ClusterId == 1 && ProcId >= 2": 2,
            'Owner == "ALICE"': 7,  # == on strings ignores case
            'Owner =?= "ALICE"': 0,
            "RequestCpus > 1": 4,  # not a column: evaluated on each ad
            "ClusterId == 1 || RequestCpus == 1": 7,
            "JobStatus == 1 && RequestCpus == 1 && ProcId != 0": 2,
        }
        for constraint, count in cases.items():
            assert len(alice.query(constraint)) == count, constraint
        assert len(alice.query(limit=3)) == 3
        # Batches of 7: 7 ads arrive in one message, more in several.
        assert len(alice.query()) == 7
    with pytest.raises(RoostError, match="bad constraint"):
        pool.client().query("ClusterId ==")


def test_hold_release_remove_and_history(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 3)
        result = alice.act(JobAction.Hold, "1.1", "testing")
        assert (result["TotalJobAds"], result["TotalSuccess"]) == (1, 1)
        (held,) = alice.query("JobStatus == 5")
        assert held["HoldReason"] == "testing"
        assert held["HoldReasonCode"] == 1
        assert held["EnteredCurrentStatus"] == 1_700_000_000
        assert alice.act(JobAction.Release, "1.0")["TotalError"] == 1  # not held
        alice.act(JobAction.Release, "1.1")
        assert "HoldReason" not in alice.query("ProcId == 1")[0]
        assert alice.act(JobAction.Remove, "1")["TotalSuccess"] == 3
        assert alice.query() == []
        history = list(alice.history())
        assert sorted(ad["ProcId"] for ad in history) == [0, 1, 2]
        assert {ad["JobStatus"] for ad in history} == {3}
        assert history[0]["RemoveReason"]
        assert len(list(alice.history("ProcId == 2"))) == 1
        assert len(list(alice.history(match=2))) == 2


def test_only_the_owner_or_an_administrator_acts(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 2)
    with pool.client("bob@pool") as bob, pytest.raises(RoostError, match="permission denied"):
        bob.act(JobAction.Remove, "1")
    with pool.client("bob@pool") as bob, pytest.raises(RoostError, match="permission denied"):
        bob.edit("1.0", "JobPrio", "5")
    with pool.client("root@pool", ("read", "submit", "admin")) as admin:
        assert admin.act(JobAction.Hold, "1")["TotalSuccess"] == 2
    with pool.client("carol@pool", ("read",)) as reader, pytest.raises(RoostError,
                                                                     match="PERMISSION|scope"):
        reader.submit_cluster(job(), [], 1)


def test_edit_idle_and_held_jobs_only(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 3)
        assert alice.edit("1", "JobPrio", "10") == 3
        assert {ad["JobPrio"] for ad in alice.query()} == {10}
        assert alice.edit_many("1.2", {"Foo": '"bar"', "Weight": "RequestCpus * 2"}) == 1
        (ad,) = alice.query("ProcId == 2")
        assert ad["Foo"] == "bar"
        assert ad.eval("Weight") == 2
        with pytest.raises(RoostError, match="cannot be changed"):
            alice.edit("1", "Owner", '"mallory"')
        with pytest.raises(RoostError, match="syntax|bad|expected"):
            alice.edit("1", "Foo", "1 +")
        alice.act(JobAction.Remove, "1.0")
        # Removed jobs left the queue: nothing to edit there.
        assert alice.edit("1.0", "JobPrio", "1") == 0


def test_summary_counts(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 4)
        alice.act(JobAction.Hold, "1.3")
        alice.act(JobAction.Remove, "1.0")
    with pool.client("bob@pool") as bob:
        bob.submit_cluster(job(JobBatchName="sweep"), [], 2)
        summary = bob.summarize('Owner == "bob"')
    (cluster,) = summary.clusters
    assert (cluster.cluster_id, cluster.owner, cluster.batch_name) == (2, "bob", "sweep")
    assert cluster.counts == {1: 2}
    assert (cluster.first_proc, cluster.last_proc, cluster.total_submitted) == (0, 1, 2)
    assert summary.owners == {"alice": {1: 2, 5: 1}, "bob": {1: 2}}
    assert summary.schedd_name == "schedd@test"
    everything = pool.client().summarize()
    assert [c.cluster_id for c in everything.clusters] == [1, 2]
    assert everything.clusters[0].counts == {1: 2, 5: 1}
    # A constraint the columns cannot answer is evaluated on each job.
    assert [c.cluster_id for c in pool.client().summarize("Cmd == \"/bin/true\" && "
                                                          "ProcId == 1").clusters] == [1, 2]


def test_periodic_policy(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(PeriodicHold=classad.ExprTree("JobPrio > 5")), [], 2)
        alice.submit_cluster(job(), [], 1)
        assert pool.jobs.periodic() == 0
        alice.edit("1.1", "JobPrio", "9")
        assert pool.jobs.periodic() == 1
        (held,) = alice.query("JobStatus == 5")
        assert (held["ProcId"], held["HoldReasonCode"]) == (1, 3)
        alice.edit("2.0", "PeriodicRemove", "true")
        assert pool.jobs.periodic() == 1
        assert [ad["ClusterId"] for ad in alice.history()] == [2]


def test_retry_requeues_only_failed_procs(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 3)
        alice.act(JobAction.Remove, "1.1")
        with pytest.raises(RoostError, match="not finished"):
            alice.retry(1)
        alice.act(JobAction.Remove, "1")
        assert alice.retry(1) == 3
        assert sorted(ad["ProcId"] for ad in alice.query()) == [0, 1, 2]
        assert {ad["JobStatus"] for ad in alice.query()} == {1}
        with pytest.raises(RoostError, match="no finished cluster"):
            alice.retry(9)


def test_bad_ads_are_refused_whole(pool):
    stub = schedd_pb2_grpc.ScheddStub(pool.client().channel)
    bad = schedd_pb2.SubmitRequest(cluster_ad=classad_pb2.ClassAd(attrs=[
        classad_pb2.Attribute(name="Cmd", expr='"/bin/true"'),
        classad_pb2.Attribute(name="JobStatus", expr="2")]), count=3)
    with pytest.raises(Exception, match="Idle or Held"):
        stub.Submit(bad, metadata=call_metadata(pool.token()))
    syntax = schedd_pb2.SubmitRequest(cluster_ad=classad_pb2.ClassAd(attrs=[
        classad_pb2.Attribute(name="Cmd", expr='"/bin/true')]), count=1)
    with pytest.raises(Exception, match="bad job ad"):
        stub.Submit(syntax, metadata=call_metadata(pool.token()))
    assert pool.client().query() == []
    # The refused submits used no cluster id that a later one would skip... or reuse.
    assert pool.client().submit_cluster(job(), [], 1).cluster() == 1


def test_job_events_stream(pool):
    stub = schedd_pb2_grpc.ScheddStub(pool.client().channel)
    with pool.client() as alice:
        alice.submit_cluster(job(), [], 2)
        events = stub.JobEvents(schedd_pb2.JobEventsRequest(clusters=[1], include_current=True),
                                metadata=call_metadata(pool.token()), timeout=20)
        current = [next(events), next(events)]
        assert [(e.job_id, e.kind, e.status) for e in current] == [
            ("1.0", "current", 1), ("1.1", "current", 1)]
        threading.Timer(0.2, lambda: alice.act(JobAction.Hold, "1.1", "wait")).start()
        held = next(events)
        assert (held.job_id, held.kind, held.status) == ("1.1", "hold", 5)
        assert classad.ad_from_pairs((a.name, a.expr) for a in held.attrs.attrs)[
            "HoldReason"] == "wait"
        events.cancel()


def test_negotiate_groups_idle_jobs_by_autocluster(pool):
    with pool.client() as alice:
        alice.submit_cluster(job(RequestMemory=1024), [], 1000)
        alice.submit_cluster(job(RequestMemory=1024), [], 2)
        plan = parse_submit("executable = /bin/x\nrequest_memory = $(m)\nqueue m in (1, 2, 2)\n",
                            cwd=pool.config.home, owner="alice", now=1_700_000_000)
        alice.submit_cluster(plan.cluster_ad, plan.procs, plan.count)
        alice.act(JobAction.Hold, "1.0")
    with pool.client("bob@pool") as bob:
        bob.submit_cluster(job(), [], 5)
    stub = schedd_pb2_grpc.ScheddStub(pool.client().channel)

    def conversation():
        yield schedd_pb2.NegotiateMessage(start=schedd_pb2.NegotiateStart(
            submitter="alice@pool", negotiator_ad=classad_pb2.ClassAd()))
        yield schedd_pb2.NegotiateMessage(end=schedd_pb2.NegotiateEnd(reason="cycle over"))

    replies = list(stub.Negotiate(conversation(), metadata=call_metadata(
        pool.token("negotiator@pool", ["negotiate"]))))
    requests = replies[0].requests.requests
    counts = sorted(r.count for r in requests)
    assert counts == [1, 2, 1001]  # 999 + 2 alike; m=1 alone; m=2 twice
    assert replies[-1].WhichOneof("body") == "end"
    with pytest.raises(Exception, match="PERMISSION_DENIED|scope"):
        list(stub.Negotiate(conversation(), metadata=call_metadata(pool.token())))


def test_python_api_submits_descriptions_and_ads(pool, tmp_path):
    with pool.client() as alice:
        result = alice.submit("executable = /bin/echo\narguments = $(Item)\n"
                              "queue Item in (x, y)\n", cwd=str(tmp_path))
        assert (result.cluster(), result.num_procs()) == (1, 2)
        assert [ad["Arguments"] for ad in alice.query("ClusterId == 1")] == ["x", "y"]
        assert alice.submit(ClassAd({"Cmd": "/bin/true"}), count=3).num_procs() == 3
        (ad, *_) = alice.query("ClusterId == 2")
        assert (ad["Owner"], ad["Iwd"]) == ("alice", str(Path.cwd()))
        with pytest.raises(RoostError, match="queue statement"):
            alice.submit("executable = /bin/true\nqueue\n", count=2)
        with pytest.raises(RoostError, match=r"<submit>:2:\d+: "):
            alice.submit("executable = /bin/true\nrequest_cpus = 2 +\nqueue\n")
        assert alice.user == "alice"
