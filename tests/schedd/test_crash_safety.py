"""SIGKILL the schedd in the middle of work: what it acknowledged survives, nothing is half.

A large submit is one transaction, so after the crash each cluster is whole or absent; a
hold or release acknowledged before the crash is in the queue after it; and the database
passes its own integrity check.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from sqlalchemy import create_engine, func, select

from classad import ClassAd
from roost.client import JobAction, Schedd
from roost.config import load_config
from roost.errors import RoostError
from schedd.database import default_url
from schedd.models import Cluster, Job

from ..daemons import Daemons

CLUSTER_PROCS = 20_000


@pytest.fixture
def daemons(tmp_path, database_url):
    url = "" if database_url.startswith("sqlite") else database_url
    daemons = Daemons(tmp_path, url)
    yield daemons
    daemons.stop_all()


def _client(daemons) -> Schedd:
    return Schedd(config=load_config(env=daemons.env), timeout=30)


def _url(daemons) -> str:
    return daemons.env.get("ROOST_SCHEDD_DATABASE_URL") or default_url(daemons.home)


def _until_killed(daemons, work, after: float):
    """Run ``work(client, acknowledged)`` on a thread until the schedd is killed ``after``
    seconds in; returns what it recorded as acknowledged."""
    acknowledged: list = []
    client = _client(daemons)

    def run():
        # The schedd goes away mid-call: that call was not acknowledged.
        with contextlib.suppress(RoostError):
            work(client, acknowledged)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(after)
    daemons.kill("schedd")
    thread.join(60)
    client.close()
    assert not thread.is_alive()
    return acknowledged


def _integrity(daemons) -> None:
    engine = create_engine(_url(daemons))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        per_cluster = dict(connection.execute(
            select(Job.cluster_id, func.count()).group_by(Job.cluster_id)).all())
        totals = dict(connection.execute(
            select(Cluster.cluster_id, Cluster.total_submitted)).all())
    engine.dispose()
    # No half cluster: every cluster has all its procs, and no proc lacks its cluster.
    assert per_cluster == totals


def test_sigkill_during_large_submits(daemons):
    daemons.start("schedd")
    ad = ClassAd({"Cmd": "/bin/true", "RequestCpus": 1})

    def submit(client, acknowledged):
        while True:
            acknowledged.append(client.submit(ad, count=CLUSTER_PROCS).cluster())

    acknowledged = _until_killed(daemons, submit, after=2.5)
    assert acknowledged, "no submit finished before the kill: raise `after`"
    daemons.start("schedd")
    _integrity(daemons)
    with _client(daemons) as client:
        summary = client.summarize()
    present = {c.cluster_id: sum(c.counts.values()) for c in summary.clusters}
    for cluster in acknowledged:
        assert present[cluster] == CLUSTER_PROCS
    # At most the one submit in flight at the kill committed without its answer.
    assert len(present) - len(acknowledged) in (0, 1)


def test_sigkill_during_hold_and_release(daemons):
    daemons.start("schedd")
    with _client(daemons) as client:
        client.submit(ClassAd({"Cmd": "/bin/true"}), count=50)

    def flip(client, acknowledged):
        n = 0
        while True:
            proc = n % 50
            held = (n // 50) % 2 == 0
            acknowledged.append((proc, None))  # in flight
            client.act(JobAction.Hold if held else JobAction.Release, f"1.{proc}")
            acknowledged[-1] = (proc, 5 if held else 1)
            n += 1

    log = _until_killed(daemons, flip, after=2.0)
    daemons.start("schedd")
    _integrity(daemons)
    expected: dict[int, set[int]] = {}
    for proc, status in log:
        if status is None:
            # The action in flight may or may not have been committed.
            expected[proc] = expected.get(proc, {1}) | {1, 5}
        else:
            expected[proc] = {status}
    with _client(daemons) as client:
        statuses = {ad["ProcId"]: ad["JobStatus"] for ad in client.query()}
    assert len(statuses) == 50
    for proc, allowed in expected.items():
        assert statuses[proc] in allowed, (proc, statuses[proc], allowed)
