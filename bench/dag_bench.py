"""DAGs in the schedd: a 100,000-node DAG submitted, its rows in SQL and its releases; a
chain of ``/bin/true`` jobs through a personal pool.  Each figure beside its reference,
measured in the same run.

    .venv/bin/python bench/dag_bench.py [--width 1000] [--blocks 90] [--chain 10000]
        [--fan-releases 10] [--chain-releases 2000] [--pool-chain 1000] [--no-postgres]

The DAG (one file): ``--blocks`` fan-out/fan-in blocks of ``--width``, joined end
to end (J0 -> M0_0..M0_999 -> J1 -> M1_* -> J2 ...: 1 + 90 x 1,001 = 90,091 nodes), and
beside them a chain of ``--chain`` nodes (C0 -> C1 -> ...): 100,091 nodes, every one a
``/bin/true`` job of its own cluster, as DAGMan's nodes are.  (a) to (c) run on SQLite and
on PostgreSQL (started here as the tests start it; ``--no-postgres`` skips it).

(a) submit: ``roost dag submit`` against a ``roost schedd`` process, its wall time, beside
    the same number of jobs submitted as one flat cluster (``roost.Schedd().submit``) to
    the same schedd.  Then, in this process, the same DAG split in two: reading the file
    and the nodes' submit files (what ``roost dag submit`` does before its request), and
    the schedd's transaction alone (``DagQueue.submit`` on a ``JobQueue`` of its own),
    beside one flat cluster's transaction (``JobQueue.submit``);
(b) SQL rows: the rows that DAG took in each table, per PARENT/CHILD pair of the file.
    Then the first ``--fan-releases`` blocks again as plain jobs with ``Parents`` (each middle
    one cluster of 1,000 procs, so a fan-out or fan-in is one edge): their rows;
(c) release latency, in this process: parents' jobs are ended by telling the queue their
    start and exit (as tests/schedd/test_dags.py does, no startd), and the time from the
    call that records a parent's exit to the queue's event that its child is Idle (told
    once the transaction that releases it has committed), median and p99, for the first
    ``--fan-releases`` blocks' fan-outs (J -> 1,000 nodes) and fan-ins (the last middle
    node -> J), ``--chain-releases`` links of the chain, and the plain jobs' blocks;
    beside the same call for a job of the flat cluster, which has no children;
(d) a chain of ``--pool-chain`` ``/bin/true`` nodes (one DAG file) through a personal
    pool (one startd of 2 slots, as bench/pool_bench.py makes it): jobs per second from the
    submit to the DAG's end, beside the same number of jobs as one flat cluster.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pool_bench import Pool, throughput  # noqa: E402

from roost.client import Schedd  # noqa: E402
from roost.config import load_config  # noqa: E402
from schedd import models  # noqa: E402
from schedd.dag_cli import _Plan  # noqa: E402
from schedd.dag_file import read_dag  # noqa: E402
from schedd.dag_queue import DagQueue  # noqa: E402
from schedd.dag_store import DagSpec, NodeSpec  # noqa: E402
from schedd.database import open_database  # noqa: E402
from schedd.job_queue import Caller, JobQueue  # noqa: E402
from schedd.job_status import JobStatus  # noqa: E402
from schedd.lifecycle import Failure, JobExited, JobStarted  # noqa: E402
from tests.daemons import Daemons  # noqa: E402
from tests.pg_server import PostgresServer  # noqa: E402

SUBMIT = "executable = /bin/true\nqueue\n"
TABLES = (models.DagRecord, models.DagNodeRecord, models.JobEdge, models.Cluster, models.Job)


def write_dag(path: Path, width: int, blocks: int, chain: int) -> int:
    """The DAG file (and its one submit file); the number of PARENT/CHILD pairs."""
    (path.parent / "node.sub").write_text(SUBMIT)
    lines, edges = ["JOB J0 node.sub"] if blocks else [], 0
    for block in range(blocks):
        middle = [f"M{block}_{i}" for i in range(width)]
        lines += [f"JOB {name} node.sub" for name in middle]
        lines.append(f"JOB J{block + 1} node.sub")
        lines.append(f"PARENT J{block} CHILD {' '.join(middle)}")
        lines.append(f"PARENT {' '.join(middle)} CHILD J{block + 1}")
        edges += 2 * width
    lines += [f"JOB C{i} node.sub" for i in range(chain)]
    lines += [f"PARENT C{i} CHILD C{i + 1}" for i in range(chain - 1)]
    path.write_text("\n".join(lines) + "\n")
    return edges + max(chain - 1, 0)


def quantiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (f"median {statistics.median(ordered) * 1e3:7.2f} ms, p99 {p99 * 1e3:7.2f} ms "
            f"(n={len(ordered)})")


# -- (a) through a schedd process --------------------------------------------------------


def submit_to_process(name: str, home: Path, url: str, dag_file: Path, nodes: int) -> None:
    daemons = Daemons(home, url if not url.startswith("sqlite") else "")
    daemons.env["ROOST_SCHEDD_UPDATE_INTERVAL"] = "3600"  # no collector runs here
    daemons.start("schedd")
    try:
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "roost", "dag", "submit", str(dag_file)],
                              env=daemons.env, capture_output=True, text=True, cwd=home)
        wall = time.perf_counter() - began
        one = dag_file.with_name("one.dag")
        one.write_text("JOB A node.sub\n")
        with Schedd(config=load_config(env=daemons.env), timeout=600) as schedd:
            ad = _plan(one)[0].nodes[0][2]  # a node's job ad
            began = time.perf_counter()
            schedd.submit(ad, count=nodes)
            flat = time.perf_counter() - began
        if done.returncode == 0:
            print(f"[{name}] (a) roost dag submit, {nodes:,} nodes, schedd process: {wall:.2f} s; "
                  f"{nodes:,} jobs as one cluster {flat:.2f} s; ratio {wall / flat:.1f}")
        else:
            error = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            print(f"[{name}] (a) roost dag submit, {nodes:,} nodes, schedd process: FAILED after "
                  f"{wall:.2f} s: {error[:200]}; {nodes:,} jobs as one cluster {flat:.2f} s")
    finally:
        daemons.stop_all()


def _plan(dag_file: Path) -> tuple[_Plan, float, float]:
    """What ``roost dag submit`` builds before its request: the plan, and the seconds
    reading the DAG file and then the nodes' submit files took."""
    began = time.perf_counter()
    dag = read_dag(dag_file)
    read = time.perf_counter() - began
    plan = _Plan(owner="bench", now=int(time.time()))
    plan.add_dag(dag, parent=-1, max_jobs=None, max_idle=None, before=[])
    return plan, read, time.perf_counter() - began - read


