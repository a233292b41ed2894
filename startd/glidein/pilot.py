"""The pilot job: a batch script that runs one ``roost startd --glidein`` per node.

Pure: ``slurm_script`` and ``pbs_script`` turn a ``PilotSpec`` into the text of a batch
script and touch nothing.  Both render the same ``_Plan`` (the job's name, size, walltime,
output file, and the startd's command line), so the two cannot disagree on what a pilot is.

What a pilot does on each node of its allocation:

- It joins the pool at ``spec.collector`` with a roost home of its own on the node
  (``$TMPDIR``, else /tmp): a Slurm pilot needs nothing of the pool's roost home, so the
  nodes need share no file system with the pool.
- Its credential, on Slurm: the token ``roost glidein submit`` minted for this pilot
  (``spec.token``, with the pool's public key ``spec.public_key``), carried in the script
  and written to the node's own home, mode 0600, before the startd starts; it names
  ``startd@glidein-TAG-*``, so the pilot's startds (``glidein-TAG-JOBID.NODE``) may
  advertise their own slots and no others.  Or ``spec.token_file`` when given (the startd
  then names its slots after the token's identity, ``startd@NAME`` advertising
  ``slotN@NAME``, so one token serves one node).  A startd without the pool's private key
  takes claims on their claim ids.  A PBS pilot, which pbsdsh can give nothing unseen,
  still has each startd sign its own ``startd@glidein-JOBID.NODE`` token with the pool key
  in the pool's roost home, which its nodes must see; a node that cannot read the key ends
  the pilot with one line in the job's output.
- Its address is the node's: the pilot names none, so the startd binds every interface
  (its default for a collector that is not on loopback) and advertises the address of the
  node's interface that routes to the collector (``roost.addresses``).
- Its resources are the allocation's: the startd reads Slurm's ``SLURM_CPUS_ON_NODE`` and
  ``SLURM_MEM_PER_NODE``; without ``cpus_per_node`` Slurm gives one CPU per node.  Under
  PBS, which says nothing of the kind to the process, the script passes the requested
  CPUs and memory explicitly.
- Its life ends with the allocation: the startd leaves a minute before the end (Slurm's
  ``SLURM_JOB_END_TIME``, asked of squeue on Slurm releases before 23.02 that do not set
  it; under PBS, the start plus the walltime), and after ``idle_timeout`` seconds without
  a claim.  It takes no new job without a ``MaxRuntime`` in the last ``retire_margin``
  seconds: glideinWMS's 10 minutes, or a tenth of the walltime for short pilots, so that a
  2-minute test pilot still runs jobs.
- It exits 0 when its startds leave on their own (idle, or the end of the allocation), so
  the batch system records a success; a startd that cannot start fails the job.
- The startd's sandboxes go to node-local ``$TMPDIR`` (else /tmp): sandboxes are named by
  process id, which a shared directory would mix up between nodes.
- The pilot's own output goes to ``spec.output_dir``: by default /tmp of the node that runs
  the batch script, which it can always write; a shared directory if the user names one.
  The Slurm batch script runs there too, rather than in the submit directory, which the
  node may not have.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

PILOT_JOB_NAME = "roost-glidein"
# The key the startds sign their tokens with, and check the schedds' with
# (roost.security.key_path, spelled out so that this module imports nothing of gRPC).
KEY_FILE = Path("keys") / "pool.key"
SCRIPT_DIR = "glidein"  # under the roost home: the scripts and the pilots' token ids
DEFAULT_OUTPUT_DIR = "/tmp"  # node-local: the batch script's node can always write there
MAX_RETIRE_MARGIN = 600  # glideinWMS's default: no job without MaxRuntime in the last 10 min
MIN_WALLTIME = 60  # a pilot shorter than the startd's exit margin would never take a job

_WALLTIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_MEMORY = re.compile(r"^(\d+)\s*([KMGT]?)(?:I?B)?$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


@dataclass(frozen=True)
class PilotSpec:
    collector: str  # HOST:PORT of the pool's matchmaker
    walltime: int  # seconds
    nodes: int = 1
    cpus_per_node: int | None = None
    memory_mib: int | None = None  # per node
    partition: str | None = None
    account: str | None = None
    idle_timeout: int = 300  # seconds
    token_file: str | None = None  # a startd token the nodes can read (one-node pilots)
    token: str | None = None  # the token minted for this pilot, carried in its script
    public_key: str = ""  # the pool's public key (PEM), carried with ``token``
    tag: str = ""  # the pilot's startds are glidein-TAG-JOBID.NODE, as ``token`` allows
    output_dir: str = DEFAULT_OUTPUT_DIR
    extra: tuple[str, ...] = ()  # extra sbatch/qsub arguments


# -- parsing what users type ---------------------------------------------------------------


def parse_walltime(text: str) -> int:
    """Seconds in a walltime as Slurm and PBS write it: ``MM``, ``MM:SS``, ``HH:MM:SS``,
    ``D-HH``, ``D-HH:MM`` or ``D-HH:MM:SS``.  ValueError with one line otherwise.  (Slurm
    keeps time limits in whole minutes and rounds seconds up; the pilot's startds read the
    end Slurm set, not this figure.)"""
    match = _WALLTIME.match(text.strip())
    if not match:
        raise ValueError(f"walltime {text!r}: expected HH:MM:SS, MM:SS, MM or D-HH:MM:SS")
    days, first, second, third = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
        total = int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
        limits = (hours, 23), (minutes, 59), (seconds, 59)
    elif third is not None:  # HH:MM:SS
        hours, minutes, seconds = int(first), int(second), int(third)
        total = hours * 3600 + minutes * 60 + seconds
        limits = (minutes, 59), (seconds, 59)
    elif second is not None:  # MM:SS
        minutes, seconds = int(first), int(second)
        total = minutes * 60 + seconds
        limits = ((seconds, 59),)
    else:  # MM, as both Slurm and PBS read a bare number
        total = int(first) * 60
        limits = ()
    if any(value > most for value, most in limits):
        raise ValueError(f"walltime {text!r}: minutes and seconds go up to 59, hours "
                         f"after a day count to 23")
    if total <= 0:
        raise ValueError(f"walltime {text!r} must be more than 0")
    return total


def format_walltime(seconds: int) -> str:
    """``HH:MM:SS`` (hours past 24 as they are), which sbatch and qsub both read."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def parse_memory(text: str) -> int:
    """MiB in a memory amount as sbatch's ``--mem`` writes it: a number of MiB, or with a
    unit K, M, G or T (``4G``, ``512MB``).  ValueError with one line otherwise."""
    match = _MEMORY.match(text.strip())
    if not match:
        raise ValueError(f"memory {text!r}: expected MiB, or a number with K, M, G or T")
    mib = int(int(match.group(1)) * _MEMORY_UNITS[match.group(2).upper()])
    if mib <= 0:
        raise ValueError(f"memory {text!r} must be at least 1 MiB")
    return mib


