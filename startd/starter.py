"""Running a job on the execute machine: sandbox, identity, environment, process family.

There is no starter *process* and no Python process per job: ``start_job`` makes the
job's sandbox and launches the job's own executable straight from the startd with
``subprocess.Popen`` (vfork + exec, also when it runs as another user: see Identity), in a
session of its own.  The startd then follows the job through a pidfd and ``/proc``:

- **Waiting.** Every started job has a pidfd (``os.pidfd_open``), which becomes readable
  when the job's main process exits.  ``ExitWaiter`` puts the pidfds of all running jobs in
  one epoll selector, so one thread waits for any number of jobs; there is no thread per
  job and no SIGCHLD handler (a handler would race with ``subprocess`` and every library
  that waits for its own children).  ``RunningJob.poll`` is the non-blocking check, and
  ``RunningJob.fileno`` lets a caller put the pidfd in a selector of its own.
- **The family.** Every process of the job gets ``ROOST_JOB_ID=<unique>`` in its
  environment; the job's processes are those carrying it, the members of the job's session
  and their children (``startd.usage.ProcessTracker``, HTCondor's procd tracking by
  environment).  ``kill``, ``vacate`` and the end of the main process sweep the whole
  family, including processes that left the session with ``setsid`` or were reparented;
  when the main process exits, what is left of the family is killed, as HTCondor's starter
  does.  Zombies left to the startd are reaped (call ``become_subreaper`` once in the
  startd, so that orphans of jobs come back to it rather than to init).
- **Usage** is the CPU time of the whole tree (user and system: the main process's rusage,
  which holds its waited-for descendants, plus the last samples of processes that died
  outside it), the peak of the tree's summed RSS seen at samples (``usage()``,
  ``check_memory()``; each live process's own VmHWM too, which catches spikes between
  samples), and the wall time.  The rusage ``ru_maxrss`` is not used: it includes the
  startd's own image from before the exec.  Sums of RSS count shared pages once per
  process, as HTCondor's procd does without cgroups; a job that lives shorter than the
  sampling interval reports no memory.

**Identity.** A startd running as root runs each job as its ``Owner`` (uid, gid and the
owner's supplementary groups), or as ``run_as`` when the startd is configured with one
account for all jobs (HTCondor's ``SLOT<N>_USER`` with ``STARTER_ALLOW_RUNAS_OWNER =
False``).  If the account does not exist on this machine the job is **refused** (a start
failure, hold code 6) rather than run as ``nobody``: a shared ``nobody`` would let
unrelated users' jobs signal and read each other, and the job could not write its output
into its owner's directories anyway; an administrator who wants HTCondor's nobody
behaviour passes ``run_as="nobody"``.  An account with uid 0 is used only for ``Owner =
"root"``; no other owner ever runs as root.  A startd that is not root runs every job as
its own user (a personal pool), whatever its Owner.

How: a short-lived thread becomes the user with the raw ``setgroups``/``setresgid``/
``setresuid`` system calls (which, unlike glibc's wrappers, change only the calling
thread; the real, effective and saved ids all change, so no capability is left), then
opens the job's In/Out/Err, checks its Iwd and calls Popen, which can then use vfork; the
thread ends with the call.  So the job's files are opened with the user's rights (a job
cannot make the root startd truncate ``/etc/shadow`` for it), and the spawn costs what a
spawn as root costs, where Popen's own ``user=`` forces a fork of the whole startd (twice
the cost here).  Where the system call numbers are not known (other architectures) the
files are opened under ``setfsuid``/``setfsgid`` on the calling thread and Popen switches
user in a forked child.  A side effect of any per-thread identity change: the kernel marks
the startd non-dumpable (no core files), as it does for every setuid program.

**Start failures** (missing or non-executable Cmd, bad Iwd, unopenable In/Out/Err, bad
Arguments or Environment, unknown user) are not exceptions: ``start_job`` returns a
``RunningJob`` whose ``poll`` gives at once a ``JobResult`` with failure
``"start-failed"`` and ``hold_code`` 6 (FailedToCreateProcess; 14 for the Iwd), with the
errno as ``hold_subcode``.  Only a failure to make the sandbox (a machine problem) has no
hold code: the job should go back to Idle.

**Sandbox**: ``<execute_dir>/dir_<startd pid>_<n>``, mode 0700, owned by the job's user,
holding ``.job.ad`` and ``.machine.ad`` (long form).  The job's pid is not known before it
starts, so the startd's pid and a counter take the place of HTCondor's starter pid.
``cleanup`` removes it.  Iwd defaults to the sandbox, and a job with an Iwd runs there.
A job whose files are transferred (``startd.transfer``) gets its sandbox first
(``make_sandbox``), its input fetched into it, and is then started there
(``start_job(..., sandbox=)``) with a job ad whose Iwd is the sandbox.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import errno as errno_names
import itertools
import math
import os
import platform
import pwd
import secrets
import select
import selectors
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import classad

from .usage import ProcessTracker, ProcStat, read_marker, read_peak_rss_kb

FAMILY_VARIABLE = "ROOST_JOB_ID"

# Hold codes (docs/codes-other-values/hold-table.rst).
HOLD_FAILED_TO_CREATE_PROCESS = 6
HOLD_IWD_ERROR = 14
HOLD_JOB_OUT_OF_RESOURCES = 34

# JobResult.failure values.
FAILURE_NONE = "none"  # the job exited on its own: exit_code says how
FAILURE_SIGNAL = "signal"  # a signal the startd did not send ended it
FAILURE_MEMORY = "memory"  # stopped for using more memory than allowed
FAILURE_START = "start-failed"  # it could not be started
FAILURE_KILLED = "killed"  # stopped by the startd (vacate, kill)

# STARTER_NUM_THREADS_ENV_VARS' default (docs/users-manual/env-of-job.rst).
THREAD_VARIABLES = (
    "CUBACORES", "GOMAXPROCS", "JULIA_NUM_THREADS", "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS", "OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "OPENBLAS_NUM_THREADS",
    "PYTHON_CPU_COUNT", "ROOT_MAX_THREADS", "TF_LOOP_PARALLEL_ITERATIONS", "TF_NUM_THREADS",
)  # fmt: skip

JOB_AD_FILE = ".job.ad"
MACHINE_AD_FILE = ".machine.ad"

KILL_TIMEOUT = 2.0  # seconds kill() keeps sweeping for processes that have not died yet
SOFT_MEMORY_AVAILABLE = 0.10  # "soft" policy: stop only when less than this is available
MEMORY_POLICIES = ("hard", "soft", "none")


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """What the job's process tree used."""

    cpu_user: float = 0.0  # seconds
    cpu_system: float = 0.0
    wall_seconds: float = 0.0
    rss_kb: int = 0  # the tree's resident memory at the last sample
    peak_rss_kb: int = 0  # the highest it was seen at

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_user + self.cpu_system

    @property
    def peak_memory_mb(self) -> int:
        """HTCondor's MemoryUsage: the peak RSS in MiB, rounded up."""
        return math.ceil(self.peak_rss_kb / 1024)


