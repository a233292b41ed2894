"""Pool benchmark: throughput and latency of a personal pool, and the negotiator's scale.

- **Throughput**: 2,000 ``/bin/true`` jobs through a personal pool (matchmaker, schedd, one
  startd of 2 static slots, as separate processes under a temporary roost home), from the
  submit to the last job in the history: jobs per second, beside the machine's raw spawn
  rate (``subprocess.Popen(["/bin/true"]).wait()``) measured in the same run.  Target: at
  least 200 jobs/s.
- **Latency**: on the idle pool, submit one job and time until the schedd says it runs;
  the median of 20.  Target: under 1 s.
- **Negotiator scale**: one cycle of ``matchmaker.negotiation.negotiate`` over simulated
  ads: 100,000 idle jobs in 1,000 autoclusters from 100 owners against 10,000 slots (no
  daemons).  Target: under 10 s; the matches made are printed.

    python bench/pool_bench.py [--jobs 2000] [--latency 20] [--skip-scale]
        [--negotiator-scale 1.0]

``--latency 0`` skips the latency samples.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classad import ClassAd, ExprTree  # noqa: E402
from matchmaker.negotiation import Offer, Request, Submitter, negotiate  # noqa: E402


def raw_rate(count: int = 2000) -> float:
    began = time.perf_counter()
    for _ in range(count):
        subprocess.Popen(["/bin/true"]).wait()
    return count / (time.perf_counter() - began)


class Pool:
    """A personal pool under a temporary roost home."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="roost-bench-pool-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.env = {**os.environ, "ROOST_HOME": str(self.home),
                    "ROOST_MATCHMAKER_ADDRESS": f"127.0.0.1:{port}",
                    "ROOST_STARTD_POLL_INTERVAL": "5", "ROOST_LOG_LEVEL": "WARNING"}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("ROOST_")})

    def roost(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "roost", *args], env=self.env,
                              capture_output=True, text=True, cwd=self.home)
        if done.returncode != 0:
            raise SystemExit(f"roost {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def up(self) -> None:
        self.roost("pool", "up", "--startds", "0")
        self.roost("startd", "--cpus", "2", "--slots", "2")

    def down(self) -> None:
        self.roost("pool", "down")
        shutil.rmtree(self.home, ignore_errors=True)


def throughput(pool: Pool, jobs: int) -> tuple[float, float]:
    from roost.client import Schedd

    with Schedd() as schedd:
        began = time.perf_counter()
        cluster = schedd.submit(ClassAd({"Cmd": "/bin/true"}), count=jobs).cluster()
        while True:
            left = schedd.summarize(f"ClusterId == {cluster}").clusters
            if not left or not any(left[0].counts.values()):
                break
            time.sleep(0.25)  # often enough to time it, rarely enough to cost little
        elapsed = time.perf_counter() - began
        done = list(schedd.history(f"ClusterId == {cluster}", projection=["ExitCode"]))
    if len(done) != jobs or any(ad.eval("ExitCode") != 0 for ad in done):
        raise SystemExit(f"only {len(done)} of {jobs} jobs completed cleanly")
    return jobs / elapsed, elapsed


def latency(pool: Pool, samples: int) -> list[float]:
    from roost.client import Schedd

    times = []
    with Schedd() as schedd:
        for _ in range(samples):
            began = time.perf_counter()
            cluster = schedd.submit(ClassAd({"Cmd": "/bin/sleep", "Arguments": "0.5"})).cluster()
            while not schedd.query(f"ClusterId == {cluster} && JobStatus == 2",
                                   projection=["JobStatus"]):
                if list(schedd.history(f"ClusterId == {cluster}", match=1)):
                    break
                time.sleep(0.005)
            times.append(time.perf_counter() - began)
            while schedd.query(f"ClusterId == {cluster}", projection=["JobStatus"]):
                time.sleep(0.05)  # the pool is idle again before the next sample
    return times


def scale(fraction: float) -> tuple[float, int, int, int, int]:
    """One cycle over ``fraction`` of the simulated pool: its seconds, the matches made,
    and the jobs, owners and slots it had."""
    rng = random.Random(1)
    slots, owners = max(8, int(10_000 * fraction)), max(1, int(100 * fraction))
    within = ExprTree("MY.Cpus > 0 && TARGET.RequestCpus <= MY.Cpus && MY.Memory > 0 && "
                      "TARGET.RequestMemory <= MY.Memory && MY.Disk > 0 && "
                      "TARGET.RequestDisk <= MY.Disk")
    offers = []
    for n in range(slots):
        ad = ClassAd({"Name": f"slot{n % 8 + 1}@node{n // 8}", "Machine": f"node{n // 8}",
                      "SlotID": n % 8 + 1, "Cpus": 1, "Memory": rng.choice([2048, 4096]),
                      "Disk": 10**7, "State": "Unclaimed", "OpSys": "LINUX",
                      "Arch": "X86_64", "Start": True})
        ad["WithinResourceLimits"] = within
        ad["Requirements"] = ExprTree("START && WithinResourceLimits")
        ad["SlotWeight"] = ExprTree("Cpus")
        offers.append(Offer(ad, f"claim{n}"))
    submitters = []
    autocluster = 0
    for owner in range(owners):
        requests = []
        for a in range(10):
            autocluster += 1
            job = ClassAd({"Owner": f"user{owner}", "RequestCpus": 1,
                           "RequestMemory": 512 + a, "RequestDisk": 1024})
            job["Requirements"] = ExprTree(
                f'TARGET.OpSys == "LINUX" && TARGET.Arch == "X86_64" && '
                f'TARGET.Memory >= {1000 + 100 * a}')
            requests.append(Request(autocluster, 100, job))
        submitters.append(Submitter(f"user{owner}@bench", f"user{owner}", 500.0 + owner,
                                    requests))
    began = time.perf_counter()
    outcome = negotiate(offers, submitters)
    return time.perf_counter() - began, len(outcome.matches), owners * 1000, owners, slots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=20)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--negotiator-scale", type=float, default=1.0, metavar="FRACTION",
                        help="of the negotiator's simulated pool (default 1: all of it)")
    options = parser.parse_args()
    raw = raw_rate()
    pool = Pool()
    try:
        pool.up()
        rate, elapsed = throughput(pool, options.jobs)
        times = latency(pool, options.latency)
    finally:
        pool.down()
    print(f"raw spawn        Popen(['/bin/true']).wait()     {raw:8.0f} /s")
    print(f"pool throughput  {options.jobs} /bin/true jobs, 2 slots   {rate:8.0f} /s "
          f"({elapsed:.1f} s; {rate / raw:.3f} of the raw rate; target >= 200 /s)")
    if times:
        median = statistics.median(times)
        print(f"latency          submit -> running, median of {len(times):<3}   {median:8.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}; target < 1 s)")
    if not options.skip_scale:
        seconds, matches, jobs, owners, slots = scale(options.negotiator_scale)
        print(f"negotiator scale {jobs:,} jobs / {owners * 10:,} autoclusters / {owners} owners "
              f"x {slots:,} slots: one cycle {seconds:.2f} s, {matches} matches "
              f"(target for all of it < 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
