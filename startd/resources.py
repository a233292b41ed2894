"""What this machine offers: CPUs, memory, disk, a lifetime, and the desktop signals.

**Resources** (``detect_resources``).  Each of CPUs and memory is taken from the first of
these that says anything, and ``Resources.source`` names which one it was:

1. ``explicit``: a value given by the caller (configuration, command line).
2. ``slurm``: the batch allocation, when the startd runs inside a Slurm job (``SLURM_JOB_ID``
   is set): ``SLURM_CPUS_ON_NODE`` for CPUs; ``SLURM_MEM_PER_NODE`` (MiB), or else
   ``SLURM_MEM_PER_CPU`` (MiB) times ``SLURM_CPUS_ON_NODE`` (or, when Slurm does not say,
   times the CPUs offered), for memory.  Variables that do not parse are ignored.
3. ``cgroup`` and ``affinity``: the limits the kernel puts on this process.  The cgroup is
   the one ``<proc_root>/self/cgroup`` names, looked for under ``cgroup_root`` together with
   all its ancestors (a limit set on a parent, as Slurm and container runtimes do, binds as
   much as one on the leaf), and the smallest limit wins.  cgroup v2: ``cpu.max``
   (``"<quota> <period>"``, CPUs = quota / period rounded up, since a process may use that
   much CPU time spread over more cores) and ``memory.max``; cgroup v1 (the ``cpu`` and
   ``memory`` hierarchies): ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` and
   ``memory.limit_in_bytes``.  ``max`` (v2), a quota of -1 and v1's "unlimited" (2**60 bytes
   or more) mean no limit.  For CPUs the CPU affinity (``os.sched_getaffinity``, which
   includes cpuset) limits as well; both are hard limits, so the smaller of the two is
   offered (the cgroup on a tie).  A layer is named as the source only when it offers less
   than the host has.
4. ``host``: the host's totals (``psutil``: logical CPUs, physical memory).

Disk is the free space of the execute directory in KiB (``shutil.disk_usage``) minus the
reserved amount (HTCondor's ``RESERVED_DISK``), unless given explicitly.  The lifetime's
end (``end_time``, epoch seconds) is explicit or ``SLURM_JOB_END_TIME``; ``batch_job_id`` is
``SLURM_JOB_ID``.  ``detected_cpus``/``detected_memory_mb`` are the host's totals
(HTCondor's ``DetectedCpus``/``DetectedMemory``), whatever is offered.

**Load** (``load_avg``): the one-minute load average of the whole machine.

**Idle times** (``idle_times``), as HTCondor's startd measures them on Linux
(``condor_sysapi/idle_time.cpp`` with ``STARTD_HAS_BAD_UTMP = True``, which looks at every
terminal rather than only those utmp lists): the kernel sets a terminal device's *access*
time when a process reads input from it, that is when someone types on it, and its
*modification* time when output is written to it.  Output is not a sign of a person (a
program printing to a terminal would keep the machine "busy" forever), so only access times
count, as in HTCondor; a device whose access time is 0, that cannot be stat'ed, or that
shares ``/dev/null``'s major device number (memory devices) does not count, and an access
time in the future counts as now.  The tty layer updates the times at most every 8 seconds,
so idle times are exact to about that.

- ``ConsoleIdle``: seconds since the last input on a *console* device: ``/dev/console``,
  ``/dev/mouse`` (HTCondor's default ``CONSOLE_DEVICES`` are these two), the virtual
  consoles ``/dev/tty[0-9]*`` and the input devices directly in ``/dev/input``
  (``event*``, ``mice``, ``mouse*``).
- ``KeyboardIdle``: the same over every device above plus all terminals: ``/dev/tty*``,
  ``/dev/pty*`` and ``/dev/pts/*`` (remote logins, terminal windows); never more than
  ``ConsoleIdle``.

When no device can be read, the machine counts as idle since boot (``now -
psutil.boot_time()``), for either value.  Graphical sessions that read input through the
display server rather than a terminal show only through the devices above (HTCondor adds
its ``condor_kbdd`` for X; roost does not).  Not every kernel updates the access time of
``/dev/input`` devices, in which case ConsoleIdle sees only the virtual consoles.

Everything that touches the system is in small functions with their roots as arguments
(``environ``, ``cgroup_root``, ``proc_root``, ``dev_root``, ``host``), so tests give fake
trees.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import psutil

EXPLICIT = "explicit"
SLURM = "slurm"
CGROUP = "cgroup"
AFFINITY = "affinity"
HOST = "host"
EXECUTE_DIR = "execute_dir"

# cgroup v1 writes PAGE_COUNTER_MAX * page size (about 2**63) for "no limit".
_V1_UNLIMITED = 2**60
_MIB = 2**20
_SLURM_UNITS = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}
_SLURM_MEMORY = re.compile(r"^\s*([0-9]+)\s*([KMGT]?)B?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Resources:
    """What the machine offers, and where each value came from (``source``: ``cpus``,
    ``memory_mb``, ``disk_kb``, and ``end_time`` when there is one)."""

    cpus: int
    memory_mb: int
    disk_kb: int
    end_time: int | None
    batch_job_id: str | None
    source: dict[str, str]
    detected_cpus: int = 0
    detected_memory_mb: int = 0


@dataclass(frozen=True)
class Host:
    """The host's totals and this process's CPU affinity (None where unknown)."""

    cpus: int
    memory_mb: int
    affinity_cpus: int | None = None

    @classmethod
    def measure(cls) -> Host:
        try:
            affinity: int | None = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not on Linux
            affinity = None
        return cls(cpus=psutil.cpu_count(logical=True) or 1,
                   memory_mb=psutil.virtual_memory().total // _MIB,
                   affinity_cpus=affinity)


def detect_resources(*, cpus: int | None = None, memory_mb: int | None = None,
                     disk_kb: int | None = None, end_time: int | None = None,
                     reserved_disk_kb: int = 0, execute_dir: Path,
                     environ: Mapping[str, str] = os.environ,
                     cgroup_root: Path = Path("/sys/fs/cgroup"),
                     proc_root: Path = Path("/proc"), host: Host | None = None) -> Resources:
    """What this machine offers, in the order of precedence the module describes."""
    for name, value, least in (("cpus", cpus, 1), ("memory_mb", memory_mb, 1),
                               ("disk_kb", disk_kb, 0), ("reserved_disk_kb", reserved_disk_kb, 0)):
        if value is not None and (not isinstance(value, int) or value < least):
            raise ValueError(f"{name} must be an integer of at least {least}, not {value!r}")
    host = host or Host.measure()
    source: dict[str, str] = {}
    slurm = slurm_allocation(environ)
    limits = cgroup_limits(cgroup_root, proc_root)

    if cpus is not None:
        source["cpus"] = EXPLICIT
    elif slurm.cpus is not None:
        cpus, source["cpus"] = slurm.cpus, SLURM
    else:
        cpus, source["cpus"] = host.cpus, HOST
        if host.affinity_cpus is not None and host.affinity_cpus < cpus:
            cpus, source["cpus"] = host.affinity_cpus, AFFINITY
        if limits.cpus is not None and limits.cpus <= cpus and limits.cpus < host.cpus:
            cpus, source["cpus"] = limits.cpus, CGROUP

    if memory_mb is not None:
        source["memory_mb"] = EXPLICIT
    elif slurm.memory_mb is not None:
        memory_mb, source["memory_mb"] = slurm.memory_mb, SLURM
    elif slurm.memory_per_cpu_mb is not None:
        memory_mb = slurm.memory_per_cpu_mb * (slurm.cpus or cpus)
        source["memory_mb"] = SLURM
    elif limits.memory_mb is not None and limits.memory_mb < host.memory_mb:
        memory_mb, source["memory_mb"] = limits.memory_mb, CGROUP
    else:
        memory_mb, source["memory_mb"] = host.memory_mb, HOST

    if disk_kb is not None:
        source["disk_kb"] = EXPLICIT
    else:
        disk_kb = max(0, disk_free_kb(execute_dir) - reserved_disk_kb)
        source["disk_kb"] = EXECUTE_DIR

    if end_time is not None:
        source["end_time"] = EXPLICIT
    elif slurm.end_time is not None:
        end_time, source["end_time"] = slurm.end_time, SLURM

    return Resources(cpus=cpus, memory_mb=memory_mb, disk_kb=disk_kb, end_time=end_time,
                     batch_job_id=slurm.job_id, source=source, detected_cpus=host.cpus,
                     detected_memory_mb=host.memory_mb)


# -- the batch allocation ------------------------------------------------------------------


@dataclass(frozen=True)
class SlurmAllocation:
    """What a Slurm job's environment says; all None outside a Slurm job."""

    job_id: str | None = None
    cpus: int | None = None
    memory_mb: int | None = None
    memory_per_cpu_mb: int | None = None
    end_time: int | None = None


