"""A startd of more slots than its gRPC server once had threads (16): every slot runs a job
at once, and the startd still answers claims and keep-alives while they run."""

from __future__ import annotations

import time

import pytest

from roost import security
from roost.client import Startd, address_file

from .test_pool import TIMEOUT, Pool

SLOTS = 64


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def _held_until_released(pool: Pool, count: int) -> str:
    """Jobs that note their start and run until the test makes the file ``release``."""
    run = (f"echo $(Cluster).$(Process) >> {pool.home}/started; "
           f"while [ ! -e {pool.home}/release ]; do sleep 0.5; done")
    return f"executable = /bin/sh\narguments = \"-c '{run}'\"\nqueue {count}\n"


def _running(pool: Pool, cluster: int) -> int:
    with pool.schedd() as schedd:
        return sum(1 for job in schedd.query(f"ClusterId == {cluster}")
                   if job.eval("JobStatus") == 2)


def test_a_startd_of_64_slots_runs_64_jobs_at_once_and_still_answers(pool):
    # Not the pool tests' 6 s lease: starting 64 jobs on a machine of 2 cores, the startd
    # answers keep-alives seconds late and polls its leases late, and the test is of slots,
    # not of leases lost (tests/schedd/test_claims_unreachable.py).
    pool.env["ROOST_SCHEDD_CLAIM_LEASE"] = "30"
    pool.roost("pool", "up", "--startds", "0")
    pool.startd("wide", "--slots", str(SLOTS), "--cpus", str(SLOTS),
                "--memory", str(SLOTS * 128), "--disk", str(SLOTS * 2 * 2**20))
    cluster = pool.submit(_held_until_released(pool, SLOTS))
    deadline = time.monotonic() + TIMEOUT
    running = 0
    while running < SLOTS:
        assert time.monotonic() < deadline, f"{running}/{SLOTS} running\n" + pool.logs()
        time.sleep(0.2)
        running = _running(pool, cluster)
    assert running == SLOTS
    started = (pool.home / "started").read_text().split()
    assert sorted(started) == sorted(f"{cluster}.{n}" for n in range(SLOTS))

    # With every slot's stream open, a claim and a keep-alive are still answered, at once.
    key = security.SigningKey.load(security.key_path(pool.home))
    token = security.daemon_token(key, "schedd@test", ["advertise-schedd"], 3600)
    address = address_file(pool.home, "startd-wide").read_text().strip()
    with Startd(address, token, config=pool.config, timeout=5.0) as startd:
        refused = startd.request_claim("not-a-claim-id", pool.slots()[0], lease=60)
        assert (refused.accepted, refused.reason) == (False, "no slot has this claim id")
        assert startd.keep_alive("not-a-claim-id") == ""
    assert _running(pool, cluster) == SLOTS

    (pool.home / "release").touch()
    done = pool.wait_done(cluster, SLOTS)
    assert all(ad.eval("ExitCode") == 0 for ad in done)
