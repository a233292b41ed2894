"""The factory end to end on a real single-node Slurm cluster (tests/slurm_cluster.py): a
pool with no startd, a burst of jobs, and ``roost glidein factory`` bringing up pilots for
them and letting them go once the jobs are done."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roost.client import Collector, Schedd
from roost.config import load_config
from startd.glidein.factory import QUEUED, RUNNING
from startd.glidein.pilot import PilotSpec
from startd.glidein.slurm import Slurm
from startd.glidein.template import pilot_ad

from ..daemons import free_port
from ..slurm_cluster import INSTALL_HINT, SlurmCluster, missing_programs

TIMEOUT = 150.0
JOBS = 8

# One Slurm cluster at a time: these modules share one xdist worker (scripts/test).
pytestmark = [pytest.mark.xdist_group("slurm"),
              pytest.mark.skipif(bool(missing_programs()),
                                 reason=f"Slurm is not installed ({INSTALL_HINT})")]


@pytest.fixture
def cluster():
    with SlurmCluster() as cluster:
        yield cluster


class Site:
    """A personal pool (``roost pool up --startds 0``) beside the Slurm cluster."""

    def __init__(self, home: Path, cluster: SlurmCluster) -> None:
        home.mkdir(parents=True)
        self.home = home
        self.cluster = cluster
        self.env = {**cluster.env, "ROOST_HOME": str(home),
                    "ROOST_MATCHMAKER_ADDRESS": f"127.0.0.1:{free_port()}",
                    "ROOST_MATCHMAKER_NEGOTIATOR_INTERVAL": "2",
                    "ROOST_STARTD_POLL_INTERVAL": "1",
                    "ROOST_SCHEDD_UPDATE_INTERVAL": "5",
                    # As root, the pilots' startds run the jobs as root.
                    **({"ROOST_STARTD_RUN_AS": "root"} if os.geteuid() == 0 else {})}
        self.config = load_config(env=self.env)
        self.slurm = Slurm(self.env)

    def roost(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "roost", *args], env=self.env,
                              capture_output=True, text=True, timeout=120, cwd=self.home)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def factory(self, *args: str) -> subprocess.Popen:
        log = open(self.home / "factory.log", "w")  # noqa: SIM115 (the child keeps it)
        with log:
            return subprocess.Popen([sys.executable, "-m", "roost", "glidein", "factory",
                                     "--slurm", "--output-dir", str(self.home / "glidein"),
                                     *args], env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=self.home)

    def factory_log(self) -> str:
        return (self.home / "factory.log").read_text()

    def live_pilots(self) -> list:
        return [job for job in self.slurm.jobs()
                if job.state in QUEUED or job.state == RUNNING]

    def pilot_slot(self):
        """A partitionable slot of a pilot, if one is advertised."""
        with Collector(config=self.config) as collector:
            ads = collector.query("Machine", constraint="GLIDEIN_BatchJobId =!= undefined "
                                                        "&& PartitionableSlot =?= true")
        return ads[0] if ads else None

    def history(self, cluster_id: int) -> list:
        with Schedd(config=self.config) as schedd:
            return list(schedd.history(f"ClusterId == {cluster_id}"))

    def diagnosis(self) -> str:
        outputs = "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
                            for path in sorted((self.home / "glidein").glob("*.out")))
        return (f"--- factory\n{self.factory_log()}\n{outputs}\n"
                f"--- squeue\n{self.cluster.run('squeue', '--states=all').stdout}\n"
                f"{self.cluster.logs()}")


@pytest.fixture
def site(tmp_path, cluster):
    site = Site(tmp_path / "home", cluster)
    site.roost("pool", "up", "--startds", "0")
    yield site
    subprocess.run([sys.executable, "-m", "roost", "pool", "down"], env=site.env,
                   capture_output=True, timeout=120)


def wait_for(condition, what: str, site: Site, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s\n{site.diagnosis()}")


def test_the_factory_scales_from_zero_to_two_pilots_for_a_burst_and_back_to_zero(site):
    with Schedd(config=site.config) as schedd:
        cluster_id = schedd.submit(
            f'executable = /bin/sh\narguments = "-c \'sleep 3\'"\nqueue {JOBS}\n',
            cwd=str(site.home)).cluster()
    # One CPU per pilot, so the two pilots fit the cluster's two CPUs and both run.
    factory = site.factory("--max-pilots", "2", "--per-pilot-cpus", "1",
                           "--time", "00:05:00", "--idle-timeout", "10", "--interval", "2")
    try:
        most = 0
        slots = []

        def all_done():
            nonlocal most
            most = max(most, len(site.live_pilots()))
            if not slots:
                slots.extend(ad for ad in [site.pilot_slot()] if ad is not None)
            return len(site.history(cluster_id)) == JOBS

        wait_for(all_done, f"the {JOBS} jobs did not finish", site)
        assert slots, site.diagnosis()
        real = slots[0]
        # The factory's template is what a real pilot advertises.
        spec = PilotSpec(site.config.get("matchmaker", "address"), walltime=300,
                         cpus_per_node=1, idle_timeout=10)
        template = pilot_ad(spec, real.eval("MyCurrentTime"))
        for name in ("Start", "Requirements", "WithinResourceLimits", "KILL", "SlotType",
                     "TotalSlotCpus", "IsGlidein", "IS_GLIDEIN", "OpSys", "Arch"):
            assert str(real.lookup(name)) == str(template.lookup(name)), name
        # The real pilot's lifetime counts from its start, a little before its ad's time.
        assert abs(real.eval("GLIDEIN_ToDie") - template.eval("GLIDEIN_ToDie")) <= 30
        assert {name.lower() for name in template} <= {name.lower() for name in real}, (
            sorted({name.lower() for name in template} - {name.lower() for name in real}))
        submitted = [line.split()[4] for line in site.factory_log().splitlines()
                     if " submitted pilot " in line]
        assert len(submitted) == 2 and most <= 2, site.diagnosis()
        hosts = {str(ad.eval("LastRemoteHost")) for ad in site.history(cluster_id)}
        assert all(re.search(rf"@glidein-[0-9a-f]{{8}}-{job_id}\.", " ".join(hosts))
                   for job_id in submitted), hosts

        # No job is left: the pilots give their allocations back after their idle timeout.
        wait_for(lambda: not site.live_pilots(), "the pilots did not leave", site,
                 timeout=90)
        assert {site.cluster.job_state(job_id) for job_id in submitted} == {"COMPLETED"}
        time.sleep(5)  # a few more cycles: nothing is submitted for no demand
        log = site.factory_log()
        assert len([line for line in log.splitlines() if " submitted pilot " in line]) == 2
        assert "strike" not in log and "failed" not in log, log
        assert factory.poll() is None, log
    finally:
        factory.send_signal(signal.SIGINT)
        factory.wait(timeout=30)
    assert factory.returncode == 130


def test_a_queued_pilot_is_cancelled_once_its_jobs_are_gone(site):
    with Schedd(config=site.config) as schedd:
        cluster_id = schedd.submit(
            f'executable = /bin/sh\narguments = "-c \'sleep 2\'"\nqueue {JOBS}\n',
            cwd=str(site.home)).cluster()
    # A pilot takes both of the cluster's CPUs: the second waits in the queue until the
    # first has run every job, and is then no longer wanted.
    factory = site.factory("--max-pilots", "2", "--per-pilot-cpus", "2",
                           "--time", "00:05:00", "--idle-timeout", "10", "--interval", "2")
    try:
        wait_for(lambda: len(site.history(cluster_id)) == JOBS,
                 f"the {JOBS} jobs did not finish", site)
        wait_for(lambda: not site.live_pilots(), "the pilots did not leave", site,
                 timeout=90)
        log = site.factory_log()
        submitted = [line.split()[4] for line in log.splitlines()
                     if " submitted pilot " in line]
        assert len(submitted) == 2, log
        first, second = submitted
        assert f"cancel pilot {second}: queued, and no job waits for it" in log, log
        assert (site.cluster.job_state(first), site.cluster.job_state(second)) == (
            "COMPLETED", "CANCELLED")
        assert "strike" not in log, log
    finally:
        factory.send_signal(signal.SIGINT)
        factory.wait(timeout=30)
