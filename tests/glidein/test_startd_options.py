"""What the pilots ask of ``roost startd``: ``--retire-margin`` (short pilots still take
jobs) and a startd given a token naming its slots after it (the collector lets
``startd@NAME`` advertise only ``slotN@NAME``)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from roost import security

from ..startd.test_startd_daemon import NAME, Pool, job


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path)
    yield pool
    pool.close()


def test_a_short_glidein_takes_jobs_with_a_short_retire_margin(pool):
    # It leaves a minute before its 90 s end: 30 s to live, less than the default 600 s
    # retire margin, more than 5.
    pool.startd("--glidein", "--lifetime", "90", "--retire-margin", "5")
    ad = pool.wait_for_slots(lambda slots: bool(slots))[f"slot1@{NAME}"]
    assert "(TimeToLive > 5)" in str(ad.lookup("Start"))
    with pool.client() as startd:
        assert startd.request_claim(ad.eval("ClaimId"), job("true")).accepted


def test_by_default_a_short_glidein_takes_no_job_without_max_runtime(pool):
    pool.startd("--glidein", "--lifetime", "90")
    ad = pool.wait_for_slots(lambda slots: bool(slots))[f"slot1@{NAME}"]
    with pool.client() as startd:
        refused = startd.request_claim(ad.eval("ClaimId"), job("true"))
        # Retiring at once, the slot goes to Owner, as retiring glideins do.
        assert not refused.accepted and refused.reason == "the slot is Owner/Idle"


def test_retire_margin_is_for_glideins(pool, tmp_path):
    done = subprocess.run([sys.executable, "-m", "roost", "startd", "--foreground",
                           "--retire-margin", "5", "--policy", "always"],
                          env=pool.daemons.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == \
        "roost: --retire-margin is for the glidein policy, not always"


def test_a_startd_with_a_token_takes_its_name(pool, tmp_path):
    key = security.SigningKey.load(security.key_path(pool.home))
    token_file = tmp_path / "pilot.token"
    security.write_token(token_file, security.create_token(
        key, "startd@glidein-7.node3", ["advertise-startd"], 600))
    with open(pool.log, "a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "roost", "startd", "--glidein", "--token", str(token_file),
             "--execute-dir", str(pool.home / "execute"), "--lifetime", "3600"],
            env=pool.daemons.env, stdout=log, stderr=log)
    pool.startds.append(process)
    slots = pool.wait_for_slots(lambda slots: bool(slots))
    assert list(slots) == ["slot1@glidein-7.node3"], pool.log.read_text()
    process.terminate()
    assert process.wait(30) == 0
    deadline = time.monotonic() + 10
    while pool.slots() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pool.slots() == {}