# -- (a) to (c) in this process -------------------------------------------------------------


class Releases:
    """The time each cluster was told Idle by a release."""

    def __init__(self, jobs: JobQueue) -> None:
        self.at: dict[int, float] = {}
        jobs.listen(self.heard)

    def heard(self, changes) -> None:
        now = time.perf_counter()
        for change in changes:
            if change.kind == "released" and change.status == JobStatus.IDLE:
                self.at.setdefault(int(change.job_id.partition(".")[0]), now)


def end_job(jobs: JobQueue, cluster: int, proc: int = 0) -> float:
    """Start and exit a job; the moment just before its exit is recorded."""
    job_id = f"{cluster}.{proc}"
    jobs.job_started(job_id, JobStarted("bench", jobs.now()))
    began = time.perf_counter()
    jobs.job_exited(job_id, JobExited(jobs.now(), "bench", Failure.NONE, exit_code=0))
    return began


def in_process(name: str, url: str, dag_file: Path, edges: int, width: int, fan_releases: int,
               chain: int, chain_releases: int) -> None:
    plan, read, parse = _plan(dag_file)
    nodes = len(plan.nodes)
    engine = open_database(url)
    jobs = JobQueue(engine)
    try:
        caller = Caller("bench", admin=False)
        dags = [DagSpec(ad, parent) for ad, parent in plan.dags]
        specs = [NodeSpec(*node) for node in plan.nodes]
        began = time.perf_counter()
        _ids, clusters = DagQueue(jobs).submit(caller, dags, specs)
        transaction = time.perf_counter() - began
        by_name = dict(zip(plan.names, clusters, strict=True))
        rows = _rows(engine)
        flat_ad = plan.nodes[0][2].copy()
        began = time.perf_counter()
        flat_cluster, _ = jobs.submit(caller, flat_ad, [], nodes)
        flat = time.perf_counter() - began
        print(f"[{name}] (a) in-process, {nodes:,} nodes: reading the DAG file {read:.2f} s, "
              f"its nodes' submit files {parse:.2f} s, the schedd's transaction "
              f"{transaction:.2f} s; "
              f"{nodes:,} jobs as one cluster {flat:.2f} s; transaction ratio "
              f"{transaction / flat:.1f}")
        total = sum(rows.values())
        print(f"[{name}] (b) SQL rows for {nodes:,} nodes and {edges:,} PARENT/CHILD pairs: "
              + ", ".join(f"{table} {count:,}" for table, count in rows.items())
              + f"; {total / edges:.2f} rows per edge ({rows['job_edges'] / edges:.2f} in "
              f"job_edges)")
        releases = Releases(jobs)
        fan_out, fan_in = [], []
        for block in range(fan_releases):
            began = end_job(jobs, by_name[f"J{block}"])
            middle = [by_name[f"M{block}_{i}"] for i in range(width)]
            fan_out.append(max(releases.at[c] for c in middle) - began)
            for cluster in middle:
                began = end_job(jobs, cluster)
            fan_in.append(releases.at[by_name[f"J{block + 1}"]] - began)
        links = []
        for i in range(min(chain_releases, chain - 1)):
            began = end_job(jobs, by_name[f"C{i}"])
            links.append(releases.at[by_name[f"C{i + 1}"]] - began)
        plain_fan_out, plain_fan_in = plain_parents(name, jobs, caller, flat_ad, width,
                                                    fan_releases, releases)
        alone = []
        for proc in range(max(len(links), len(fan_in), 1)):
            job_id = f"{flat_cluster}.{proc}"
            jobs.job_started(job_id, JobStarted("bench", jobs.now()))
            began = time.perf_counter()
            jobs.job_exited(job_id, JobExited(jobs.now(), "bench", Failure.NONE, exit_code=0))
            alone.append(time.perf_counter() - began)
        print(f"[{name}] (c) release latency, exit -> child Idle (in-process; queued: the "
              f"DAG's {nodes:,} nodes and the flat cluster's {nodes:,} jobs):")
        if fan_out:
            print(f"  {f'fan-out, 1 -> {width:,} nodes':<34} {quantiles(fan_out)}")
            print(f"  {f'fan-in, {width:,} nodes -> 1':<34} {quantiles(fan_in)}")
        if links:
            print(f"  {'chain, 1 node -> 1':<34} {quantiles(links)}")
        if plain_fan_out:
            print(f"  {f'Parents, 1 job -> {width:,} procs':<34} {quantiles(plain_fan_out)}")
            print(f"  {f'Parents, {width:,} procs -> 1 job':<34} {quantiles(plain_fan_in)}")
        print(f"  {'reference: a flat job, no children':<34} {quantiles(alone)}")
    finally:
        jobs.close()
        engine.dispose()


