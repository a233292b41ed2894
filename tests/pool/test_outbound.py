"""A startd that accepts no inbound connection, on loopback: told ``--outbound-only``, it
advertises a broker address, and the schedd's claims, runs, keep-alives and controls reach
it through connections it opens itself (roost.broker), with TLS end to end when the pool
has it; after the collector restarts it registers again and takes new claims."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from roost.broker import parse_broker_address
from roost.config import load_config

from .test_pool import Pool, effects, sweep

NAME = "out.test"


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path / "home")
    yield pool
    pool.roost("pool", "down", check=False)


def outbound_slot(pool: Pool):
    """The ad of the outbound startd's slot, once it has come."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        slots = [ad for ad in pool.slots() if ad.eval("Name") == f"slot1@{NAME}"]
        if slots:
            return slots[0]
        time.sleep(0.1)
    raise AssertionError(f"no slot from the startd:\n{pool.logs()}")


def test_an_outbound_only_startd_runs_jobs_through_the_broker(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.roost("startd", "--instance", "out", "--name", NAME, "--outbound-only",
               "--cpus", "2", "--memory", "512")
    slot = outbound_slot(pool)
    broker = parse_broker_address(slot.eval("MyAddress"))
    assert (broker.collector, broker.broker_id) == (pool.config.get("matchmaker", "address"),
                                                   NAME)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", slot.eval("StartdIpAddr"))
    cluster = pool.submit(sweep(pool, 6, seconds=0.2))
    done = pool.wait_done(cluster, 6)
    assert {ad.eval("LastRemoteHost").partition("@")[2] for ad in done} == {NAME}
    assert all(ad.eval("ExitCode") == 0 for ad in done)
    assert effects(pool) == Counter({f"{cluster}.{n}": 1 for n in range(6)})
    log = (pool.home / "log" / "startd-out.log").read_text()
    assert "reached through the broker as broker://" in log


def test_an_outbound_only_startd_registers_again_after_the_collector_restarts(pool):
    pool.roost("pool", "up", "--startds", "0")
    pool.roost("startd", "--instance", "out", "--name", NAME, "--outbound-only")
    outbound_slot(pool)
    log = pool.home / "log" / "startd-out.log"
    pool.kill("matchmaker")
    pool.roost("matchmaker")
    deadline = time.monotonic() + 30
    while log.read_text().count("registered with the broker at") < 2:
        assert time.monotonic() < deadline, pool.logs()
        time.sleep(0.1)
    outbound_slot(pool)
    cluster = pool.submit(sweep(pool, 2))
    assert len(pool.wait_done(cluster, 2)) == 2


@pytest.fixture
def tls_pool(tmp_path, make_certificates):
    directory = tmp_path / "tls"
    directory.mkdir()
    make_certificates(directory)
    secured = Pool(tmp_path / "home")
    for key, name in (("CA", "ca.pem"), ("KEY", "server.key"), ("CERT", "server.pem")):
        secured.env[f"ROOST_TLS_{key}"] = str(directory / name)
    secured.config = load_config(env=secured.env)
    yield secured
    secured.roost("pool", "down", check=False)


def test_tls_stays_end_to_end_through_the_broker(tls_pool):
    pool = tls_pool
    pool.roost("pool", "up", "--startds", "0")
    # The certificate is for localhost: the name the schedd checks the startd's for.
    pool.roost("startd", "--instance", "out", "--name", "localhost", "--outbound-only")
    cluster = pool.submit(sweep(pool, 2))
    done = pool.wait_done(cluster, 2)
    assert {ad.eval("LastRemoteHost").partition("@")[2] for ad in done} == {"localhost"}
