"""Glide-in benchmark: pilots on a real single-node Slurm cluster (tests/slurm_cluster.py:
2 cores, started by the benchmark) joining a personal pool (``roost pool up --startds 0``).

- **First job**: from ``roost glidein submit`` to the first job running in the pilot, split
  into the batch queue's wait (submit -> the batch script starts: its output file appears)
  and the pilot's start-up (the batch script starts -> the job writes its first line),
  itself split into the startd's start (-> its slot is in the collector) and matchmaking
  (-> the job runs).  The job is queued before the pilot, as a user's would be.  Target
  for the start-up: under 2 s.  Reference, in the same run: the same start-up for a plain
  ``roost startd`` started as a local process, without Slurm.
- **Burst**: N one-second jobs (default 500) through 2 one-CPU pilots: the makespan (from
  the first submission to the end of the last job) and the allocation efficiency: the
  job-seconds (each job times its own run) over the core-seconds Slurm allocated (its
  start and end times of each batch job, whole seconds, times its CPUs).  Slurm counts
  whole seconds, so a one-second sbatch job is charged about one second and the gaps
  between such jobs show in the makespan instead; "node busy" (job-seconds over the
  makespan times the node's 2 cores) shows them.  Reference, in the same run: the same N
  jobs as N separate one-CPU sbatch jobs.

    python bench/glidein_bench.py [--jobs 500] [--idle-timeout 10] [--samples 3]

Run as root (slurmctld and slurmd run as root here); needs slurmctld, slurmd and the Slurm
client commands (``apt-get install slurmctld slurmd slurm-client``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slurm_cluster import SlurmCluster  # noqa: E402

# The burst runs longer than Slurm's default 5 minutes of memory for ended jobs, whose
# start and end times the efficiency needs.
CLUSTER_CONFIG = ("MinJobAge=3600",)
POLL = 0.01  # seconds between looks while timing the first job


class Site:
    """A personal pool with no startd under a temporary roost home, beside the cluster."""

    def __init__(self, cluster: SlurmCluster) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="roost-bench-glidein-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.env = {**cluster.env, "ROOST_HOME": str(self.home),
                    "ROOST_MATCHMAKER_ADDRESS": f"127.0.0.1:{port}",
                    "ROOST_LOG_LEVEL": "WARNING"}
        # The clients made in this process read the same configuration.
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("ROOST_")})
        self.cluster = cluster

    def roost(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "roost", *args], env=self.env,
                              capture_output=True, text=True, cwd=self.home)
        if done.returncode != 0:
            raise SystemExit(f"roost {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def submit_pilot(self, *options: str) -> str:
        # The pilot's output where this reads it (by default it stays on the node's /tmp).
        out = self.roost("glidein", "submit", "--slurm", "--cpus-per-node", "1",
                         "--output-dir", str(self.home / "glidein"), *options)
        match = re.match(r"submitted pilot (\d+):", out)
        if not match:
            raise SystemExit(f"no job id in: {out}")
        return match.group(1)

    def submit_jobs(self, count: int, seconds: float, record: Path) -> int:
        """``count`` jobs that sleep ``seconds`` and append "start end" to ``record``."""
        from roost.client import Schedd

        run = (f"t0=$(date +%s.%N); sleep {seconds}; echo $t0 $(date +%s.%N) >> {record}"
               if seconds else f"date +%s.%N >> {record}")
        description = (f"executable = /bin/sh\narguments = \"-c '{run}'\"\n"
                       f"request_memory = 64\nqueue {count}\n")
        with Schedd() as schedd:
            return schedd.submit(description, cwd=str(self.home)).cluster()

    def down(self) -> None:
        self.roost("glidein", "cancel")
        self.roost("pool", "down")
        shutil.rmtree(self.home, ignore_errors=True)


def wait_for_file(path: Path, timeout: float = 120.0, *, written: bool = True) -> float:
    """When ``path`` exists (and, if ``written``, has something in it)."""
    deadline = time.monotonic() + timeout
    while not path.exists() or (written and not path.read_text().strip()):
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(POLL)
    return time.time()


def first_slot_time(since: float, timeout: float = 120.0) -> float:
    """When the collector first shows a slot, looked at every POLL seconds."""
    from roost.client import Collector

    deadline = time.monotonic() + timeout
    with Collector(timeout=5.0) as collector:
        while not collector.query("Machine", projection=["Name"]):
            if time.monotonic() > deadline:
                raise SystemExit(f"no slot within {timeout:.0f} s")
            time.sleep(POLL)
    return time.time() - since


def wait_until_empty(timeout: float = 600.0) -> None:
    """Until the collector has no slot (the pilots or startd of a sample have left)."""
    from roost.client import Collector

    deadline = time.monotonic() + timeout
    with Collector(timeout=5.0) as collector:
        while collector.query("Machine", projection=["Name"]):
            if time.monotonic() > deadline:
                raise SystemExit("slots still in the collector")
            time.sleep(0.2)


def first_job_via_pilot(site: Site, sample: int) -> tuple[float, float, float, float]:
    """(queue wait, startd start, matchmaking, total) in seconds for one pilot."""
    record = site.home / f"first-{sample}"
    site.submit_jobs(1, 0, record)
    before = set((site.home / "glidein").glob("*.out"))
    submitted = time.time()
    pilot = site.submit_pilot("--time", "00:05:00", "--idle-timeout", "60")
    output = site.home / "glidein" / f"roost-glidein-{pilot}.out"
    assert output not in before
    # slurmstepd makes the output file as the batch script starts (the startd, logging
    # only warnings here, may write nothing to it).
    batch_started = wait_for_file(output, written=False) - submitted
    advertised = first_slot_time(submitted)
    wait_for_file(record)
    ran = float(record.read_text().split()[0]) - submitted
    site.roost("glidein", "cancel", pilot)
    wait_until_empty()
    return batch_started, advertised - batch_started, ran - advertised, ran


def first_job_via_local_startd(site: Site, sample: int) -> tuple[float, float, float]:
    """(startd start, matchmaking, total) for a plain ``roost startd`` on this host."""
    record = site.home / f"local-{sample}"
    site.submit_jobs(1, 0, record)
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-m", "roost", "startd", "--foreground", "--instance",
         f"bench-{sample}", "--name", f"bench-{sample}", "--cpus", "1"],
        env=site.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=site.home)
    advertised = first_slot_time(started)
    wait_for_file(record)
    ran = float(record.read_text().split()[0]) - started
    process.terminate()
    process.wait(timeout=120)
    wait_until_empty()
    return advertised, ran - advertised, ran


def slurm_times(cluster: SlurmCluster, job_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Start and end (epoch seconds) of ended batch jobs, as Slurm recorded them."""
    env = {**cluster.env, "SLURM_TIME_FORMAT": "%s"}
    out = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i %S %e",
                          f"--jobs={','.join(job_ids)}"], env=env, capture_output=True,
                         text=True, check=True).stdout
    times = {}
    for line in out.splitlines():
        job_id, start, end = line.split()
        times[job_id] = (int(start), int(end))
    return times


