"""``roost submit``: queue the jobs of a job ClassAd file or an HTCondor submit description.

Which kind a file is, is told by its text (``roost.submit_description.looks_like_submit_file``):
a submit description has a ``queue`` statement; a job ClassAd file holds one or more ads in
old or new syntax, and ``-queue N`` makes N procs of each.  A file with an error is refused
whole with ``file:line:col: message``; nothing of it is queued.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from roost.errors import RoostError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="roost submit",
        description="Queue jobs from a job ClassAd file (old or new syntax) or an HTCondor "
        "submit description file; '-' reads standard input.")
    parser.add_argument("file", help="the file to submit ('-' for standard input)")
    parser.add_argument("-queue", "--queue", type=int, default=1, metavar="N",
                        help="procs to make of each job ad (job ClassAd files only)")
    parser.add_argument("-json", "--json", action="store_true",
                        help="print the new cluster and job ids as JSON")
    parser.add_argument("-batch-name", "--batch-name", metavar="NAME",
                        help="the JobBatchName that roost q groups the jobs under")
    args = parser.parse_args(argv)
    if args.queue < 1:
        raise RoostError(f"-queue needs a count of at least 1, not {args.queue}")
    filename, text = _read(args.file)

    import classad
    from roost import submit_description as sd
    from roost.client import Schedd

    with Schedd() as schedd:
        owner = schedd.user
        cwd = Path.cwd()
        now = int(time.time())
        arch, opsys = sd.local_platform()
        if sd.looks_like_submit_file(text):
            if args.queue != 1:
                raise RoostError(f"{filename}: -queue is for job ClassAd files; a submit "
                                 "description says how many jobs in its queue statement")
            plan = sd.parse_submit(text, filename=filename, cwd=cwd, owner=owner, now=now,
                                   arch=arch, opsys=opsys, environ=os.environ)
            cluster_ad, procs, count = plan.cluster_ad, plan.procs, plan.count
        else:
            try:
                ads = list(classad.parse_ads(text))
            except classad.ClassAdSyntaxError as error:
                raise RoostError(f"{filename}:{error.line}:{error.column}: "
                                 f"{error.message}") from None
            if not ads:
                raise RoostError(f"{filename}: no job ads in the file")
            jobs = [sd.complete_job_ad(ad, owner=owner, now=now, cwd=cwd, arch=arch,
                                       opsys=opsys) for ad in ads]
            if len(jobs) == 1:
                cluster_ad, procs, count = jobs[0], [], args.queue
            else:
                plan = sd.split_jobs([job for job in jobs for _ in range(args.queue)])
                cluster_ad, procs, count = plan.cluster_ad, plan.procs, plan.count
        if args.batch_name:
            cluster_ad["JobBatchName"] = args.batch_name
        result = schedd.submit_cluster(cluster_ad, procs, count)
        _record(schedd.config.home, result.cluster(), owner)
    if args.json:
        ids = [f"{result.cluster()}.{p}" for p in range(result.first_proc(),
                                                         result.first_proc() + result.num_procs())]
        print(json.dumps({"ClusterId": result.cluster(), "NumProcs": result.num_procs(),
                          "JobIds": ids}))
    else:
        print(f"{result.num_procs()} job(s) submitted to cluster {result.cluster()}.")
    first = procs[0] if procs else None
    _warn_if_nothing_matches(cluster_ad, first, result.cluster())
    return 0


def _record(home: Path, cluster: int, owner: str) -> None:
    """Record the cluster for a bare ``roost wait``; the jobs are queued whatever comes of
    it, so a record that cannot be written is a warning, not a failure."""
    from schedd import last_submit

    try:
        last_submit.record(home, cluster, owner)
    except RoostError as error:
        print(f"WARNING: {error}; 'roost wait' without job ids will not know of cluster "
              f"{cluster}", file=sys.stderr)


def _warn_if_nothing_matches(cluster_ad, first_proc, cluster: int) -> None:
    """Warn (on standard error) when the pool has slots and none of them can ever run the
    cluster's first job; a pool that cannot be read, or has no slots yet, says nothing."""
    from roost.client import Collector
    from roost.match_analysis import matches_any

    job = cluster_ad.copy()
    for name in first_proc or ():
        job[name] = first_proc.lookup(name)
    try:
        with Collector(timeout=5.0) as collector:
            slots = collector.query("Machine")
    except RoostError:
        return
    if slots and not matches_any(job, slots):
        print(f"WARNING: no slot of the {len(slots)} in the pool matches job {cluster}.0 "
              f"(see 'roost analyze {cluster}.0')", file=sys.stderr)


def _read(path: str) -> tuple[str, str]:
    if path == "-":
        return "<stdin>", sys.stdin.read()
    try:
        return path, Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RoostError(f"{path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise RoostError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") \
            from None