def plain_parents(name: str, jobs: JobQueue, caller: Caller, ad, width: int, blocks: int,
                  releases: Releases) -> tuple[list[float], list[float]]:
    """The fan-out/fan-in blocks again as plain jobs with ``Parents`` (J0 -> one cluster of
    ``width`` procs -> J1 ...: a whole cluster is one edge): their rows, and the release
    latency of each block's fan-out and fan-in."""
    def submit(count: int, parent: int | None) -> int:
        job = ad.copy()
        if parent is not None:
            job["Parents"] = str(parent)
        return jobs.submit(caller, job, [], count)[0]

    if not blocks:
        return [], []
    joins, middles = [submit(1, None)], []
    before = _rows(jobs.engine)
    for _ in range(blocks):
        middles.append(submit(width, joins[-1]))
        joins.append(submit(1, middles[-1]))
    rows = {table: count - before[table] for table, count in _rows(jobs.engine).items()}
    dependencies = 2 * width * blocks
    print(f"[{name}] (b) the same {blocks} blocks with Parents on plain jobs (each middle one "
          f"cluster of {width:,} procs), {dependencies:,} job-to-job dependencies: "
          + ", ".join(f"{table} {count:,}" for table, count in rows.items() if count)
          + f"; {rows['job_edges'] / dependencies:.4f} job_edges rows per dependency")
    fan_out, fan_in = [], []
    for join, middle in zip(joins, middles, strict=False):
        began = end_job(jobs, join)
        fan_out.append(releases.at[middle] - began)
        for proc in range(width):
            began = end_job(jobs, middle, proc)
        fan_in.append(releases.at[joins[len(fan_in) + 1]] - began)
    return fan_out, fan_in


