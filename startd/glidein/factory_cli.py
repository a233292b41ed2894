"""``roost glidein factory``: submit and cancel pilots so that capacity follows demand.

Every ``--interval`` seconds (or once, with ``--once``) the factory reads the idle jobs of
the pool's schedds (those the collector lists, else the local one), the pool's glide-in
slots (Machine ads with a ``GLIDEIN_BatchJobId``) and the user's pilots in Slurm, builds
the ad of a new pilot from the options (``startd.glidein.template``), and lets the core
(``startd.glidein.factory``, whose docstring has the rules) decide.  It cancels what the
core says with scancel, and submits pilots as ``roost glidein submit`` does: a script
under ``$ROOST_HOME/glidein/`` given to sbatch.  Every decision is one line on stdout, with
the time; the state of demand is printed when it changes.

Running pilots are never cancelled for lack of work: each leaves by itself after
``--idle-timeout`` seconds without a claim.  The factory's memory (back-off, when pilots
were submitted) lives in the process: a restarted factory takes the pilots it finds in
Slurm as its own, and judges only those it sees queued or running.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# The glide-in commands' argument parsing, key check and script writing, shared so that
# the factory's pilots are the pilots 'roost glidein submit' makes.
from roost.arguments import Parser, parse
from roost.errors import RoostError, UsageError
from startd.glidein.cli import carrying, spec_from, write_script

DEFAULT_INTERVAL = 30.0  # seconds between cycles: a negotiation cycle and a bit more
SLOT_CONSTRAINT = "GLIDEIN_BatchJobId =!= undefined"


def _parser() -> Parser:
    parser = Parser(prog="roost glidein factory",
                     description="Submit and cancel pilots so that capacity follows the "
                                 "idle jobs that pilots can run.")
    parser.add_argument("--slurm", action="store_true", required=True,
                        help="the batch system (Slurm, the only one for now)")
    parser.add_argument("--max-pilots", type=int, required=True, metavar="N",
                        help="never more than N pilots queued or running")
    parser.add_argument("--min-pilots", type=int, default=0, metavar="M",
                        help="keep at least M pilots queued or running (default 0)")
    parser.add_argument("--per-pilot-cpus", type=int, metavar="C",
                        help="CPUs per node of a pilot (default: Slurm's, 1)")
    parser.add_argument("--mem", metavar="M",
                        help="memory per node: MiB, or with K/M/G/T (default: assumed "
                             "1024 MiB per CPU)")
    parser.add_argument("--time", default="01:00:00", metavar="HH:MM:SS",
                        help="each pilot's walltime (default 01:00:00)")
    parser.add_argument("-N", "--nodes", type=int, default=1, help="nodes per pilot (default 1)")
    parser.add_argument("--partition", metavar="P", help="the partition")
    parser.add_argument("--account", metavar="A", help="the account to charge")
    parser.add_argument("--idle-timeout", type=int, default=300, metavar="S",
                        help="seconds without a claim after which a pilot leaves "
                             "(default 300)")
    parser.add_argument("--constraint", default="", metavar="EXPR",
                        help="only idle jobs for which EXPR holds count (default: all)")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, metavar="S",
                        help=f"seconds between cycles (default {DEFAULT_INTERVAL:.0f})")
    parser.add_argument("--backoff", type=float, default=60.0, metavar="S",
                        help="seconds without new pilots after a failure, doubled for each "
                             "further one (default 60)")
    parser.add_argument("--once", action="store_true", help="one cycle, then exit")
    parser.add_argument("--collector", metavar="HOST:PORT",
                        help="the pool's collector, which the pilots join "
                             "(default: matchmaker.address, this host's name for a "
                             "wildcard)")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="where each pilot's own output goes, a directory its batch "
                             "script's node can write (default: its /tmp)")
    return parser


def main(argv: Sequence[str]) -> int:
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args

    from roost.config import load_config
    from startd.glidein import credentials
    from startd.glidein.factory import Factory, FactoryConfig
    from startd.glidein.slurm import Slurm

    config = load_config()
    spec = _spec(args, config)
    try:
        factory = Factory(FactoryConfig(
            max_pilots=args.max_pilots, min_pilots=args.min_pilots, nodes=args.nodes,
            constraint=args.constraint, backoff=args.backoff,
            backoff_max=max(args.backoff, 1800.0)))
    except ValueError as error:
        raise UsageError(f"{error} (see 'roost glidein factory --help')") from None
    if args.interval <= 0:
        raise UsageError("--interval must be more than 0")
    home = config.home.absolute()
    credentials.pool_key(home)  # one line now, not one at each cycle, without the key
    shell = _Shell(config, spec, home, Slurm(), factory)
    while True:
        try:
            shell.cycle(time.time())
        except RoostError as error:
            if args.once:
                raise
            # A daemon or Slurm that does not answer now may at the next cycle.
            shell.log(f"cycle failed: {error}")
        if args.once:
            return 0
        time.sleep(args.interval)


def _spec(args: argparse.Namespace, config):
    from startd.glidein import pilot

    more = {"output_dir": str(Path(args.output_dir).absolute())} if args.output_dir else {}
    spec = spec_from(args, config, cpus_per_node=args.per_pilot_cpus, **more)
    try:
        pilot.validate(spec)
    except ValueError as error:
        raise UsageError(f"{error} (see 'roost glidein factory --help')") from None
    return spec


class _Shell:
    """One factory cycle's I/O: read, decide, act, log."""

    def __init__(self, config, spec, home: Path, slurm, factory) -> None:
        from startd.machine_ad import local_platform_info

        self.config = config
        self.spec = spec
        self.home = home
        self.slurm = slurm
        self.factory = factory
        self.platform = local_platform_info()
        self._last_demand = ""

    def cycle(self, now: float) -> None:
        from startd.glidein.template import pilot_ad

        jobs = self._idle_jobs()
        slots = self._glidein_slots()
        pilots = self.slurm.jobs()
        decision = self.factory.cycle(now, jobs=jobs, template=pilot_ad(
            self.spec, now, platform=self.platform), pilots=pilots, slots=slots)
        lines = decision.lines()
        # The state of demand is news only when it changes; the rest always is.
        demand = [line for line in lines if line.startswith(("demand:", "backing off"))
                  or " cannot run in a pilot: " in line]
        if "\n".join(demand) == self._last_demand:
            lines = [line for line in lines if line not in demand]
        self._last_demand = "\n".join(demand)
        for line in lines:
            self.log(line)
        if decision.cancel:
            ids = [cancel.job_id for cancel in decision.cancel]
            try:
                self.slurm.cancel(ids)
                from startd.glidein import credentials

                credentials.revoke(self.home, ids)
            except RoostError as error:
                self.log(f"cancelling {', '.join(ids)} failed: {error}")
        for _ in range(decision.submit):
            if not self._submit(now):
                break

    def _submit(self, now: float) -> bool:
        from startd.glidein import credentials
        from startd.glidein.pilot import slurm_script

        try:
            minted = credentials.mint(self.home, self.spec.walltime)
            script = slurm_script(carrying(self.spec, minted), home=self.home,
                                  python=sys.executable)
            path = write_script(self.home, script, "sbatch")
            job_id = self.slurm.submit(path)
            credentials.record(self.home, job_id, minted)
        except RoostError as error:
            self.factory.submit_failed(now, str(error))
            self.log(f"submitting a pilot failed: {error}")
            return False
        self.factory.submitted(now, job_id)
        self.log(f"submitted pilot {job_id} ({path.name})")
        return True

    def _idle_jobs(self) -> list:
        from roost.client import Collector, Schedd

        with Collector(self.spec.collector, config=self.config, timeout=10.0) as collector:
            schedds = collector.query("Scheduler", projection=["Name", "MyAddress"])
        addresses = sorted({str(ad.eval("MyAddress")) for ad in schedds
                            if isinstance(ad.eval("MyAddress"), str)})
        constraint = "JobStatus == 1"
        jobs = []
        for address in addresses or [None]:
            with Schedd(address, config=self.config, timeout=30.0) as schedd:
                jobs.extend(schedd.iter_query(constraint))
        return jobs

    def _glidein_slots(self) -> list:
        from roost.client import Collector

        with Collector(self.spec.collector, config=self.config, timeout=10.0) as collector:
            return collector.query("Machine", constraint=SLOT_CONSTRAINT)

    @staticmethod
    def log(line: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", flush=True)

