"""The job's processes on Linux: who belongs to a job's family, and what they use.

A job's *family* is every process that carries the job's marker in its environment
(``ROOST_JOB_ID=<unique>``, set by the starter and inherited by every child), every
process in the job's session while the job's main process holds the session id, and the
children of family members.  This is HTCondor's procd tracking by environment
(``_CONDOR_ANCESTOR_*``) plus its session tracking; without cgroups it cannot follow a
process that both leaves the session (``setsid``) *and* ``exec``\\ s with a cleared
environment after its parent is gone.

One ``ProcessTracker`` serves every job of the process.  It keeps a table of the
machine's processes (session, parent, start time, marker) built by a full scan of
``/proc`` and kept current *incrementally*: the kernel hands out pids cyclically, and
``/proc/sys/kernel/ns_last_pid`` is the last one handed out, so a refresh reads only the
pids allocated since the previous refresh.  A refresh after a job's exit therefore costs a
few file reads instead of a scan of every process on the machine.  A full scan is done
when the tracker has not been refreshed for ``REFRESH_GAP`` seconds (pids could have
wrapped around unseen), every ``FULL_INTERVAL`` seconds, and when too many pids were
allocated since.  Whatever the table says, membership is always checked against fresh
``/proc/<pid>/stat`` (start time: a reused pid is a different process) before a process
is counted or signalled.

Reading another user's ``/proc/<pid>/environ`` needs root (or the same user), which is how
the startd runs when it runs jobs as their owners.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
_PF_KTHREAD = 0x00200000

REFRESH_GAP = 2.0  # seconds without a refresh after which only a full scan is trusted
FULL_INTERVAL = 60.0  # a full scan at least this often
MAX_PROBES = 4096  # more new pids than this since the last refresh: a full scan instead


@dataclass(frozen=True, slots=True)
class ProcStat:
    """One process as ``/proc/<pid>/stat`` shows it (times in seconds, memory in KiB)."""

    pid: int
    ppid: int
    pgrp: int
    sid: int
    state: str
    flags: int
    utime: float
    stime: float
    cutime: float  # of the children it waited for
    cstime: float
    num_threads: int
    starttime: int  # clock ticks after boot: with the pid, the process's identity
    rss_kb: int

    @property
    def zombie(self) -> bool:
        return self.state in "ZX"

    @property
    def kernel_thread(self) -> bool:
        return bool(self.flags & _PF_KTHREAD)


def _read(path: str, size: int = 4096) -> bytes | None:
    """A small /proc file's contents (plain system calls: no buffered file object)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(descriptor, size):
            chunks.append(chunk)
            if len(chunk) < size and path.endswith("/stat"):
                break  # stat is produced whole by the first read
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(descriptor)


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat, or None if it is gone (or unreadable)."""
    data = _read(f"/proc/{pid}/stat")
    if data is None:
        return None
    # The command name is in parentheses and may hold anything, parentheses included.
    fields = data[data.rfind(b")") + 2:].split()
    try:
        return ProcStat(
            pid=pid, ppid=int(fields[1]), pgrp=int(fields[2]), sid=int(fields[3]),
            state=fields[0].decode(), flags=int(fields[6]),
            utime=int(fields[11]) / CLOCK_TICKS, stime=int(fields[12]) / CLOCK_TICKS,
            cutime=int(fields[13]) / CLOCK_TICKS, cstime=int(fields[14]) / CLOCK_TICKS,
            num_threads=int(fields[17]), starttime=int(fields[19]),
            rss_kb=max(int(fields[21]), 0) * PAGE_KB,
        )  # fmt: skip
    except (IndexError, ValueError):
        return None


def read_marker(pid: int, key: bytes) -> str | None:
    """The value of the environment variable ``key`` (``b"NAME="``) the process was
    started with, or None (absent, a zombie, or unreadable)."""
    data = _read(f"/proc/{pid}/environ", 1 << 20)
    if data is None:
        return None
    if data.startswith(key):
        start = len(key)
    else:
        start = data.find(b"\0" + key)
        if start < 0:
            return None
        start += len(key) + 1
    end = data.find(b"\0", start)
    return data[start:end if end >= 0 else len(data)].decode(errors="replace")


def read_peak_rss_kb(pid: int) -> int:
    """The process's own peak resident memory since its exec (VmHWM), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def _thread_group(pid: int) -> int | None:
    """The Tgid of ``pid`` (a thread id is reachable under /proc too)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class _Entry:
    starttime: int
    ppid: int
    sid: int
    marker: str | None


class ProcessTracker:
    """The machine's processes, for finding job families; safe to share between threads."""

    def __init__(self, marker_variable: str = "ROOST_JOB_ID") -> None:
        self.marker_variable = marker_variable
        self._key = f"{marker_variable}=".encode()
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._by_marker: dict[str, set[int]] = {}
        self._by_sid: dict[int, set[int]] = {}
        self._by_ppid: dict[int, set[int]] = {}
        self._pid_max = _read_int("/proc/sys/kernel/pid_max") or 4_194_304
        try:
            self._last_pid_file = os.open("/proc/sys/kernel/ns_last_pid",
                                          os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._last_pid_file = -1  # not available: every refresh is a full scan
        self._last_pid: int | None = None
        self._since_full = 0
        self._full_at = -math.inf
        self._refreshed_at = -math.inf
        self.full_scans = 0  # counters, for tests and benchmarks
        self.probes = 0

    # -- the table ---------------------------------------------------------------------

    def refresh(self, *, full: bool = False, max_age: float = 0.0) -> None:
        """Bring the table up to date: the pids allocated since the last refresh, or a
        full scan.  With ``max_age``, a table refreshed that recently is left alone."""
        with self._lock:
            now = time.monotonic()
            if not full and now - self._refreshed_at <= max_age:
                return
            last = self._read_last_pid()  # read before looking: nothing is missed
            span = None
            if (not full and last is not None and self._last_pid is not None
                    and now - self._refreshed_at <= REFRESH_GAP
                    and now - self._full_at <= FULL_INTERVAL):
                span = (last - self._last_pid) % self._pid_max
                if span > MAX_PROBES or self._since_full + span > self._pid_max // 2:
                    span = None
            if span is None:
                self._full_scan()
                self._full_at = now
                self._since_full = 0
            else:
                for offset in range(1, span + 1):
                    pid = (self._last_pid + offset) % self._pid_max
                    if pid:
                        self._probe(pid)
                self._since_full += span
            self._last_pid = last
            self._refreshed_at = now

    def _read_last_pid(self) -> int | None:
        if self._last_pid_file < 0:
            return None
        try:
            return int(os.pread(self._last_pid_file, 32, 0))
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if self._last_pid_file >= 0:
            os.close(self._last_pid_file)
            self._last_pid_file = -1

    def _full_scan(self) -> None:
        self.full_scans += 1
        seen = set()
        for name in os.listdir("/proc"):
            if name.isdigit():
                pid = int(name)
                seen.add(pid)
                self._probe(pid, thread_group_leader=True)
        for pid in [pid for pid in self._entries if pid not in seen]:
            self._drop(pid)

    def _probe(self, pid: int, *, thread_group_leader: bool = False) -> _Entry | None:
        """Look at ``pid`` afresh; store and return its entry (None: no such process)."""
        self.probes += 1
        stat = read_stat(pid)
        if stat is None or (not thread_group_leader and stat.num_threads > 1
                            and _thread_group(pid) != pid):
            self._drop(pid)
            return None
        old = self._entries.get(pid)
        if old is not None and old.starttime == stat.starttime:
            marker = old.marker  # the environment a process was started with is fixed
        elif stat.kernel_thread or stat.zombie:
            marker = None
        else:
            marker = read_marker(pid, self._key)
        entry = _Entry(stat.starttime, stat.ppid, stat.sid, marker)
        if entry != old:
            self._drop(pid)
            self._entries[pid] = entry
            if marker is not None:
                self._by_marker.setdefault(marker, set()).add(pid)
            self._by_sid.setdefault(entry.sid, set()).add(pid)
            self._by_ppid.setdefault(entry.ppid, set()).add(pid)
        return entry

    def _drop(self, pid: int) -> None:
        entry = self._entries.pop(pid, None)
        if entry is None:
            return
        for index, key in ((self._by_marker, entry.marker), (self._by_sid, entry.sid),
                           (self._by_ppid, entry.ppid)):
            members = index.get(key)
            if members is not None:
                members.discard(pid)
                if not members:
                    del index[key]

    # -- families ----------------------------------------------------------------------

    def family(self, marker: str, sid: int | None = None) -> list[ProcStat]:
        """The job's processes as they are now, zombies included (``ProcStat.zombie``).

        ``sid`` counts the members of that session in; pass it only while the job's main
        process (whose pid is the session id) is not reaped, so that the id cannot have
        been reused.  Call ``refresh`` first for processes started since."""
        with self._lock:
            candidates = set(self._by_marker.get(marker, ()))
            if sid is not None:
                candidates.update(self._by_sid.get(sid, ()))
            members: dict[int, ProcStat] = {}
            for pid in candidates:
                entry = self._entries.get(pid)
                stat = read_stat(pid)
                if stat is None:
                    self._drop(pid)
                    continue
                if entry is None or entry.starttime != stat.starttime:
                    entry = self._probe(pid)  # a new process under an old pid
                    if entry is None:
                        continue
                if entry.marker == marker or (sid is not None and stat.sid == sid):
                    members[pid] = stat
            # Children of members: even one that left the session and cleared its
            # environment is family while its parent lives.
            stack = list(members.values())
            while stack:
                parent = stack.pop()
                for pid in list(self._by_ppid.get(parent.pid, ())):
                    if pid in members:
                        continue
                    stat = read_stat(pid)
                    if (stat is not None and stat.ppid == parent.pid
                            and stat.starttime >= parent.starttime):
                        members[pid] = stat
                        stack.append(stat)
            return list(members.values())