def _rows(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table.__tablename__: connection.scalar(
            select(func.count()).select_from(table)) for table in TABLES}


# -- (d) a personal pool ----------------------------------------------------------------------


def pool_chain(length: int) -> None:
    pool = Pool()
    try:
        pool.up()
        dag_file = pool.home / "chain.dag"
        write_dag(dag_file, width=0, blocks=0, chain=length)
        with Schedd() as schedd:
            began = time.perf_counter()
            dag_id = json.loads(pool.roost("dag", "submit", "-json", str(dag_file)))[
                "DAGManJobId"]
            while (status := schedd.dag_status(dag_id)[0].eval("DAGStatus")) == "running":
                time.sleep(0.25)  # often enough to time it, rarely enough to cost little
            chained = time.perf_counter() - began
        if status != "succeeded":
            raise SystemExit(f"the chain's DAG {dag_id} ended {status}")
        rate, elapsed = throughput(pool, length)
    finally:
        pool.down()
    print(f"(d) chain of {length:,} /bin/true nodes, personal pool: {length / chained:.2f} "
          f"jobs/s ({chained:.1f} s, {chained / length:.3f} s a job); {length:,} as one "
          f"cluster {rate:.1f} jobs/s ({elapsed:.1f} s); ratio {rate * chained / length:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1000, help="of each fan-out/fan-in")
    parser.add_argument("--blocks", type=int, default=90, help="fan-out/fan-in blocks")
    parser.add_argument("--chain", type=int, default=10_000, help="nodes of the DAG's chain")
    parser.add_argument("--fan-releases", type=int, default=10,
                        help="blocks whose fan-out and fan-in are timed in (c)")
    parser.add_argument("--chain-releases", type=int, default=2000,
                        help="links of the chain timed in (c)")
    parser.add_argument("--pool-chain", type=int, default=1000,
                        help="nodes of the chain run in (d) (0: skip it)")
    parser.add_argument("--no-postgres", action="store_true",
                        help="(a) to (c) on SQLite only")
    args = parser.parse_args()
    if min(args.width, args.blocks, args.chain) < 1 or min(
            args.fan_releases, args.chain_releases, args.pool_chain) < 0:
        parser.error("--width, --blocks and --chain must be at least 1, the rest at least 0")
    if args.fan_releases > args.blocks:
        parser.error("--fan-releases cannot be more than --blocks")
    with tempfile.TemporaryDirectory(prefix="roost-bench-dag-") as scratch:
        dag_file = Path(scratch) / "dag" / "big.dag"
        dag_file.parent.mkdir()
        edges = write_dag(dag_file, args.width, args.blocks, args.chain)
        nodes = 1 + args.blocks * (args.width + 1) + args.chain
        print(f"DAG: {args.blocks} blocks of 1 -> {args.width:,} -> 1 end to end, and a chain "
              f"of {args.chain:,}: {nodes:,} nodes, {edges:,} PARENT/CHILD pairs")
        sizes = edges, args.width, args.fan_releases, args.chain, args.chain_releases
        home = Path(scratch) / "sqlite"
        home.mkdir()
        submit_to_process("sqlite", home, f"sqlite:///{home / 'schedd' / 'queue.db'}",
                          dag_file, nodes)
        shutil.rmtree(home)
        in_process("sqlite", f"sqlite:///{Path(scratch) / 'queue.db'}", dag_file, *sizes)
        if not args.no_postgres:
            with PostgresServer() as server:
                home = Path(scratch) / "postgresql"
                home.mkdir()
                submit_to_process("postgresql", home, server.new_database("dag_process"),
                                  dag_file, nodes)
                in_process("postgresql", server.new_database("dag_queue"), dag_file, *sizes)
    if args.pool_chain:
        pool_chain(args.pool_chain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
