"""The schedd's speed and size, against references measured in the same run.

    .venv/bin/python bench/schedd_bench.py [--jobs 1000000] [--cluster 100000]
        [--singles 1000] [--no-postgres]

For SQLite (and PostgreSQL, started here as the tests start it) a real ``roost schedd``
runs under a temporary roost home, and this measures:

(a) one cluster of 100,000 procs (``--cluster``) submitted from a job ad through
    ``roost.Schedd``: jobs/s, beside SQLAlchemy Core inserting the same rows in one
    transaction on the same database (the reference; target for 100,000: under 1 s);
(b) 1,000 single-job clusters (``--singles``), one submit each: submits/s, beside as many
    one-row transactions through SQLAlchemy Core on the same database;
(c) with ``--jobs`` jobs queued: ``roost q`` (the batch summary) and ``roost q -json``
    as commands, in seconds (target: the summary under 1 s);
(d) the schedd's resident memory with those jobs queued (target: under 1 GB).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classad import ClassAd  # noqa: E402
from roost.client import Schedd  # noqa: E402
from roost.config import load_config  # noqa: E402
from roost.database import sqlite_engine  # noqa: E402
from tests.daemons import Daemons  # noqa: E402
from tests.pg_server import PostgresServer  # noqa: E402

BIG = 100_000
SINGLES = 1_000
JOB = ClassAd({"Cmd": "/bin/sleep", "Arguments": "1", "RequestCpus": 1, "RequestMemory": 64})


def _reference_table(url: str):
    # The same durability as the queue: SQLite in WAL mode with synchronous=FULL.
    engine = sqlite_engine(url) if url.startswith("sqlite") else create_engine(url)
    metadata = MetaData()
    table = Table("bench_rows", metadata,
                  Column("cluster_id", BigInteger, primary_key=True),
                  Column("proc_id", BigInteger, primary_key=True),
                  Column("owner", String(255)), Column("status", Integer),
                  Column("job_prio", BigInteger), Column("qdate", BigInteger),
                  Column("entered_status", BigInteger), Column("retry_after", BigInteger),
                  Column("ad", Text))
    metadata.drop_all(engine)
    metadata.create_all(engine)
    return engine, table


def _row(cluster: int, proc: int) -> dict:
    return {"cluster_id": cluster, "proc_id": proc, "owner": "bench", "status": 1,
            "job_prio": 0, "qdate": 1, "entered_status": 1, "retry_after": None, "ad": ""}


def reference_bulk(url: str, procs: int) -> float:
    engine, table = _reference_table(url)
    rows = [_row(1, proc) for proc in range(procs)]
    start = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def reference_singles(url: str, singles: int) -> float:
    engine, table = _reference_table(url)
    start = time.perf_counter()
    for cluster in range(singles):
        with engine.begin() as connection:
            connection.execute(table.insert(), [_row(cluster, 0)])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def _command(env: dict, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "roost", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(name: str, home: Path, url: str, jobs: int, big: int, singles: int) -> None:
    daemons = Daemons(home, url if not url.startswith("sqlite") else "")
    # No collector runs here: the schedd's ads would only be retried and logged.
    daemons.env["ROOST_SCHEDD_UPDATE_INTERVAL"] = "3600"
    pid = daemons.start("schedd")
    try:
        config = load_config(env=daemons.env)
        with Schedd(config=config, timeout=600) as schedd:
            start = time.perf_counter()
            schedd.submit(JOB, count=big)
            bulk = time.perf_counter() - start
            reference = reference_bulk(url.replace("queue.db", "reference.db"), big)
            verdict = ("met" if bulk < 1 else "missed") if big == BIG else f"for {BIG:,}"
            print(f"[{name}] (a) submit {big:,} procs: {bulk:.3f} s = {big / bulk:,.0f} jobs/s; "
                  f"Core insert {reference:.3f} s; ratio {bulk / reference:.2f} "
                  f"(target: under 1 s: {verdict})")
            start = time.perf_counter()
            for _ in range(singles):
                schedd.submit(JOB, count=1)
            elapsed = time.perf_counter() - start
            reference = reference_singles(url.replace("queue.db", "reference.db"), singles)
            print(f"[{name}] (b) {singles:,} single-job submits: {singles / elapsed:,.0f}/s; "
                  f"Core one-row transactions {singles / reference:,.0f}/s; "
                  f"ratio {elapsed / reference:.2f}")
            queued = big + singles
            start = time.perf_counter()
            while queued < jobs:
                count = min(big, jobs - queued)
                schedd.submit(JOB, count=count)
                queued += count
            print(f"[{name}] filled the queue to {queued:,} jobs in "
                  f"{time.perf_counter() - start:.1f} s")
        summary = min(_command(daemons.env, "q") for _ in range(3))
        print(f"[{name}] (c) roost q over {queued:,} jobs: {summary:.3f} s "
              f"(target 1 s; ratio {summary:.2f})")
        full = _command(daemons.env, "q", "-json")
        print(f"[{name}] (c) roost q -json over {queued:,} jobs: {full:.1f} s "
              f"({full / queued * 1e6:.1f} us a job)")
        rss = psutil.Process(pid).memory_info().rss
        print(f"[{name}] (d) schedd RSS with {queued:,} jobs queued: {rss / 2**20:,.0f} MiB "
              f"(target 1024 MiB; ratio {rss / 2**30:.2f})")
    finally:
        daemons.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000,
                        help="jobs queued for (c) and (d)")
    parser.add_argument("--cluster", type=int, default=BIG, help="procs of the cluster of (a)")
    parser.add_argument("--singles", type=int, default=SINGLES,
                        help="single-job submits of (b)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.cluster < 1 or args.singles < 1:
        parser.error("--cluster and --singles must be at least 1")
    sizes = args.jobs, args.cluster, args.singles
    with tempfile.TemporaryDirectory(prefix="roost-bench-") as scratch:
        home = Path(scratch) / "sqlite"
        home.mkdir()
        run("sqlite", home, f"sqlite:///{home / 'schedd' / 'queue.db'}", *sizes)
        if not args.no_postgres:
            with PostgresServer() as server:
                home = Path(scratch) / "postgresql"
                home.mkdir()
                run("postgresql", home, server.new_database("bench_queue"), *sizes)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    os._exit(130)