def check_collector(text: str) -> str:
    """``text`` if it is HOST:PORT with a port from 1 to 65535; ValueError otherwise."""
    match = _HOST_PORT.match(text.strip())
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ValueError(f"collector {text!r}: expected HOST:PORT")
    return text.strip()


def retire_margin(walltime: int) -> int:
    """Seconds before its end in which a pilot starts no job without a ``MaxRuntime``:
    glideinWMS's 10 minutes, but at most a tenth of the walltime."""
    return max(1, min(MAX_RETIRE_MARGIN, walltime // 10))


def validate(spec: PilotSpec) -> None:
    """ValueError, naming the field, for a spec no batch system should be given."""
    check_collector(spec.collector)
    if spec.walltime < MIN_WALLTIME:
        raise ValueError(f"walltime {spec.walltime} s: a pilot needs at least "
                         f"{MIN_WALLTIME} s, since its startd leaves a minute before the end")
    for name, value in (("nodes", spec.nodes), ("cpus per node", spec.cpus_per_node),
                        ("memory", spec.memory_mib), ("idle timeout", spec.idle_timeout)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
    if spec.token is not None and spec.token_file is not None:
        raise ValueError("a pilot carries its own token or names a token file, not both")
    if spec.token is not None and not re.fullmatch(r"[0-9a-z]+", spec.tag):
        raise ValueError(f"tag {spec.tag!r}: a pilot's token names its startds by a tag of "
                         "lower-case letters and digits")
    if not spec.output_dir.startswith("/"):
        raise ValueError(f"output directory {spec.output_dir!r} must be an absolute path")
    if spec.token_file is not None and spec.nodes > 1:
        raise ValueError(f"token {spec.token_file}: a startd token names one host, so it "
                         f"serves a one-node pilot; leave the token out for {spec.nodes} "
                         f"nodes and each startd signs its own with the pool key")
    for name, value in (("partition", spec.partition), ("account", spec.account)):
        if value is not None and (not value or any(c.isspace() for c in value)):
            raise ValueError(f"{name} {value!r} must be a word without spaces")


# -- the plan both scripts render ----------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    spec: PilotSpec
    home: Path
    python: str

    @property
    def output_dir(self) -> Path:
        return Path(self.spec.output_dir)

    def startd_arguments(self) -> list[str]:
        """The startd's options that are the same on every node and batch system."""
        spec = self.spec
        arguments = ["-m", "roost", "startd", "--glidein", "--collector", spec.collector,
                     "--idle-timeout", str(spec.idle_timeout),
                     "--retire-margin", str(retire_margin(spec.walltime)),
                     "--attribute", "IS_GLIDEIN=true"]
        if spec.token_file is not None:
            arguments += ["--token", spec.token_file]
        return arguments

    def key_check(self) -> list[str]:
        """The script's lines that stop a node that cannot read the pool key, which the
        startds sign their tokens with; none for a pilot given a token."""
        if self.spec.token_file is not None:
            return []
        key = self.home / KEY_FILE
        message = (f"{PILOT_JOB_NAME}: cannot read the pool key {key}: the nodes must see "
                   "the roost home of the pool")
        return [
            f"if [ ! -r {_q(key)} ]; then",
            f"    echo {_q(message)} >&2",
            "    exit 1",
            "fi",
        ]

    def header_comment(self, launcher: str) -> list[str]:
        spec = self.spec
        return [
            f"# A roost glide-in: {launcher} starts one 'roost startd --glidein' on each node,",
            f"# which joins the pool at {spec.collector} until the allocation ends (less a",
            f"# minute) or it has had no claim for {spec.idle_timeout} s.  Written by",
            "# 'roost glidein submit'.",
        ]


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _join(words: list[str]) -> str:
    return " ".join(_q(word) for word in words)


# -- Slurm ---------------------------------------------------------------------------------

# Run on each node by srun, with the node's own Slurm variables; "$0" is the Python.  The
# node's roost home is its own, made afresh (a job id may come again, from another
# cluster or after a restart) and removed when the startd has left: the pilot's token (if
# it carries one) is written there, readable by the pilot alone, and leaves the
# environment before the startd starts.  The shell stays to remove the home: it takes
# Slurm's SIGTERM, meant for the startd, only once the startd has gone.
_SLURM_HOME = (
    'home=$(mktemp -d "${TMPDIR:-/tmp}/roost-glidein-$SLURM_JOB_ID.$SLURM_NODEID.XXXXXX")'
    ' || exit 1; trap : TERM; umask 077; mkdir "$home/keys" || exit 1; '
    'export ROOST_HOME="$home"; '
)
_SLURM_WRITE_TOKEN = (
    'printf "%s\\n" "$ROOST_PILOT_TOKEN" > "$home/startd.token" || exit 1; '
    'printf "%s" "$ROOST_PILOT_PUBLIC_KEY" > "$home/keys/pool.pub" || exit 1; '
    'unset ROOST_PILOT_TOKEN ROOST_PILOT_PUBLIC_KEY; '
)
_SLURM_RUN = (
    '"$0" "$@" --instance "glidein-$SLURM_JOB_ID.$SLURM_NODEID"'
    ' --execute-dir "$home/execute"'
)
_SLURM_CLEAN = '; status=$?; rm -rf "$home"; exit $status'


def _slurm_node(spec: PilotSpec) -> str:
    """The command each node runs: its home, the pilot's token there, the startd, and
    the home removed."""
    if spec.token is None:
        return _SLURM_HOME + _SLURM_RUN + _SLURM_CLEAN
    return (_SLURM_HOME + _SLURM_WRITE_TOKEN + _SLURM_RUN + ' --token "$home/startd.token"'
            f' --name "glidein-{spec.tag}-$SLURM_JOB_ID.$SLURMD_NODENAME"' + _SLURM_CLEAN)


def slurm_script(spec: PilotSpec, *, home: Path, python: str) -> str:
    """The sbatch script of a pilot (see the module's docstring)."""
    validate(spec)
    if spec.token is None and spec.token_file is None:
        raise ValueError("a Slurm pilot needs a token: the one roost glidein submit mints "
                         "for it, or a token file")
    plan = _Plan(spec, Path(home), python)
    directives = [f"--job-name={PILOT_JOB_NAME}", f"--nodes={spec.nodes}",
                  "--ntasks-per-node=1", f"--time={format_walltime(spec.walltime)}",
                  f"--output={plan.output_dir / f'{PILOT_JOB_NAME}-%j.out'}",
                  # Not the submit directory, which a node that shares no file system
                  # with the submit host lacks (Slurm says so in the output, an error).
                  f"--chdir={plan.output_dir}"]
    if spec.cpus_per_node is not None:
        directives.append(f"--cpus-per-task={spec.cpus_per_node}")
    if spec.memory_mib is not None:
        directives.append(f"--mem={spec.memory_mib}M")
    if spec.partition is not None:
        directives.append(f"--partition={spec.partition}")
    if spec.account is not None:
        directives.append(f"--account={spec.account}")
    directives += spec.extra
    carried = [] if spec.token is None else [
        "# The token minted for this pilot, and the pool's public key: srun gives them to",
        "# each node, which keeps them in its own roost home.",
        f"export ROOST_PILOT_TOKEN={_q(spec.token)}",
        f"export ROOST_PILOT_PUBLIC_KEY={_q(spec.public_key)}",
    ]
    lines = [
        "#!/bin/bash",
        *(f"#SBATCH {_q(directive)}" for directive in directives),
        "#",
        *plan.header_comment("srun"),
        "set -u",
        *carried,
        "# Slurm 23.02 and later tell the job when it ends; earlier releases are asked.",
        'if [ -z "${SLURM_JOB_END_TIME:-}" ]; then',
        "    SLURM_JOB_END_TIME=$(SLURM_TIME_FORMAT=%s squeue --noheader"
        ' --jobs "$SLURM_JOB_ID" --format %e 2>/dev/null)',
        '    case "$SLURM_JOB_END_TIME" in',
        f"        ''|*[!0-9]*) SLURM_JOB_END_TIME=$(( $(date +%s) + {spec.walltime} )) ;;",
        "    esac",
        "    export SLURM_JOB_END_TIME",
        "fi",
        "# One task per node, with all the node's share of the allocation (--whole: since",
        "# Slurm 22.05 a step no longer inherits the job's --cpus-per-task).",
        "srun --whole --ntasks-per-node=1 --kill-on-bad-exit=0 \\",
        f"    /bin/sh -c {_q(_slurm_node(spec))} {_q(python)} \\",
        f"    {_join(plan.startd_arguments())}",
        "",
    ]
    return "\n".join(lines)


# -- PBS/Torque ----------------------------------------------------------------------------

# Run on each node by pbsdsh, which passes no environment: what the node needs comes as
# arguments ("$0" the Python, "$1" the end of the allocation).
_PBS_NODE = (
    'python="$0"; end="$1"; shift 1; node=$(hostname -s); '
    'exec "$python" "$@" --lifetime "$(( end - $(date +%s) ))"'
    ' --attribute "GLIDEIN_BatchJobId=\\"$PBS_JOBID\\""'
    ' --instance "glidein-$PBS_JOBID.$node"'
    ' --execute-dir "${TMPDIR:-/tmp}/roost-glidein-$PBS_JOBID.$node"'
)
_PBS_NODE_NAMED = _PBS_NODE + ' --name "glidein-${PBS_JOBID%%.*}.$node"'


def pbs_script(spec: PilotSpec, *, home: Path, python: str) -> str:
    """The qsub script (PBS/Torque) of the same pilot as ``slurm_script``'s."""
    validate(spec)
    if spec.token is not None:
        raise ValueError("a PBS pilot cannot carry a token (pbsdsh passes its nodes nothing "
                         "unseen): give it a token file, or let its startds sign their own "
                         "with the pool key the nodes see")
    plan = _Plan(spec, Path(home), python)
    resources = f"nodes={spec.nodes}"
    if spec.cpus_per_node is not None:
        resources += f":ppn={spec.cpus_per_node}"
    directives = [f"-N {PILOT_JOB_NAME}", f"-l {resources}",
                  f"-l walltime={format_walltime(spec.walltime)}",
                  f"-o {_q(plan.output_dir / f'{PILOT_JOB_NAME}.out')}", "-j oe"]
    if spec.memory_mib is not None:  # Torque's mem is the job's, over all its nodes
        directives.append(f"-l mem={spec.memory_mib * spec.nodes}mb")
    if spec.partition is not None:
        directives.append(f"-q {spec.partition}")
    if spec.account is not None:
        directives.append(f"-A {spec.account}")
    directives += spec.extra  # qsub's own words, as the user wrote them
    node_arguments = plan.startd_arguments()
    # PBS tells the job's processes nothing of its resources: say them to the startd.
    if spec.cpus_per_node is not None:
        node_arguments += ["--cpus", str(spec.cpus_per_node)]
    if spec.memory_mib is not None:
        node_arguments += ["--memory", str(spec.memory_mib)]
    node = _PBS_NODE if spec.token_file is not None else _PBS_NODE_NAMED
    lines = [
        "#!/bin/bash",
        *(f"#PBS {directive}" for directive in directives),
        "#",
        *plan.header_comment("pbsdsh"),
        "set -u",
        f"export ROOST_HOME={_q(plan.home)}",
        *plan.key_check(),
        "# PBS does not tell the job when it ends: its start plus the walltime.",
        f"end=$(( $(date +%s) + {spec.walltime} ))",
        f"pbsdsh -u /usr/bin/env ROOST_HOME={_q(plan.home)} PBS_JOBID=\"$PBS_JOBID\" \\",
        f"    /bin/sh -c {_q(node)} {_q(python)} \"$end\" \\",
        f"    {_join(node_arguments)}",
        "",
    ]
    return "\n".join(lines)