def slurm_allocation(environ: Mapping[str, str]) -> SlurmAllocation:
    """The allocation of the Slurm job this process runs in (values that do not parse are
    left out)."""
    job_id = environ.get("SLURM_JOB_ID", "").strip()
    if not job_id:
        return SlurmAllocation()
    return SlurmAllocation(
        job_id=job_id,
        cpus=_positive_int(environ.get("SLURM_CPUS_ON_NODE")),
        memory_mb=_slurm_memory(environ.get("SLURM_MEM_PER_NODE")),
        memory_per_cpu_mb=_slurm_memory(environ.get("SLURM_MEM_PER_CPU")),
        end_time=_positive_int(environ.get("SLURM_JOB_END_TIME")),
    )


def _positive_int(text: str | None) -> int | None:
    try:
        value = int((text or "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _slurm_memory(text: str | None) -> int | None:
    """Slurm's memory amounts are MiB, possibly with a unit suffix."""
    match = _SLURM_MEMORY.match(text or "")
    if not match:
        return None
    value = int(int(match.group(1)) * _SLURM_UNITS[match.group(2).upper()])
    return value if value > 0 else None


# -- cgroup limits -------------------------------------------------------------------------


class CgroupLimits(NamedTuple):
    cpus: int | None
    memory_mb: int | None


def cgroup_limits(cgroup_root: Path, proc_root: Path) -> CgroupLimits:
    """The CPU and memory limits of this process's cgroup and its ancestors (v2, else v1)."""
    try:
        text = (proc_root / "self" / "cgroup").read_text()
    except OSError:
        return CgroupLimits(None, None)
    unified: str | None = None
    v1: dict[str, tuple[str, str]] = {}  # controller -> (hierarchy's controllers, path)
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and not controllers:
            unified = path
        for controller in filter(None, controllers.split(",")):
            v1[controller] = (controllers, path)

    cpus = memory = None
    if unified is not None:
        for directory in _levels(cgroup_root, unified):
            cpus = _least(cpus, _v2_cpus(directory / "cpu.max"))
            memory = _least(memory, _v2_memory(directory / "memory.max"))
    if cpus is None and "cpu" in v1:
        for directory in _v1_levels(cgroup_root, "cpu", *v1["cpu"]):
            cpus = _least(cpus, _v1_cpus(directory))
    if memory is None and "memory" in v1:
        for directory in _v1_levels(cgroup_root, "memory", *v1["memory"]):
            memory = _least(memory, _v1_memory(directory / "memory.limit_in_bytes"))
    return CgroupLimits(cpus, memory)


def _levels(root: Path, path: str) -> Iterator[Path]:
    """``root/path`` and each of its ancestors up to ``root`` itself, leaf first.  In a
    container without a cgroup namespace the path names a cgroup that is mounted as the
    root; the root is looked at in every case."""
    parts = [part for part in path.split("/") if part and part not in (".", "..")]
    for end in range(len(parts), -1, -1):
        directory = root.joinpath(*parts[:end])
        if directory.is_dir():
            yield directory


def _v1_levels(root: Path, controller: str, controllers: str, path: str) -> Iterator[Path]:
    for mount in (controllers, controller):
        if (root / mount).is_dir():
            yield from _levels(root / mount, path)
            return


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _least(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _cpus_of_quota(quota: int, period: int) -> int | None:
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def _v2_cpus(path: Path) -> int | None:
    fields = (_read(path) or "max").split()
    if not fields or fields[0] == "max":
        return None
    try:
        return _cpus_of_quota(int(fields[0]), int(fields[1]) if len(fields) > 1 else 100_000)
    except ValueError:
        return None


def _v2_memory(path: Path) -> int | None:
    text = _read(path)
    if text is None or text == "max":
        return None
    try:
        return int(text) // _MIB
    except ValueError:
        return None


def _v1_cpus(directory: Path) -> int | None:
    try:
        quota = int(_read(directory / "cpu.cfs_quota_us") or "-1")
        period = int(_read(directory / "cpu.cfs_period_us") or "100000")
    except ValueError:
        return None
    return _cpus_of_quota(quota, period)


def _v1_memory(path: Path) -> int | None:
    try:
        value = int(_read(path) or "-1")
    except ValueError:
        return None
    return value // _MIB if 0 < value < _V1_UNLIMITED else None


# -- disk and load -------------------------------------------------------------------------


def disk_free_kb(directory: Path) -> int:
    """Free space (for unprivileged users) of the file system holding ``directory``, KiB."""
    return shutil.disk_usage(directory).free // 1024


def load_avg() -> float:
    """The machine's one-minute load average (HTCondor's ``LoadAvg``)."""
    return os.getloadavg()[0]


# -- idle times ----------------------------------------------------------------------------


class IdleTimes(NamedTuple):
    keyboard_idle: int
    console_idle: int


_VIRTUAL_CONSOLE = re.compile(r"^tty[0-9]+$")


def console_devices(dev_root: Path) -> list[Path]:
    """The console devices: /dev/console, /dev/mouse, /dev/tty[0-9]*, /dev/input/*."""
    devices = [dev_root / "console", dev_root / "mouse"]
    devices += sorted(path for path in _children(dev_root) if _VIRTUAL_CONSOLE.match(path.name))
    devices += sorted(path for path in _children(dev_root / "input") if not path.is_dir())
    return devices


def terminal_devices(dev_root: Path) -> list[Path]:
    """Every terminal: /dev/tty*, /dev/pty*, /dev/pts/*."""
    devices = sorted(path for path in _children(dev_root)
                     if path.name.startswith(("tty", "pty")) and not path.is_dir())
    return devices + sorted(_children(dev_root / "pts"))


def _children(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def idle_times(now: float, *, dev_root: Path = Path("/dev"),
               boot_time: float | None = None) -> IdleTimes:
    """KeyboardIdle and ConsoleIdle in seconds (see the module's docstring)."""
    null_major = _null_major(dev_root)
    console = _least_idle(console_devices(dev_root), now, null_major)
    terminals = _least_idle(terminal_devices(dev_root), now, null_major)
    if console is None or terminals is None:
        since_boot = max(0, int(now - (psutil.boot_time() if boot_time is None else boot_time)))
        if console is None:
            console = since_boot
        if terminals is None:
            terminals = since_boot
    return IdleTimes(keyboard_idle=min(terminals, console), console_idle=console)


def _null_major(dev_root: Path) -> int | None:
    try:
        st = os.stat(dev_root / "null")
    except OSError:
        return None
    return os.major(st.st_rdev) if stat.S_ISCHR(st.st_mode) else None


def _least_idle(devices: list[Path], now: float, null_major: int | None) -> int | None:
    least: int | None = None
    for device in devices:
        try:
            st = os.stat(device)
        except OSError:
            continue
        if st.st_atime <= 0:
            continue
        if null_major is not None and stat.S_ISCHR(st.st_mode) \
                and os.major(st.st_rdev) == null_major:
            continue
        idle = max(0, int(now - st.st_atime))
        least = idle if least is None else min(least, idle)
    return least