@dataclass(frozen=True, slots=True)
class JobResult:
    """How a run ended.  ``failure`` is one of the ``FAILURE_*`` values; ``hold_code``
    (with ``hold_subcode``, the errno for start failures) is set when HTCondor would hold
    the job for it."""

    exit_code: int | None
    exit_signal: int | None
    usage: Usage
    failure: str
    reason: str = ""
    hold_code: int | None = None
    hold_subcode: int = 0
    core_dumped: bool = False

    @property
    def exit_by_signal(self) -> bool:
        return self.exit_signal is not None


class _StartFailed(Exception):
    def __init__(self, reason: str, hold_code: int | None = HOLD_FAILED_TO_CREATE_PROCESS,
                 subcode: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hold_code = hold_code
        self.subcode = subcode


StartFailed = _StartFailed  # what make_sandbox raises (reason, hold_code, subcode)


# -- the job user's identity -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Identity:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


ACCOUNT_CACHE_SECONDS = 300.0  # as HTCondor's passwd cache, accounts are looked up rarely
_accounts: dict[str, tuple[float, pwd.struct_passwd | None, tuple[int, ...]]] = {}


def _account(name: str) -> tuple[pwd.struct_passwd | None, tuple[int, ...]]:
    """The account ``name`` (None if there is none) and its groups, cached a while."""
    now = time.monotonic()
    cached = _accounts.get(name)
    if cached is not None and now - cached[0] < ACCOUNT_CACHE_SECONDS:
        return cached[1], cached[2]
    try:
        entry = pwd.getpwnam(name)
        groups = tuple(os.getgrouplist(name, entry.pw_gid))
    except KeyError:
        entry, groups = None, ()
    _accounts[name] = (now, entry, groups)
    return entry, groups


def _job_identity(owner: str | None, run_as: str | None) -> _Identity | None:
    """Whom the job runs as; None: as the startd itself."""
    if os.geteuid() != 0:
        return None
    name = run_as or owner
    if not name:
        raise _StartFailed("the job has no Owner; refusing to run it as root")
    entry, groups = _account(name)
    if entry is None:
        raise _StartFailed(
            f"user {name!r} does not exist on this machine; refusing to run the job "
            "(jobs run as their owner, never as root for another user)")
    if entry.pw_uid == 0:
        if name != "root":
            raise _StartFailed(f"user {name!r} has uid 0; refusing to run the job as root")
        return None
    return _Identity(name, entry.pw_uid, entry.pw_gid, groups)


_own_names: dict[int, str] = {}


def _own_name() -> str:
    uid = os.geteuid()
    if uid not in _own_names:
        try:
            _own_names[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _own_names[uid] = str(uid)
    return _own_names[uid]


_libc = None
# Raw system call numbers (setresuid, setresgid, setgroups): glibc's wrappers change every
# thread of the process, the system calls only the calling one.
_SYSCALLS = {
    "x86_64": (117, 119, 116),
    "aarch64": (147, 149, 159),
    "riscv64": (147, 149, 159),
    "loongarch64": (147, 149, 159),
}


def _c_library():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _syscall(number: int, *arguments) -> None:
    if _c_library().syscall(number, *arguments) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _set_thread_groups(groups: Iterable[int]) -> None:
    groups = list(groups)
    array = (ctypes.c_uint32 * max(len(groups), 1))(*groups)
    _syscall(_SYSCALLS[platform.machine()][2], ctypes.c_size_t(len(groups)), array)


def _as_user_in_a_thread(identity: _Identity, function):
    """``function()`` run in a new thread that first becomes the job's user for good
    (groups, then gid, then uid: real, effective and saved, which also clears its
    capabilities).  Only that thread changes; it ends when ``function`` returns.  What it
    opens it opens with the user's rights, and a child it spawns is the user's from the
    start, so Popen can use vfork (Popen's own ``user=`` forces a fork, which copies the
    startd's page tables and costs twice as much)."""
    setresuid, setresgid, _ = _SYSCALLS[platform.machine()]
    outcome: dict = {}

    def run() -> None:
        try:
            try:
                _set_thread_groups(identity.groups)
                _syscall(setresgid, identity.gid, identity.gid, identity.gid)
                _syscall(setresuid, identity.uid, identity.uid, identity.uid)
            except OSError as error:
                raise _StartFailed(_failed_call(
                    f"Failed to become user {identity.name!r}", error)) from None
            outcome["value"] = function()
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    done = _thread.allocate_lock()  # a bare thread: half the cost of threading.Thread
    done.acquire()

    def run_then_release() -> None:
        try:
            run()
        finally:
            done.release()

    _thread.start_new_thread(run_then_release, ())
    done.acquire()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _FileIdentity:
    """This thread's filesystem identity switched to the job user's for the ``with`` block:
    ``setfsuid``/``setfsgid`` (which also drop root's file capabilities) and, where the
    system call number is known, this thread's own supplementary groups.  Other threads
    keep their identity.  Used where ``_as_user_in_a_thread`` cannot be."""

    def __init__(self, identity: _Identity | None) -> None:
        self.identity = identity
        self._groups: list[int] | None = None

    def __enter__(self) -> _FileIdentity:
        if self.identity is None:
            return self
        libc = _c_library()
        if platform.machine() in _SYSCALLS:
            self._groups = os.getgroups()
            _set_thread_groups(self.identity.groups)
        libc.setfsgid(self.identity.gid)
        libc.setfsuid(self.identity.uid)
        # An invalid id (-1) changes nothing and returns the current one.
        if libc.setfsuid(-1) != self.identity.uid or libc.setfsgid(-1) != self.identity.gid:
            self.__exit__(None, None, None)
            raise _StartFailed("cannot take the job user's identity to open its files")
        return self

    def __exit__(self, *exc) -> None:
        if self.identity is None:
            return
        libc = _c_library()
        libc.setfsuid(os.geteuid())
        libc.setfsgid(os.getegid())
        if self._groups is not None:
            _set_thread_groups(self._groups)
            self._groups = None


# -- process-wide helpers ------------------------------------------------------------------------

_tracker: ProcessTracker | None = None
_tracker_lock = threading.Lock()
_sequence = itertools.count(1)


def default_tracker() -> ProcessTracker:
    """The process tracker shared by the jobs of this process."""
    global _tracker
    with _tracker_lock:
        if _tracker is None:
            _tracker = ProcessTracker(FAMILY_VARIABLE)
        return _tracker


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (prctl
    PR_SET_CHILD_SUBREAPER), so that processes a job leaves behind come back to the startd,
    which kills and reaps them, instead of to init.  Call once at the startd's start; True
    on success.  ``stop_being_subreaper`` undoes it."""
    return _set_subreaper(1)


def stop_being_subreaper() -> bool:
    return _set_subreaper(0)


def _set_subreaper(value: int) -> bool:
    try:
        return _c_library().prctl(36, value, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def clean_up_after_a_dead_startd(execute_dir: Path) -> int:
    """Kill what is left of jobs whose startd is gone (killed with SIGKILL, or the machine
    crashed) and remove their sandboxes, as HTCondor's startd cleans its execute directory
    at start.  A job's processes carry ``ROOST_JOB_ID=<startd pid>.<n>.<secret>``; those of
    a startd that no longer runs are killed (another startd's on the same host are left
    alone).  Returns how many processes were killed."""
    return kill_jobs_of(lambda startd: not _alive(startd), execute_dir)


def kill_jobs_of(gone: Callable[[int], bool], execute_dir: Path) -> int:
    """Kill the processes of the jobs of every startd (by pid) that ``gone`` names, and
    remove their sandboxes; how many processes were killed."""
    key = f"{FAMILY_VARIABLE}=".encode()
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        marker = read_marker(int(entry), key)
        owner = marker.partition(".")[0] if marker else ""
        if owner.isdigit() and gone(int(owner)):
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
    if execute_dir.is_dir():
        for sandbox in execute_dir.glob("dir_*"):
            owner = sandbox.name.split("_")[1] if sandbox.name.count("_") >= 2 else ""
            if owner.isdigit() and gone(int(owner)):
                _remove_tree(sandbox)
    return killed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _text(ad: classad.ClassAd | None, name: str) -> str | None:
    if ad is None or name not in ad:
        return None
    value = ad.eval(name)
    return value if isinstance(value, str) else None


def _integer(ad: classad.ClassAd | None, name: str) -> int | None:
    if ad is None or name not in ad:
        return None
    value = ad.eval(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _failed_call(what: str, error: OSError) -> str:
    code = errno_names.errorcode.get(error.errno or 0, str(error.errno))
    return f"{what}: {error.strerror or error} (errno={error.errno} {code})"


# -- starting ---------------------------------------------------------------------------------


def make_sandbox(job_ad: classad.ClassAd, *, execute_dir: Path, run_as: str | None = None
                 ) -> tuple[Path, tuple[int, int] | None, str]:
    """A sandbox for the job, made as ``start_job`` makes one, for files to go in before
    it starts: its path, the (uid, gid) that must own what goes in (None: the startd's
    own), and the user the job runs as.  Raises StartFailed."""
    identity = _job_identity(_text(job_ad, "Owner"), run_as)
    sandbox = _make_sandbox(Path(execute_dir), next(_sequence), identity)
    owner = (identity.uid, identity.gid) if identity is not None else None
    return sandbox, owner, identity.name if identity else _own_name()


def start_job(job_ad: classad.ClassAd, *, execute_dir: Path, slot_name: str,
              slot_ad: classad.ClassAd | None = None, run_as: str | None = None,
              tracker: ProcessTracker | None = None,
              sandbox: Path | None = None,
              environment: Mapping[str, str] | None = None) -> RunningJob:
    """Start the job described by ``job_ad`` in a new sandbox under ``execute_dir``.

    Never raises for the job's own problems: a job that cannot be started comes back as a
    ``RunningJob`` whose ``poll()`` is a ``"start-failed"`` result (see the module's
    docstring for identity, sandbox and environment).  ``sandbox``: one ``make_sandbox``
    made (holding the job's input), used instead of a new one.  ``environment``: what the
    schedd adds to the job's environment beyond its ad (the run's credential)."""
    tracker = tracker or default_tracker()
    sequence = next(_sequence)
    marker = f"{os.getpid()}.{sequence}.{secrets.token_hex(6)}"
    job = RunningJob(slot_name=slot_name, marker=marker, tracker=tracker)
    job.request_memory_mb = _integer(job_ad, "RequestMemory")
    try:
        identity = _job_identity(_text(job_ad, "Owner"), run_as)
        job.user = identity.name if identity else _own_name()
        job.sandbox = sandbox or _make_sandbox(Path(execute_dir), sequence, identity)
        _write_ads(job.sandbox, job_ad, slot_ad, identity)
        argv, variables, iwd = _command(job_ad, job, slot_ad, environment or {})

        def launch(user: _Identity | None = None) -> subprocess.Popen:
            return _launch(job_ad, argv, variables, iwd, user)

        if identity is None:
            job._popen = launch()
        elif platform.machine() in _SYSCALLS:
            job._popen = _as_user_in_a_thread(identity, launch)
        else:
            with _FileIdentity(identity):
                job._popen = launch(identity)  # Popen switches user (with a fork)
    except _StartFailed as failure:
        job._fail(failure)
        return job
    job._launched()
    return job


def _launch(job_ad: classad.ClassAd, argv: list[str], environment: dict[str, str],
            iwd: str, user: _Identity | None) -> subprocess.Popen:
    """Open the job's files and start it, with whatever identity the calling thread has
    (``user``: Popen switches to it in the child)."""
    files: list[int] = []
    try:
        _check_iwd(iwd)
        stdin, stdout, stderr = _open_std_files(job_ad, iwd, files)
        try:
            return subprocess.Popen(
                argv, executable=argv[0], cwd=iwd, env=environment, stdin=stdin,
                stdout=stdout, stderr=stderr, start_new_session=True, close_fds=True,
                user=user.uid if user else None, group=user.gid if user else None,
                extra_groups=list(user.groups) if user else None,
            )  # fmt: skip
        except OSError as error:
            what = (f"Failed to change to the initial working directory '{iwd}'"
                    if error.filename == iwd else f"Failed to execute '{argv[0]}'")
            raise _StartFailed(_failed_call(what, error), subcode=error.errno or 0) from None
        except subprocess.SubprocessError as error:
            raise _StartFailed(f"Failed to execute '{argv[0]}': {error}") from None
    finally:
        for descriptor in set(files):
            os.close(descriptor)


def _make_sandbox(execute_dir: Path, sequence: int, identity: _Identity | None) -> Path:
    try:
        execute_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        for attempt in itertools.count():
            name = f"dir_{os.getpid()}_{sequence}"
            sandbox = execute_dir / (f"{name}_{attempt}" if attempt else name)
            try:
                sandbox.mkdir(mode=0o700)
                break
            except FileExistsError:
                continue  # left over by an earlier startd with the same pid
        os.chmod(sandbox, 0o700)
        if identity is not None:
            os.chown(sandbox, identity.uid, identity.gid)
        return sandbox
    except OSError as error:
        raise _StartFailed(_failed_call(f"Failed to make the sandbox in '{execute_dir}'",
                                        error), hold_code=None) from None


def _write_ads(sandbox: Path, job_ad: classad.ClassAd, slot_ad: classad.ClassAd | None,
               identity: _Identity | None) -> None:
    """``.job.ad`` and ``.machine.ad`` in the long form, owned by the job's user."""
    try:
        for name, ad in ((JOB_AD_FILE, job_ad), (MACHINE_AD_FILE, slot_ad)):
            data = memoryview((ad.print_old() if ad is not None else "").encode())
            descriptor = os.open(sandbox / name,
                                 os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            try:
                while data:
                    data = data[os.write(descriptor, data):]
                if identity is not None:
                    os.fchown(descriptor, identity.uid, identity.gid)
            finally:
                os.close(descriptor)
    except OSError as error:
        raise _StartFailed(_failed_call(f"Failed to write the job's ads in '{sandbox}'", error),
                           hold_code=None) from None


def _command(job_ad: classad.ClassAd, job: RunningJob, slot_ad: classad.ClassAd | None,
             granted: Mapping[str, str]) -> tuple[list[str], dict[str, str], str]:
    sandbox = str(job.sandbox)
    iwd = _text(job_ad, "Iwd") or sandbox
    if not os.path.isabs(iwd):
        raise _StartFailed(f"Iwd '{iwd}' is not an absolute path", HOLD_IWD_ERROR)
    cmd = _text(job_ad, "Cmd")
    if not cmd:
        raise _StartFailed("the job has no Cmd")
    cmd = os.path.join(iwd, cmd)  # an absolute Cmd stays as it is
    try:
        if "Arguments" in job_ad:
            arguments = classad.job_arguments(_text(job_ad, "Arguments") or "")
        else:
            arguments = classad.job_arguments(_text(job_ad, "Args") or "", version=1)
        if "Environment" in job_ad:
            environment = classad.job_environment(_text(job_ad, "Environment") or "")
        else:
            environment = classad.job_environment(_text(job_ad, "Env") or "", version=1)
    except ValueError as error:
        raise _StartFailed(str(error)) from None
    cpus = _integer(slot_ad, "Cpus") or _integer(job_ad, "RequestCpus") or 1
    for name in THREAD_VARIABLES:
        environment.setdefault(name, str(cpus))
    for name in ("TMPDIR", "TMP", "TEMP", "SINGULARITY_CACHEDIR", "APPTAINER_CACHEDIR"):
        environment.setdefault(name, sandbox)
    environment.update(granted)
    environment.update({
        "_CONDOR_SCRATCH_DIR": sandbox,
        "_CONDOR_SLOT": job.slot_name.partition("@")[0],
        "_CONDOR_JOB_AD": os.path.join(sandbox, JOB_AD_FILE),
        "_CONDOR_MACHINE_AD": os.path.join(sandbox, MACHINE_AD_FILE),
        "_CONDOR_JOB_IWD": iwd,
        "BATCH_SYSTEM": "HTCondor",
        FAMILY_VARIABLE: job.marker,
    })
    return [cmd, *arguments], environment, iwd


def _check_iwd(iwd: str) -> None:
    """The job's user can reach into its Iwd (run with the user's file identity)."""
    try:
        if not stat.S_ISDIR(os.stat(os.path.join(iwd, ".")).st_mode):
            raise NotADirectoryError(errno_names.ENOTDIR, os.strerror(errno_names.ENOTDIR))
    except OSError as error:
        hint = (" (the execute directory and its parents must be searchable by the job's "
                "user)") if error.errno == errno_names.EACCES else ""
        raise _StartFailed(
            _failed_call(f"Failed to change to the initial working directory '{iwd}'",
                         error) + hint, HOLD_IWD_ERROR, error.errno or 0) from None


def _open_std_files(job_ad: classad.ClassAd, iwd: str,
                    opened: list[int]) -> tuple[int, int, int]:
    """In, Out and Err opened with the user's file identity (Out and Err may be one file)."""
    paths = {}
    result = []
    for attribute, what, flags in (
        ("In", "standard input", os.O_RDONLY),
        ("Out", "standard output", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ("Err", "standard error", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        path = os.path.join(iwd, _text(job_ad, attribute) or os.devnull)
        if attribute != "In" and path in paths:
            result.append(paths[path])
            continue
        try:
            descriptor = os.open(path, flags | os.O_CLOEXEC | os.O_NOCTTY, 0o644)
        except OSError as error:
            raise _StartFailed(_failed_call(f"Failed to open '{path}' as {what}", error),
                               subcode=error.errno or 0) from None
        opened.append(descriptor)
        if attribute != "In":
            paths[path] = descriptor
        result.append(descriptor)
    return result[0], result[1], result[2]


# -- a running job ------------------------------------------------------------------------------


class RunningJob:
    """A job started by ``start_job``: poll it, measure it, stop it, clean up after it.

    Methods may be called from several threads.  ``poll``/``wait``/``ExitWaiter`` report
    the end once the main process has exited; by then the rest of the family has been
    killed and the main process reaped.  ``cleanup`` removes the sandbox."""

    def __init__(self, *, slot_name: str, marker: str, tracker: ProcessTracker) -> None:
        self.slot_name = slot_name
        self.marker = marker  # the value of ROOST_JOB_ID in the job's environment
        self.tracker = tracker
        self.sandbox: Path | None = None
        self.user: str | None = None
        self.request_memory_mb: int | None = None
        self.pid: int | None = None
        self.started = time.time()
        self._popen: subprocess.Popen | None = None
        self._pidfd = -1
        self._lock = threading.RLock()
        self._result: JobResult | None = None
        self._stop: tuple[str, str, int | None] | None = None  # failure, reason, hold code
        self._kill_at: float | None = None  # monotonic: SIGKILL after a vacate's grace
        self._reaped = False
        self._survivors = False  # family processes were still alive after the end's sweep
        # Usage accounting: the last sample of each family process (pid, start time) as
        # (ppid, user, system) seconds including the children it waited for.
        self._last: dict[tuple[int, int], tuple[int, float, float]] = {}
        self._orphan_user = self._orphan_system = 0.0
        self._cpu_user = self._cpu_system = 0.0
        self._rss_kb = self._peak_rss_kb = 0
        self._wall: float | None = None

    def __repr__(self) -> str:
        state = self._result.failure if self._result else "running"
        return f"<RunningJob {self.slot_name} pid={self.pid} {state} {self.sandbox}>"

    # -- start ---------------------------------------------------------------------------

    def _launched(self) -> None:
        self.pid = self._popen.pid
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (OSError, AttributeError):
            self._pidfd = -1  # no pidfds (Linux < 5.3): waiters poll instead

    def _fail(self, failure: _StartFailed) -> None:
        self._result = JobResult(None, None, Usage(), FAILURE_START, failure.reason,
                                 failure.hold_code, failure.subcode)

    # -- state ---------------------------------------------------------------------------

    @property
    def result(self) -> JobResult | None:
        return self._result

    def fileno(self) -> int:
        """The pidfd (readable once the main process has exited), or -1."""
        return self._pidfd

    def poll(self, now: float | None = None) -> JobResult | None:
        """The result once the job has ended, else None.  Does not wait for the job: when
        the main process has exited, kills what is left of the family (which may take up
        to ``KILL_TIMEOUT`` for processes stuck in the kernel), reaps it, and reports.
        ``now`` (epoch seconds, default the clock) ends the wall time."""
        with self._lock:
            if self._result is not None or self.pid is None:
                return self._result
            if self._kill_at is not None and time.monotonic() >= self._kill_at:
                self._kill_at = None
                self._signal(signal.SIGKILL, until_gone=False)
            try:
                exited = os.waitid(os.P_PID, self.pid,
                                   os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
            except ChildProcessError:
                exited = True
            if not exited:
                return None
            self._finish(time.time() if now is None else now)
            return self._result

    def wait(self, timeout: float | None = None) -> JobResult | None:
        """Block until the job ends (or ``timeout`` seconds pass: None)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            result = self.poll()
            if result is not None:
                return result
            now = time.monotonic()
            waits = [0.05 if self._pidfd < 0 else 1.0]
            if deadline is not None:
                if now >= deadline:
                    return None
                waits.append(deadline - now)
            if self._kill_at is not None:
                waits.append(max(self._kill_at - now, 0.0))
            pause = max(min(waits), 0.0)
            if self._pidfd >= 0:
                poller = select.poll()
                poller.register(self._pidfd, select.POLLIN)
                poller.poll(pause * 1000)
            else:
                time.sleep(pause)

    # -- measuring -----------------------------------------------------------------------

    def _members(self, max_age: float = 0.0) -> list[ProcStat]:
        self.tracker.refresh(max_age=max_age)
        # The session id is the main process's pid: trusted only while that is unreaped.
        return self.tracker.family(self.marker, None if self._reaped else self.pid)

    def _account(self, members: list[ProcStat], *, peaks: bool = False) -> None:
        current = {(m.pid, m.starttime): m for m in members}
        present = {m.pid for m in members}
        for key, (ppid, user, system) in self._last.items():
            # Gone, and not to a family parent (whose children's times hold it): count it.
            if key not in current and ppid not in present:
                self._orphan_user += user
                self._orphan_system += system
        self._last = {key: (m.ppid, m.utime + m.cutime, m.stime + m.cstime)
                      for key, m in current.items()}
        self._cpu_user = max(self._cpu_user, self._orphan_user + sum(
            m.utime + m.cutime for m in members))
        self._cpu_system = max(self._cpu_system, self._orphan_system + sum(
            m.stime + m.cstime for m in members))
        self._rss_kb = sum(m.rss_kb for m in members if not m.zombie)
        self._peak_rss_kb = max(self._peak_rss_kb, self._rss_kb)
        if peaks:  # each process's own peak catches spikes between samples
            for member in members:
                if not member.zombie:
                    self._peak_rss_kb = max(self._peak_rss_kb, read_peak_rss_kb(member.pid))

    def usage(self, now: float | None = None) -> Usage:
        """The tree's usage so far (a fresh sample while it runs; final once ended)."""
        with self._lock:
            if self._result is None and self.pid is not None:
                members = self._members(max_age=0.2)
                self._account(members, peaks=True)
                self._reap_adopted(members)
            return self._usage(time.time() if now is None else now)

    def _usage(self, now: float) -> Usage:
        wall = self._wall if self._wall is not None else max(now - self.started, 0.0)
        return Usage(self._cpu_user, self._cpu_system, wall, self._rss_kb, self._peak_rss_kb)

    def check_memory(self, limit_mb: float | None = None, policy: str = "hard", *,
                     factor: float = 1.0) -> bool:
        """Stop the job (SIGKILL to the family, failure ``"memory"``, hold code 34) if the
        tree's resident memory exceeds ``limit_mb * factor`` MiB; True if it was stopped.

        ``limit_mb`` defaults to the job's RequestMemory.  Policies (HTCondor's cgroup
        memory policies, measured rather than enforced by the kernel): ``"hard"`` stops at
        the limit; ``"soft"`` lets the job exceed it while the machine has more than
        ``SOFT_MEMORY_AVAILABLE`` of its memory available; ``"none"`` never stops it."""
        if policy not in MEMORY_POLICIES:
            raise ValueError(f"memory policy {policy!r} is not one of {MEMORY_POLICIES}")
        limit_mb = self.request_memory_mb if limit_mb is None else limit_mb
        with self._lock:
            if self._result is not None or self.pid is None or self._reaped:
                return False
            usage = self.usage()
            if policy == "none" or limit_mb is None:
                return False
            limit = limit_mb * factor
            if usage.rss_kb <= limit * 1024:
                return False
            if policy == "soft":
                import psutil

                memory = psutil.virtual_memory()
                if memory.available > SOFT_MEMORY_AVAILABLE * memory.total:
                    return False
            reason = (f"Job has gone over memory limit of {math.ceil(limit)} megabytes. "
                      f"Last measured usage: {math.ceil(usage.rss_kb / 1024)} megabytes. "
                      "Consider resubmitting with a higher request_memory.")
            self._stop = (FAILURE_MEMORY, reason, HOLD_JOB_OUT_OF_RESOURCES)
            self._kill_at = None
            self._signal(signal.SIGKILL, until_gone=True)
            return True

    # -- stopping ------------------------------------------------------------------------

    def suspend(self) -> None:
        """SIGSTOP to the whole family (the startd's SUSPEND)."""
        with self._lock:
            if self._result is None and self.pid is not None and not self._reaped:
                self._signal(signal.SIGSTOP, until_gone=False)

    def resume(self) -> None:
        """SIGCONT to the whole family (the startd's CONTINUE)."""
        with self._lock:
            if self._result is None and self.pid is not None and not self._reaped:
                self._signal(signal.SIGCONT, until_gone=False)

    def vacate(self, grace: float, reason: str = "vacated",
               signum: int = signal.SIGTERM) -> None:
        """The soft-kill ``signum`` (the job's KillSig), and SIGCONT so that a stopped job
        gets it, to the whole family now, SIGKILL to what is left after ``grace`` seconds.
        Does not block: ``poll``/``wait``/``ExitWaiter`` send the SIGKILL when the grace
        is over."""
        with self._lock:
            if self._result is not None or self.pid is None or self._reaped:
                return
            if grace <= 0:
                self.kill(reason)
                return
            if self._stop is None:
                self._stop = (FAILURE_KILLED, reason, None)
            self._signal(signum, until_gone=False, then_continue=True)
            deadline = time.monotonic() + grace
            self._kill_at = deadline if self._kill_at is None else min(self._kill_at, deadline)

    def kill(self, reason: str = "killed") -> None:
        """SIGKILL to everything in the family, until none of it is left alive (up to
        ``KILL_TIMEOUT``).  The main process is reaped by the next ``poll``."""
        with self._lock:
            if self._result is not None or self.pid is None:
                return
            if self._stop is None:
                self._stop = (FAILURE_KILLED, reason, None)
            self._kill_at = None
            self._signal(signal.SIGKILL, until_gone=True)

    def _signal(self, signum: int, *, until_gone: bool,
                then_continue: bool = False) -> list[ProcStat]:
        """Send ``signum`` (followed by SIGCONT with ``then_continue``) to the family; with
        ``until_gone``, repeat (catching processes forked meanwhile) until none is alive.
        Returns the members last seen alive."""
        deadline = time.monotonic() + KILL_TIMEOUT
        numbers = (signum, signal.SIGCONT) if then_continue else (signum,)
        while True:
            members = self._members()
            alive = [m for m in members if not m.zombie]
            for member in alive:
                for number in numbers:
                    with contextlib.suppress(OSError):
                        os.kill(member.pid, number)
            if not self._reaped:
                for number in numbers:
                    with contextlib.suppress(OSError):
                        os.killpg(self.pid, number)
            self._reap_adopted(members)
            if not until_gone or not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.0005)

    def _reap_adopted(self, members: list[ProcStat]) -> None:
        """Reap zombies of the family that are this process's children (orphans it adopted
        as a subreaper); the main process is reaped only by ``_finish``."""
        me = os.getpid()
        for member in members:
            if member.zombie and member.ppid == me and member.pid != self.pid:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(member.pid, os.WNOHANG)

    def _finish(self, now: float) -> None:
        """The main process has exited and is a zombie: account for the family, kill the
        rest of it (the session id still means this job), then reap the main process."""
        members = self._members()
        self._account(members)
        remnants = [m for m in members if m.pid != self.pid]
        if any(not m.zombie for m in remnants):
            # Whatever survives KILL_TIMEOUT (stuck in the kernel) is swept again later.
            self._survivors = bool(self._signal(signal.SIGKILL, until_gone=True))
        else:
            self._reap_adopted(members)
        status, rusage = None, None
        with contextlib.suppress(ChildProcessError):  # reaped elsewhere: status lost
            _, status, rusage = os.wait4(self.pid, 0)
        self._reaped = True
        self._close_pidfd()
        if rusage is not None:
            left_user = sum(m.utime + m.cutime for m in remnants)
            left_system = sum(m.stime + m.cstime for m in remnants)
            self._cpu_user = max(self._cpu_user,
                                 rusage.ru_utime + self._orphan_user + left_user)
            self._cpu_system = max(self._cpu_system,
                                   rusage.ru_stime + self._orphan_system + left_system)
        self._rss_kb = 0
        self._wall = max(now - self.started, 0.0)
        exit_code = exit_signal = None
        core = False
        if status is not None and os.WIFSIGNALED(status):
            exit_signal = os.WTERMSIG(status)
            core = os.WCOREDUMP(status)
        elif status is not None:
            exit_code = os.WEXITSTATUS(status)
        if self._popen is not None:
            self._popen.returncode = -exit_signal if exit_signal else (exit_code or 0)
        hold_code = None
        if self._stop is not None:
            failure, reason, hold_code = self._stop
        elif status is None:
            failure, reason = FAILURE_KILLED, "the job's exit status was lost"
        elif exit_signal is not None:
            failure = FAILURE_SIGNAL
            reason = f"died on signal {exit_signal} ({_signal_name(exit_signal)})"
        else:
            failure, reason = FAILURE_NONE, f"exited normally with status {exit_code}"
        self._result = JobResult(exit_code, exit_signal, self._usage(now), failure, reason,
                                 hold_code, 0, core)

    def _close_pidfd(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    # -- cleaning up ---------------------------------------------------------------------

    def cleanup(self) -> None:
        """Kill whatever of the job is left, reap it, and remove the sandbox."""
        with self._lock:
            if self._result is None and self.pid is not None:
                self.kill("cleaned up")
                self.poll()
            elif self.pid is not None and self._survivors:
                # Ended, but some of it would not die then: sweep again (by marker).
                self._survivors = bool(self._signal(signal.SIGKILL, until_gone=True))
            self._close_pidfd()
            if self.sandbox is not None and os.path.lexists(self.sandbox):
                _remove_tree(self.sandbox)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def remove_tree(path: Path) -> None:
    """Remove a sandbox (see ``_remove_tree``)."""
    _remove_tree(path)


def _remove_tree(path: Path) -> None:
    """``rm -rf`` that does not follow symlinks and gets through directories the job made
    unreadable (when the startd is not root)."""
    try:  # the common case: nothing but the ads is left
        for name in (JOB_AD_FILE, MACHINE_AD_FILE):
            os.unlink(path / name)
        os.rmdir(path)
        return
    except OSError:
        pass

    def make_removable(function, failed_path, _exc_info) -> None:
        parent = os.path.dirname(failed_path)
        for target in (parent, failed_path):
            try:
                if not os.path.islink(target):
                    os.chmod(target, 0o700)
            except OSError:
                pass
        function(failed_path)

    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path, onerror=make_removable)


# -- waiting for many jobs ------------------------------------------------------------------------


class ExitWaiter:
    """Waits for the ends of any number of jobs in one thread.

    The waiter holds a duplicate of each job's pidfd in one epoll selector
    (``selectors.DefaultSelector``): ``wait`` sleeps in a single ``epoll_wait`` until some
    job's main process exits, a vacated job's grace runs out, another thread ``add``\\ s a
    job or calls ``wake``, or the timeout passes.  While jobs run it wakes at least every
    ``tick`` seconds to keep the process tracker's incremental refresh small.  Jobs without
    a pidfd (old kernels, start failures) are polled at each wake-up.  Jobs may also be
    polled, killed or vacated from other threads meanwhile."""

    def __init__(self, *, tick: float = 1.0) -> None:
        self.tick = tick
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._pending: list[RunningJob] = []
        self._jobs: dict[RunningJob, int] = {}  # job -> the waiter's pidfd, or -1
        self._waiting = False  # a wait is under way: an add from elsewhere must wake it
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs) + len(self._pending)

    def add(self, job: RunningJob) -> None:
        """Follow ``job`` (from any thread)."""
        with self._lock:
            self._pending.append(job)
            waiting = self._waiting
        if waiting:
            self._poke(b"a")

    def discard(self, job: RunningJob) -> None:
        """Stop following ``job`` (from the waiting thread, or while no one waits)."""
        with self._lock:
            if job in self._pending:
                self._pending.remove(job)
        self._forget(job)

    def wake(self) -> None:
        """Make a ``wait`` in another thread return (with what has ended so far)."""
        self._poke(b"w")

    def _poke(self, byte: bytes) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, byte)

    def _forget(self, job: RunningJob) -> None:
        descriptor = self._jobs.pop(job, None)
        if descriptor is not None and descriptor >= 0:
            self._selector.unregister(descriptor)
            os.close(descriptor)

    def _adopt(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for job in pending:
            if job in self._jobs:
                continue
            descriptor = -1
            with job._lock:
                if job.fileno() >= 0:
                    descriptor = os.dup(job.fileno())
            self._jobs[job] = descriptor
            if descriptor >= 0:
                self._selector.register(descriptor, selectors.EVENT_READ, job)

    def _pause(self, deadline: float | None) -> float | None:
        current = time.monotonic()
        pauses = []
        if self._jobs:
            pauses.append(self.tick)
        if any(descriptor < 0 for descriptor in self._jobs.values()):
            pauses.append(0.05)
        pauses += [job._kill_at - current for job in self._jobs if job._kill_at is not None]
        if deadline is not None:
            pauses.append(deadline - current)
        return max(min(pauses), 0.0) if pauses else None

    def wait(self, timeout: float | None = None, *,
             now: float | None = None) -> list[tuple[RunningJob, JobResult]]:
        """The jobs that ended, with their results; waits up to ``timeout`` seconds (None:
        until one ends or ``wake`` is called) and returns [] if none did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._waiting = True
        try:
            return self._wait(deadline, now)
        finally:
            with self._lock:
                self._waiting = False

    def _wait(self, deadline: float | None,
              now: float | None) -> list[tuple[RunningJob, JobResult]]:
        while True:
            self._adopt()
            events = self._selector.select(self._pause(deadline))
            woken = False
            ready = {job for job, descriptor in self._jobs.items() if descriptor < 0}
            for key, _ in events:
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        while data := os.read(self._wake_read, 4096):
                            woken = woken or b"w" in data  # not for an add: it is adopted
                else:
                    ready.add(key.data)
            current = time.monotonic()
            ready.update(job for job in self._jobs
                         if job._kill_at is not None and job._kill_at <= current)
            ended = []
            for job in ready:
                result = job.poll(now)
                if result is not None:
                    ended.append((job, result))
                    self._forget(job)
            if not ended:
                for tracker in {job.tracker for job in self._jobs}:
                    tracker.refresh(max_age=self.tick)
            if ended or woken or (deadline is not None and current >= deadline):
                return ended

    def close(self) -> None:
        for job in list(self._jobs):
            self._forget(job)
        self._selector.close()
        for descriptor in (self._wake_read, self._wake_write):
            os.close(descriptor)
