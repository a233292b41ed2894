"""``roost startd`` as a real process beside a real collector on loopback: its ads carry
this machine's resources, a schedd claims a slot and runs a job over gRPC, SIGTERM
withdraws everything, and glide-ins leave when idle, at the end of their lifetime, or on
SIGTERM with their jobs vacated, always exiting 0."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

import classad
from roost import security
from roost.client import Collector, Startd
from roost.config import load_config
from roost.errors import RoostError

from ..daemons import Daemons

NAME = "node1.test"
ME = pwd.getpwuid(os.geteuid()).pw_name


class Pool:
    """A collector, startds as foreground processes, and tokens for a schedd and a
    negotiator."""

    def __init__(self, tmp_path) -> None:
        home = tmp_path / "home"
        home.mkdir()
        self.daemons = Daemons(home)
        self.daemons.env["ROOST_STARTD_POLL_INTERVAL"] = "1"
        self.daemons.start("matchmaker")
        self.home = home
        self.config = load_config(env=self.daemons.env)
        key = security.SigningKey.load(security.key_path(home))
        self.schedd_token = security.daemon_token(key, "schedd@test", ["advertise-schedd"], 600)
        self.negotiator_token = security.daemon_token(key, "negotiator@test", ["negotiate"],
                                                      600)
        self.startds: list[subprocess.Popen] = []
        self.log = tmp_path / "startd.log"

    def startd(self, *args: str, name: str = NAME, env: dict | None = None) -> subprocess.Popen:
        env = {**self.daemons.env, **(env or {})}
        address_file = Path(env["ROOST_HOME"]) / "run" / "startd.address"
        address_file.unlink(missing_ok=True)
        with open(self.log, "a") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "roost", "startd", "--foreground", "--name", name,
                 "--execute-dir", str(self.home / "execute"), *args],
                env=env, stdout=log, stderr=log)
        self.startds.append(process)
        deadline = time.monotonic() + 30
        while not address_file.exists():
            assert process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)
        self.address = address_file.read_text().strip()
        return process

    def slots(self, private: bool = False) -> dict[str, classad.ClassAd]:
        with Collector(token=self.negotiator_token, config=self.config) as collector:
            return {ad.eval("Name"): ad
                    for ad in collector.query("Machine", include_private=private)}

    def wait_for_slots(self, predicate, timeout: float = 20) -> dict[str, classad.ClassAd]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            slots = self.slots(private=True)
            if predicate(slots):
                return slots
            time.sleep(0.1)
        raise AssertionError(f"the slots never did: {self.slots()}")

    def client(self) -> Startd:
        return Startd(self.address, self.schedd_token, config=self.config)

    def close(self) -> None:
        for process in self.startds:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.daemons.stop_all()


@pytest.fixture
def pool(tmp_path):
    pool = Pool(tmp_path)
    yield pool
    pool.close()


def job(script: str, **attributes) -> classad.ClassAd:
    ad = classad.ClassAd({"Cmd": "/bin/sh", "Arguments": f"-c '{script}'", "Owner": ME,
                          "ClusterId": 7, "ProcId": 0, "RequestCpus": 1,
                          "RequestMemory": 128, "RequestDisk": 1024})
    for name, value in attributes.items():
        ad[name] = value
    return ad


def test_the_slots_carry_this_machines_resources(pool):
    pool.startd()
    slots = pool.wait_for_slots(lambda slots: f"slot1@{NAME}" in slots)
    assert list(slots) == [f"slot1@{NAME}"]
    ad = slots[f"slot1@{NAME}"]
    cpus = len(os.sched_getaffinity(0))
    assert (ad.eval("SlotType"), ad.eval("TotalCpus"), ad.eval("Cpus")) == (
        "Partitionable", cpus, cpus)
    memory = psutil.virtual_memory().total // 2**20
    assert 0 < ad.eval("Memory") <= memory and ad.eval("Disk") > 0
    assert (ad.eval("State"), ad.eval("Activity")) == ("Unclaimed", "Idle")
    assert ad.eval("MyAddress") == pool.address and ad.eval("OpSys") == "LINUX"
    assert isinstance(ad.eval("KeyboardIdle"), int) and isinstance(ad.eval("LoadAvg"), float)
    assert str(ad.lookup("Requirements")) == "START && WithinResourceLimits"
    assert isinstance(ad.eval("ClaimId"), str)  # private: the negotiator sees it
    assert "ClaimId" not in pool.slots(private=False)[f"slot1@{NAME}"]


def test_a_schedd_claims_a_slot_and_runs_jobs(pool, tmp_path):
    pool.startd("--slots", "2", "--cpus", "2", "--memory", "1024",
                "--attribute", 'Site="campus"')
    slots = pool.wait_for_slots(lambda slots: len(slots) == 2)
    ad = slots[f"slot2@{NAME}"]
    assert (ad.eval("Cpus"), ad.eval("Memory"), ad.eval("Site")) == (1, 512, "campus")
    with pool.client() as startd:
        assert not startd.request_claim("forged", job("true")).accepted
        claim = startd.request_claim(ad.eval("ClaimId"), job("true"), lease=60)
        assert claim.accepted and claim.slot_ad.eval("State") == "Claimed"
        out = tmp_path / "out"
        events = list(startd.activate(claim.claim_id, job("echo $0 hello", Out=str(out))))
        assert [event.kind for event in events] == ["started", "exited"]
        assert events[-1].attrs.eval("ExitCode") == 0 and out.read_text() == "/bin/sh hello\n"
        # The claim's next runs go over the same RunJobs stream, one after another.
        stream = startd._runs
        for code in (3, 4):
            again = list(startd.activate(claim.claim_id, job(f"exit {code}")))
            assert [e.kind for e in again] == ["started", "exited"]
            assert again[-1].attrs.eval("ExitCode") == code
        assert startd._runs is stream
        # A run refused (a claim id that is not this claim's) ends that stream only.
        with pytest.raises(RoostError):
            list(startd.activate("forged", job("true")))
        assert startd._runs is None
        assert list(startd.activate(claim.claim_id, job("true")))[-1].kind == "exited"
        assert startd.keep_alive(claim.claim_id) == "Claimed/Idle"
        pool.wait_for_slots(lambda slots: slots[f"slot2@{NAME}"].eval("State") == "Claimed")
        assert startd.release(claim.claim_id)
        assert startd.keep_alive(claim.claim_id) == ""
    pool.wait_for_slots(lambda slots: slots[f"slot2@{NAME}"].eval("State") == "Unclaimed")


def test_a_startd_with_a_token_and_no_pool_key_takes_claims_by_their_claim_id(pool, tmp_path):
    # An execute host that was given one file, its startd token, and nothing else.
    desk = tmp_path / "desk"
    desk.mkdir()
    token = desk / "startd.token"
    key = security.SigningKey.load(security.key_path(pool.home))
    security.write_token(token, security.daemon_token(key, f"startd@{NAME}",
                                                      ["advertise-startd"], 600))
    pool.startd("--token", str(token), env={"ROOST_HOME": str(desk / "home")})
    assert not security.key_path(desk / "home").exists()
    slots = pool.wait_for_slots(lambda slots: f"slot1@{NAME}" in slots)
    claim_id = slots[f"slot1@{NAME}"].eval("ClaimId")
    # It cannot check tokens: the claim id is the credential, and a forged one is refused.
    with Startd(pool.address, "not-a-token", config=pool.config) as startd:
        assert not startd.request_claim("forged", job("true")).accepted
        claim = startd.request_claim(claim_id, job("true"), lease=60)
        assert claim.accepted
        events = list(startd.activate(claim.claim_id, job("exit 5")))
        assert [event.kind for event in events] == ["started", "exited"]
        assert events[-1].attrs.eval("ExitCode") == 5
        assert startd.keep_alive(claim.claim_id) == "Claimed/Idle"
        assert startd.release(claim.claim_id)
        # Drain needs an admin's token, which it cannot verify: refused, saying why.
        with pytest.raises(RoostError, match=r"^permission denied by the startd at .*: this "
                                             r"startd has no pool key to verify the admin "
                                             r"token Drain needs"):
            startd.drain()


@pytest.mark.parametrize("given", ["join file", "pool.pub"])
def test_a_startd_with_a_token_and_the_public_key_checks_admin_tokens(pool, tmp_path, given):
    # The host was given its token and the pool's public key (in its join file, as roost
    # token create --out writes it, or as keys/pool.pub): it can verify, never sign.
    desk = tmp_path / "desk"
    keys = desk / "home" / "keys"
    keys.mkdir(parents=True)
    key = security.SigningKey.load(security.key_path(pool.home))
    token = desk / "startd.token"
    made = security.daemon_token(key, f"startd@{NAME}", ["advertise-startd"], 600)
    if given == "join file":
        security.write_token(token, made, key.public)
    else:
        security.write_token(token, made)
        (keys / "pool.pub").write_bytes(key.public.pem())
    pool.startd("--token", str(token), env={"ROOST_HOME": str(desk / "home")})
    pool.wait_for_slots(lambda slots: f"slot1@{NAME}" in slots)
    assert sorted(os.listdir(keys)) == ([] if given == "join file" else ["pool.pub"])
    forged = security.create_token(security.SigningKey.generate(), "admin@pool", ["admin"], 60)
    with Startd(pool.address, forged, config=pool.config) as startd, \
            pytest.raises(RoostError, match="did not accept the token: token signature"):
        startd.drain()
    admin = security.create_token(key, "admin@pool", ["admin"], 60)
    with Startd(pool.address, admin, config=pool.config) as startd:
        startd.drain()
    pool.wait_for_slots(lambda slots: slots[f"slot1@{NAME}"].eval("State") == "Drained")


def test_a_start_that_is_false_without_a_job_is_warned_of_at_start(pool):
    pool.startd("--slots", "2", "--cpus", "2", "--start", 'TARGET.Project =?= "physics"')
    warning = (f"slot1@{NAME}, slot2@{NAME}: START is False without a job (START = "
               'TARGET.Project =?= "physics"), so IS_OWNER is true')
    advice = 'Write TARGET.Project == "physics" rather than TARGET.Project =?= "physics"'
    for where in (pool.log, pool.home / "log" / "startd.log"):  # stderr, and the log
        assert warning in where.read_text() and advice in where.read_text()
    slots = pool.wait_for_slots(lambda slots: len(slots) == 2)
    assert {ad.eval("State") for ad in slots.values()} == {"Owner"}


def test_a_start_that_is_undefined_without_a_job_is_not(pool):
    pool.startd("--start", 'TARGET.Project == "physics"')
    pool.wait_for_slots(lambda slots: slots.get(f"slot1@{NAME}") is not None
                        and slots[f"slot1@{NAME}"].eval("State") == "Unclaimed")
    assert "WARNING" not in pool.log.read_text()


def test_a_schedd_without_the_scope_is_refused(pool):
    pool.startd()
    ad = pool.wait_for_slots(lambda slots: bool(slots))[f"slot1@{NAME}"]
    with (Startd(pool.address, pool.negotiator_token, config=pool.config) as startd,
          pytest.raises(RoostError, match="advertise-schedd")):
        startd.request_claim(ad.eval("ClaimId"), job("true"))


def test_sigterm_vacates_the_job_and_withdraws_the_ads(pool):
    process = pool.startd()
    ad = pool.wait_for_slots(lambda slots: bool(slots))[f"slot1@{NAME}"]
    with pool.client() as startd:
        claim = startd.request_claim(ad.eval("ClaimId"), job("true"))
        assert claim.accepted
        pool.wait_for_slots(lambda slots: f"slot1_1@{NAME}" in slots)
        events = startd.activate(claim.claim_id, job("sleep 300"))
        assert next(events).kind == "started"
        process.send_signal(signal.SIGTERM)
        ended = list(events)[-1]
    assert (ended.kind, ended.attrs.eval("Failure"), ended.attrs.eval("ExitSignal")) == (
        "evicted", "evicted", signal.SIGTERM)
    assert process.wait(30) == 0
    assert pool.slots() == {}


def test_a_glidein_leaves_when_idle(pool):
    began = time.monotonic()
    process = pool.startd("--glidein", "--idle-timeout", "2", "--lifetime", "3600")
    ad = pool.wait_for_slots(lambda slots: bool(slots))[f"slot1@{NAME}"]
    assert ad.eval("IsGlidein") is True and ad.eval("GLIDEIN_ToDie") > time.time() + 3000
    assert process.wait(30) == 0
    assert time.monotonic() - began < 20
    assert pool.slots() == {}


def test_a_glidein_takes_only_jobs_that_fit_its_lifetime(pool):
    pool.startd("--glidein", "--lifetime", "3600", env={"SLURM_JOB_ID": "4242"})
    ad = pool.wait_for_slots(lambda slots: bool(slots))[f"slot1@{NAME}"]
    assert ad.eval("GLIDEIN_BatchJobId") == "4242"
    with pool.client() as startd:
        too_long = startd.request_claim(ad.eval("ClaimId"), job("true", MaxRuntime=7200))
        assert not too_long.accepted and "Start is FALSE" in too_long.reason
        assert startd.request_claim(ad.eval("ClaimId"), job("true", MaxRuntime=600)).accepted


def test_a_glidein_leaves_a_minute_before_its_allocation_ends(pool):
    end = int(time.time()) + 64
    process = pool.startd("--glidein", env={"SLURM_JOB_ID": "77", "SLURM_CPUS_ON_NODE": "1",
                                            "SLURM_JOB_END_TIME": str(end)})
    began = time.monotonic()
    assert process.wait(30) == 0
    assert time.monotonic() - began < 15
    assert pool.slots() == {}
    assert "leaving: the allocation is about to end" in pool.log.read_text()


def test_sigterm_to_a_glidein_evicts_its_job_for_walltime(pool):
    process = pool.startd("--glidein", "--lifetime", "3600")
    ad = pool.wait_for_slots(lambda slots: bool(slots))[f"slot1@{NAME}"]
    ended = []
    with pool.client() as startd:
        claim = startd.request_claim(ad.eval("ClaimId"), job("true"))
        events = startd.activate(claim.claim_id, job("sleep 300"))
        assert next(events).kind == "started"
        reader = threading.Thread(target=lambda: ended.extend(events))
        reader.start()
        process.send_signal(signal.SIGTERM)
        reader.join(30)
    assert (ended[-1].kind, ended[-1].attrs.eval("Failure")) == ("evicted", "walltime")
    assert process.wait(30) == 0


def test_in_the_background_as_a_user_starts_it(pool):
    pool.daemons.env["ROOST_STARTD_NAME"] = NAME
    pool.daemons.env["ROOST_STARTD_CPUS"] = "3"
    pool.daemons.env["ROOST_STARTD_SLOTS"] = "4"
    with pytest.raises(AssertionError, match="slot 4 .* would get 0 CPUs"):
        pool.daemons.start("startd")
    pool.daemons.env["ROOST_STARTD_SLOTS"] = "3"
    pool.daemons.start("startd")
    slots = pool.wait_for_slots(lambda slots: len(slots) == 3)
    assert sorted(slots) == [f"slot{n}@{NAME}" for n in (1, 2, 3)]
    assert (pool.home / "execute").is_dir()
    pool.daemons.kill("startd", signal.SIGTERM)
    assert pool.slots() == {}
