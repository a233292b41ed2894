"""``roost glidein submit|status|cancel``: pilots in a batch system's allocations.

``submit`` writes a pilot script (``startd.glidein.pilot``) under ``$ROOST_HOME/glidein/``
(mode 0700: it carries a token), where it stays, and submits it with sbatch; ``--dry-run``
prints it instead, with a placeholder for the token.  ``--pbs`` writes the PBS/Torque
script of the same pilot, with ``--dry-run`` only.  A Slurm pilot carries a token minted
for it with the pool key (``startd.glidein.credentials``), so the pool must have been up
once (its key made) before a submit, and the nodes need nothing of the pool's roost home;
or, given ``--token`` (a one-node pilot), the startd advertises with that file.

``status`` prints the pilots squeue knows beside the pool's slot ads that carry their batch
job id (``startd.glidein.status``): queued, busy, idle, lost or ended.  ``cancel`` scancels
pilots: the given ids, all of ours, or with ``--idle-only`` those running with no claimed
slot.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from roost.arguments import Parser, parse
from roost.errors import RoostError, UsageError

# -- submit --------------------------------------------------------------------------------


def _submit_parser() -> Parser:
    parser = Parser(prog="roost glidein submit",
                     description="Submit a pilot: a batch job that runs one 'roost startd "
                                 "--glidein' per node, joining the pool for its lifetime.")
    system = parser.add_mutually_exclusive_group(required=True)
    system.add_argument("--slurm", action="store_true", help="submit to Slurm with sbatch")
    system.add_argument("--pbs", action="store_true",
                        help="write the PBS/Torque script (with --dry-run only)")
    parser.add_argument("-N", "--nodes", type=int, default=1, help="nodes (default 1)")
    parser.add_argument("--time", default="01:00:00", metavar="HH:MM:SS",
                        help="the allocation's walltime (default 01:00:00)")
    parser.add_argument("--partition", metavar="P", help="the partition (PBS: queue)")
    parser.add_argument("--account", metavar="A", help="the account to charge")
    parser.add_argument("--cpus-per-node", type=int, metavar="C",
                        help="CPUs per node (default: the batch system's, 1 on Slurm)")
    parser.add_argument("--mem", metavar="M", help="memory per node: MiB, or with K/M/G/T")
    parser.add_argument("--collector", metavar="HOST:PORT",
                        help="the collector the startds join (default: matchmaker.address, "
                             "this host's name for a wildcard)")
    parser.add_argument("--idle-timeout", type=int, default=300, metavar="S",
                        help="seconds without a claim after which a startd leaves "
                             "(default 300)")
    parser.add_argument("--token", metavar="FILE",
                        help="the token the startd advertises with (one-node pilots; "
                             "default: a token minted for the pilot, carried in its script)")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="where the pilot's own output goes, a directory the batch "
                             "script's node can write (default: its /tmp)")
    parser.add_argument("--dry-run", action="store_true",
                        help="write the script and print it; submit nothing")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        metavar="SBATCH_ARG",
                        help="the rest of the line: more sbatch (or qsub) options, one "
                             "directive each")
    return parser


def submit_main(argv: Sequence[str]) -> int:
    args = parse(_submit_parser(), argv)
    if isinstance(args, int):
        return args
    from roost.config import load_config
    from startd.glidein import credentials, pilot

    if args.pbs and not args.dry_run:
        raise UsageError("--pbs writes a script only: add --dry-run (roost submits to "
                         "Slurm alone)")
    config = load_config()
    spec = _spec(args, config)
    home = config.home.absolute()
    minted = None
    if args.slurm and spec.token_file is None:
        minted = credentials.placeholder() if args.dry_run else credentials.mint(
            home, spec.walltime)
        spec = carrying(spec, minted)
    render = pilot.pbs_script if args.pbs else pilot.slurm_script
    try:
        script = render(spec, home=home, python=sys.executable)
    except ValueError as error:
        raise UsageError(f"{error} (see 'roost glidein submit --help')") from None
    path = write_script(home, script, "pbs" if args.pbs else "sbatch")
    if args.dry_run:
        print(script, end="")
        print(f"# written to {path}", file=sys.stderr)
        return 0
    from startd.glidein.slurm import Slurm

    job_id = Slurm().submit(path)
    if minted is not None:
        credentials.record(home, job_id, minted)
    output = Path(spec.output_dir) / f"{pilot.PILOT_JOB_NAME}-{job_id}.out"
    print(f"submitted pilot {job_id}: {spec.nodes} node(s) for "
          f"{pilot.format_walltime(spec.walltime)}, joining {spec.collector}; script {path}, "
          f"output {output} on its first node")
    return 0


def carrying(spec, minted):
    """``spec`` with the pilot's own token (``credentials.mint``) to carry."""
    import dataclasses

    return dataclasses.replace(spec, token=minted.token, public_key=minted.public_key,
                               tag=minted.tag)


def _spec(args: argparse.Namespace, config):
    token = None
    if args.token is not None:
        token = str(Path(args.token).absolute())
        if not Path(token).is_file():
            raise RoostError(f"--token {args.token}: no such file")
    for option, value in (("-N", args.nodes), ("--cpus-per-node", args.cpus_per_node),
                          ("--idle-timeout", args.idle_timeout)):
        if value is not None and value < 1:
            raise UsageError(f"{option} must be at least 1, not {value}")
    more = {"output_dir": str(Path(args.output_dir).absolute())} if args.output_dir else {}
    return spec_from(args, config, cpus_per_node=args.cpus_per_node, token_file=token,
                     extra=tuple(args.extra), **more)