def wait_ended(cluster: SlurmCluster, job_ids: list[str], timeout: float = 1800.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run(["squeue", "--noheader", "--format=%i",
                              f"--jobs={','.join(job_ids)}"], env=cluster.env,
                             capture_output=True, text=True).stdout
        if not out.split():
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"batch jobs still running after {timeout:.0f} s")
        time.sleep(1.0)


def job_seconds(record: Path, count: int, timeout: float = 1800.0) -> tuple[float, float]:
    """(sum of the jobs' own run times, end of the last) once all ``count`` have run."""
    deadline = time.monotonic() + timeout
    while True:
        lines = record.read_text().splitlines() if record.exists() else []
        if len(lines) >= count:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(lines)} of {count} jobs ran")
        time.sleep(0.5)
    spans = [(float(a), float(b)) for a, b in (line.split() for line in lines)]
    if len(spans) != count:
        raise SystemExit(f"{len(spans)} runs recorded for {count} jobs: some ran twice")
    return sum(b - a for a, b in spans), max(b for _, b in spans)


def burst_via_pilots(site: Site, cluster: SlurmCluster, count: int,
                     idle_timeout: int) -> tuple[float, float, float]:
    """(makespan, job-seconds, allocated core-seconds) for ``count`` jobs via 2 pilots."""
    record = site.home / "burst-pilots"
    began = time.time()
    pilots = [site.submit_pilot("--time", "01:00:00", "--idle-timeout", str(idle_timeout))
              for _ in range(2)]
    site.submit_jobs(count, 1, record)
    used, last_end = job_seconds(record, count)
    wait_ended(cluster, pilots)
    allocated = sum(end - start for start, end in slurm_times(cluster, pilots).values())
    return last_end - began, used, float(allocated)


