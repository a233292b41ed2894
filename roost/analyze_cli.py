"""``roost analyze JOB...`` (and ``roost q -better-analyze``): why jobs do not run.

It reads each job from the schedd, the slots from the collector, and what the negotiator
found for the job's autocluster in its last cycle, and prints ``roost.match_analysis``'s
report.
"""

from __future__ import annotations

import argparse
import sys

from roost.errors import RoostError

# The job attributes that make an autocluster: a record of the negotiator's is the job's
# when they are the same.
_SIGNIFICANT = ("Requirements", "Rank", "RequestCpus", "RequestMemory", "RequestDisk")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="roost analyze",
                                     description="Say why jobs do or do not run.")
    parser.add_argument("jobs", nargs="+", metavar="JOB",
                        help="a job id (12.3), or a cluster (12) for its first job")
    args = parser.parse_args(argv)
    return report(args.jobs, sys.stdout)


def report(job_ids: list[str], out) -> int:
    from roost.client import Collector, Negotiator, Schedd
    from roost.config import load_config

    config = load_config()
    with Schedd(config=config) as schedd:
        jobs = []
        for job_id in job_ids:
            jobs.append(_job(schedd, job_id))
    with Collector(config=config) as collector:
        slots = collector.query("Machine")
    records = {}
    try:
        with Negotiator(config=config, timeout=10.0) as negotiator:
            for owner in {str(job.eval("Owner")) for job in jobs}:
                records[owner] = negotiator.analyze(owner)
    except RoostError as error:
        print(f"(the negotiator cannot be asked: {error})", file=out)
    from roost.match_analysis import analyze

    for i, job in enumerate(jobs):
        if i:
            print(file=out)
        record = _record_for(job, records.get(str(job.eval("Owner")), []))
        print("\n".join(analyze(job, slots, record)), file=out)
    return 0


def _job(schedd, job_id: str):
    cluster, _, proc = job_id.partition(".")
    if not cluster.isdigit() or (proc and not proc.isdigit()):
        raise RoostError(f"{job_id!r} is not a job id (CLUSTER or CLUSTER.PROC)")
    constraint = f"ClusterId == {cluster}" + (f" && ProcId == {proc}" if proc else "")
    found = schedd.query(constraint, limit=1)
    if not found:
        history = list(schedd.history(constraint, match=1))
        if history:
            return history[0]
        raise RoostError(f"no job {job_id} in the queue or its history")
    return found[0]


def _record_for(job, records):
    from roost.match_analysis import Record
    from roost.messages import message_ad

    wanted = {name: str(job.lookup(name)) if name in job else "" for name in _SIGNIFICANT}
    for message in records:
        ad = message_ad(message.job_ad)
        if {name: str(ad.lookup(name)) if name in ad else "" for name in _SIGNIFICANT} \
                == wanted:
            return Record(message.time, message.considered, message.rejected_by_job,
                          message.rejected_by_slot, dict(message.unavailable),
                          message.matched, message.over_share, message.reason,
                          message.user_priority)
    return None