def spec_from(args: argparse.Namespace, config, **more):
    """The pilot the options ``--time``, ``--mem``, ``--collector``, ``-N``,
    ``--partition``, ``--account`` and ``--idle-timeout`` describe, and ``more``
    (PilotSpec's other fields); a one-line error naming the option that is wrong."""
    from roost.addresses import remote_address
    from startd.glidein import pilot

    def checked(option: str, parse, text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise UsageError(f"{option}: {error}") from None

    walltime = checked("--time", pilot.parse_walltime, args.time)
    memory = checked("--mem", pilot.parse_memory, args.mem) if args.mem is not None else None
    # A central manager's matchmaker bound to a wildcard is, for the nodes, this host.
    collector = checked("--collector", pilot.check_collector, args.collector or
                        remote_address(config.get("matchmaker", "address")))
    return pilot.PilotSpec(collector=collector, walltime=walltime, nodes=args.nodes,
                           memory_mib=memory, partition=args.partition, account=args.account,
                           idle_timeout=args.idle_timeout, **more)


def write_script(home: Path, script: str, suffix: str) -> Path:
    """The script, kept under the roost home with the time of its writing in its name."""
    from startd.glidein import pilot

    directory = home / pilot.SCRIPT_DIR
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            path = directory / f"{pilot.PILOT_JOB_NAME}-{stamp}{f'-{n}' if n else ''}.{suffix}"
            try:
                # Its owner's alone: a Slurm pilot's script carries the pilot's token.
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
                with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                    stream.write(script)
                return path
            except FileExistsError:
                continue
    except OSError as error:
        raise RoostError(f"cannot write the pilot script in {directory}: "
                         f"{error.strerror}") from None
    raise RoostError(f"cannot write the pilot script in {directory}: too many at {stamp}")


# -- status --------------------------------------------------------------------------------


def status_main(argv: Sequence[str]) -> int:
    parser = Parser(prog="roost glidein status",
                     description="Show the pilots the batch system knows beside the pool's "
                                 "view of them.")
    parser.add_argument("--slurm", action="store_true",
                        help="the batch system to ask (Slurm, the only one for now)")
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    from startd.glidein.status import format_rows, join

    rows = join(_batch_jobs(), _slot_views(), time.time())
    print(format_rows(rows))
    return 0


def _batch_jobs() -> list:
    from startd.glidein.slurm import Slurm

    return Slurm().jobs()


def _slot_views() -> list:
    """The pool's slots that belong to a pilot (they carry GLIDEIN_BatchJobId)."""
    from roost.client import Collector
    from roost.config import load_config
    from startd.glidein.status import SlotView

    with Collector(config=load_config(), timeout=10.0) as collector:
        ads = collector.query("Machine", constraint="GLIDEIN_BatchJobId =!= undefined",
                              projection=["Name", "GLIDEIN_BatchJobId", "State",
                                          "GLIDEIN_ToDie"])
    views = []
    for ad in ads:
        to_die = ad.eval("GLIDEIN_ToDie") if "GLIDEIN_ToDie" in ad else None
        views.append(SlotView(name=str(ad.eval("Name")),
                              batch_job_id=str(ad.eval("GLIDEIN_BatchJobId")),
                              state=str(ad.eval("State")),
                              to_die=int(to_die) if isinstance(to_die, int | float) else None))
    return views


# -- cancel --------------------------------------------------------------------------------


def cancel_main(argv: Sequence[str]) -> int:
    parser = Parser(prog="roost glidein cancel",
                     description="Cancel pilots: the startds vacate their jobs, which go "
                                 "back to Idle, and withdraw their slots.")
    parser.add_argument("--idle-only", action="store_true",
                        help="only pilots that run with no claimed slot")
    parser.add_argument("job_ids", nargs="*", metavar="JOBID",
                        help="the pilots' batch job ids (default: all of ours)")
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    from startd.glidein.slurm import Slurm
    from startd.glidein.status import ENDED, IDLE, join

    for job_id in args.job_ids:
        if not job_id.replace("_", "").isdigit():
            raise UsageError(f"JOBID {job_id!r}: expected a Slurm job id")
    slurm = Slurm()
    jobs = slurm.jobs()
    if args.idle_only:
        rows = join(jobs, _slot_views(), time.time())
        chosen = [row.job_id for row in rows if row.status == IDLE]
    else:
        rows = join(jobs, [], time.time())
        chosen = [row.job_id for row in rows if row.status != ENDED]
    if args.job_ids:
        known = {job.job_id for job in jobs}
        unknown = [job_id for job_id in args.job_ids if job_id not in known]
        if unknown:
            raise RoostError(f"not a pilot of yours: {', '.join(unknown)} (see 'roost "
                             "glidein status')")
        chosen = [job_id for job_id in chosen if job_id in args.job_ids]
    if not chosen:
        print("no pilot to cancel")
        return 0
    slurm.cancel(chosen)
    from roost.config import load_config
    from startd.glidein import credentials

    revoked = credentials.revoke(load_config().home.absolute(), chosen)
    print(f"cancelled pilot(s) {', '.join(chosen)}"
          + (f"; revoked {revoked} pilot token(s)" if revoked else ""))
    return 0