def burst_via_sbatch(site: Site, cluster: SlurmCluster, count: int) -> tuple[float, float,
                                                                            float]:
    """The same jobs as ``count`` separate one-CPU sbatch jobs."""
    record = site.home / "burst-sbatch"
    run = f"t0=$(date +%s.%N); sleep 1; echo $t0 $(date +%s.%N) >> {record}"
    began = time.time()
    job_ids = []
    for _ in range(count):
        out = subprocess.run(["sbatch", "--parsable", "--ntasks=1", "--cpus-per-task=1",
                              "--job-name=bench-burst", "--output=/dev/null", f"--wrap={run}"],
                             env=cluster.env, capture_output=True, text=True, check=True)
        job_ids.append(out.stdout.strip().partition(";")[0])
    used, last_end = job_seconds(record, count)
    wait_ended(cluster, job_ids)
    allocated = sum(end - start for start, end in slurm_times(cluster, job_ids).values())
    return last_end - began, used, float(allocated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--idle-timeout", type=int, default=10,
                        help="the burst pilots' idle timeout, seconds (default 10)")
    parser.add_argument("--samples", type=int, default=3,
                        help="first-job samples of each kind (default 3)")
    options = parser.parse_args()
    with SlurmCluster(CLUSTER_CONFIG) as cluster:
        site = Site(cluster)
        try:
            site.roost("pool", "up", "--startds", "0")
            pilot_samples = [first_job_via_pilot(site, n) for n in range(options.samples)]
            local_samples = [first_job_via_local_startd(site, n)
                             for n in range(options.samples)]
            pilots = burst_via_pilots(site, cluster, options.jobs, options.idle_timeout)
            sbatch = burst_via_sbatch(site, cluster, options.jobs)
        finally:
            site.down()

    def median(samples, i):
        return statistics.median(sample[i] for sample in samples)

    queue, startd, matching, total = (median(pilot_samples, i) for i in range(4))
    print(f"first job via a pilot, median of {options.samples}: {total:.2f} s from "
          f"'roost glidein submit' to the job running")
    print(f"  batch queue wait     submit -> batch script starts      {queue:6.2f} s")
    print(f"  pilot start-up       batch script -> job running        {startd + matching:6.2f} s"
          f" (target < 2 s)")
    print(f"    startd start       batch script -> slot advertised    {startd:6.2f} s")
    print(f"    matchmaking        slot advertised -> job running     {matching:6.2f} s")
    local_startd, local_matching, local_total = (median(local_samples, i) for i in range(3))
    print(f"  reference: a plain 'roost startd' started on this host: {local_total:.2f} s to "
          f"the job running ({local_startd:.2f} s to its slot, {local_matching:.2f} s "
          f"matchmaking)")
    print(f"burst of {options.jobs} one-second jobs on the 2-core node (node busy: "
          f"job-seconds over the makespan's core-seconds):")
    for label, (makespan, used, allocated) in (("2 pilots (1 CPU each)", pilots),
                                               (f"{options.jobs} sbatch jobs", sbatch)):
        print(f"  {label:<22} makespan {makespan:7.1f} s  job-seconds {used:7.1f}  "
              f"allocated core-seconds {allocated:7.0f}  efficiency {used / allocated:5.1%}  "
              f"node busy {used / (2 * makespan):5.1%}")
    print(f"  pilots / sbatch: makespan x{pilots[0] / sbatch[0]:.2f}, efficiency "
          f"x{(pilots[1] / pilots[2]) / (sbatch[1] / sbatch[2]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
