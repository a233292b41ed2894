"""The startd's side of file transfer: a job's input fetched into its sandbox before it
starts, its output sent back after it ends, as HTCondor's starter does.

**Whether.**  ``wanted``: ``ShouldTransferFiles`` YES always, NO never, IF_NEEDED (the
default) when the job's ``FileSystemDomain`` (the submit host's, which the schedd puts in
at submit) is not the slot's.  A job with no FileSystemDomain, or of the slot's own domain
(a personal pool), runs in its Iwd as it always did.

**How.**  The startd dials the job's schedd (the address RequestClaim brought; the schedd
is reachable where the execute host may not be) and presents the claim id, which is the
credential.  ``Transfer.fetch_input`` receives the input into the sandbox (every file
checked by its sha256, renamed into place only when all came); ``prepared_ad`` is the job
ad the starter then runs: Iwd the sandbox, Cmd and In by their base names, Out and Err
``_condor_stdout``/``_condor_stderr``.  After the run ``output_entries`` picks the output
(``transfer_output_files``, else every file at the top of the sandbox that the job made or
changed, leaving out what came in unchanged; then stdout and stderr) and
``Transfer.send_output`` sends it (``WhenToTransferOutput``: ON_EXIT on any exit, ON_SUCCESS
on exit code 0 only, ON_EXIT_OR_EVICT also when evicted, into the schedd's spool, whence
the next run gets it back).

**When it fails.**  ``TransferFailed`` carries HTCondor's hold code: 13 for input that
cannot be had (before the job starts), 12 for output (a listed file missing, the submit
directory gone or full), 32/33 for a size limit.  ``TransferLost`` is a failure of the
way between the hosts (the schedd unreachable, a broken stream, a full execute disk): the
run goes back to Idle.  ``cancel`` (the run killed: lease expired, vacated) stops a
transfer at once; nothing partial is left where the user looks, since the receiving side
puts files in place only when all have come.

**In the startd** a run whose files move is a ``Stage`` while they do: it stands where the
``RunningJob`` stands (usage, signals, cleanup), so the startd's loops need not know.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from classad import ClassAd
from roost import file_transfer as ft
from roost.rpc import schedd_pb2, schedd_pb2_grpc
from startd import starter

log = logging.getLogger("roost.startd.transfer")

STDOUT, STDERR = "_condor_stdout", "_condor_stderr"
FAILURE_TRANSFER = "transfer-failed"  # a JobResult.failure: its files could not move
# Hold codes (hold-table.rst).
HOLD_TRANSFER_OUTPUT = 12
HOLD_TRANSFER_INPUT = 13
HOLD_MAX_INPUT = 32
HOLD_MAX_OUTPUT = 33
MiB = 1 << 20
BUSY_PAUSE = (1.0, 15.0)  # first and longest pause before asking a busy schedd again
# How long an unreachable schedd is tried again (one restarting comes back within it;
# the claim's lease decides beyond).
UNAVAILABLE_SECONDS = 60.0
ON_EXIT, ON_SUCCESS, ON_EXIT_OR_EVICT = "ON_EXIT", "ON_SUCCESS", "ON_EXIT_OR_EVICT"
# Why the startd stopped a run, when output still goes to the spool (ON_EXIT_OR_EVICT):
# the schedd can be told (not a lost lease).
_EVICTIONS = frozenset({"evicted", "walltime"})
_SANDBOX_OWN = frozenset({starter.JOB_AD_FILE, starter.MACHINE_AD_FILE, STDOUT, STDERR})


class TransferFailed(Exception):
    """The job's files cannot move as the job asks: held with ``hold_code``."""

    def __init__(self, hold_code: int, reason: str) -> None:
        super().__init__(reason)
        self.hold_code = hold_code
        self.reason = reason


class TransferLost(Exception):
    """The way to the schedd failed: the run is lost, not the job's fault."""


class TransferCancelled(Exception):
    """The run was stopped while its files moved."""


# -- what the job ad says ------------------------------------------------------------------


def _text(ad: ClassAd, name: str) -> str:
    value = ad.eval(name) if name in ad else None
    return value if isinstance(value, str) else ""


def _flag(ad: ClassAd, name: str, default: bool) -> bool:
    value = ad.eval(name) if name in ad else None
    return value if isinstance(value, bool) else default


def wanted(job_ad: ClassAd, slot_ad: ClassAd) -> bool:
    """Whether the job's files move to and from this slot (see the module's docstring)."""
    should = (_text(job_ad, "ShouldTransferFiles") or "IF_NEEDED").upper()
    if should == "YES":
        return True
    if should == "NO":
        return False
    job_domain, slot_domain = _text(job_ad, "FileSystemDomain"), _text(slot_ad,
                                                                        "FileSystemDomain")
    return bool(job_domain) and job_domain.lower() != slot_domain.lower()


def when(job_ad: ClassAd) -> str:
    return (_text(job_ad, "WhenToTransferOutput") or ON_EXIT).upper()


def sends_output(job_ad: ClassAd, result: starter.JobResult, stopped_as: str) -> bool:
    """Whether a run that ended so sends output back: ON_EXIT when the job exited (by
    itself, or by a signal of its own), ON_SUCCESS when it exited 0, ON_EXIT_OR_EVICT
    also when the startd evicted it (then to the spool)."""
    exited = result.failure in (starter.FAILURE_NONE, starter.FAILURE_SIGNAL)
    asked = when(job_ad)
    if asked == ON_SUCCESS:
        return result.failure == starter.FAILURE_NONE and result.exit_code == 0
    if asked == ON_EXIT_OR_EVICT and evicted(result, stopped_as):
        return True
    return exited


def evicted(result: starter.JobResult, stopped_as: str) -> bool:
    return result.failure == starter.FAILURE_KILLED and stopped_as in _EVICTIONS


def _stream(job_ad: ClassAd, name: str) -> str:
    path = _text(job_ad, name)
    if not path or path == os.devnull or not _flag(job_ad, "Transfer" + name, True):
        return ""
    return path


def prepared_ad(job_ad: ClassAd, sandbox: Path) -> ClassAd:
    """The job ad the starter runs once the input is in the sandbox."""
    ad = job_ad.copy()
    ad["Iwd"] = str(sandbox)
    cmd = _text(job_ad, "Cmd")
    if cmd and _flag(job_ad, "TransferExecutable", True):
        ad["Cmd"] = os.path.basename(cmd)
    if _stream(job_ad, "In"):
        ad["In"] = os.path.basename(_text(job_ad, "In"))
    # Streams not transferred (TransferOut/TransferErr = false) are written where they
    # say on this machine, as HTCondor does.
    out, err = _stream(job_ad, "Out"), _stream(job_ad, "Err")
    if out:
        ad["Out"] = STDOUT
    if err:
        ad["Err"] = STDOUT if err == out else STDERR
    return ad


Snapshot = dict[str, tuple[int, int]]  # top-level name -> (size, mtime in ns)


def snapshot(sandbox: Path) -> Snapshot:
    """What the top of the sandbox holds, to tell later what the job made or changed."""
    found = {}
    with os.scandir(sandbox) as entries:
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            found[entry.name] = (info.st_size, info.st_mtime_ns)
    return found


def output_entries(job_ad: ClassAd, sandbox: Path, before: Snapshot, *,
                   intermediate: frozenset[str] = frozenset(), for_spool: bool = False,
                   where: str = "") -> list[ft.Entry]:
    """The files the run sends back, named as they land (relative to Iwd); with
    ``for_spool`` (an evicted run's output) as they lie in the sandbox, and without stdout
    and stderr.  ``before`` is the sandbox as the input left it; ``intermediate`` the
    files an earlier evicted run left (always sent).  TransferFailed (hold 12) names a
    listed file the job did not make."""
    listed = [item.strip() for item in _text(job_ad, "TransferOutput").split(",")
              if item.strip()]
    preserve = _flag(job_ad, "PreserveRelativePaths", False)
    entries: list[ft.Entry] = []
    if "TransferOutput" in job_ad:
        for item in listed:
            entries += _listed(sandbox, item, preserve and not for_spool, where)
    else:
        with os.scandir(sandbox) as found:
            for entry in sorted(found, key=lambda e: e.name):
                if entry.name in _SANDBOX_OWN or ft.PART in entry.name:
                    continue
                info = entry.stat(follow_symlinks=False)
                if not entry.is_file(follow_symlinks=False):
                    continue  # as HTCondor: directories are sent only when listed
                if (before.get(entry.name) == (info.st_size, info.st_mtime_ns)
                        and entry.name not in intermediate):
                    continue  # came in and was not changed
                entries.append(ft.Entry(entry.name, info.st_size, info.st_mode & 0o777,
                                        False, Path(entry.path)))
    if not for_spool:
        out, err = _stream(job_ad, "Out"), _stream(job_ad, "Err")
        if out and (sandbox / STDOUT).is_file():
            entries.append(ft.entry_of(sandbox / STDOUT, STDOUT))
        if err and err != _text(job_ad, "Out") and (sandbox / STDERR).is_file():
            entries.append(ft.entry_of(sandbox / STDERR, STDERR))
    seen: dict[str, ft.Entry] = {}
    for entry in entries:
        seen.setdefault(entry.name, entry)
    return list(seen.values())


def _listed(sandbox: Path, item: str, preserve: bool, where: str) -> list[ft.Entry]:
    relative = os.path.normpath(item.rstrip("/")).lstrip("/")
    if relative.startswith("..") or relative == ".":
        raise TransferFailed(HOLD_TRANSFER_OUTPUT, f"transfer_output_files: {item!r} is not "
                             "in the job's sandbox")
    source = sandbox / relative
    name = relative if preserve else os.path.basename(relative)
    try:
        entry = ft.entry_of(source, name)
    except ft.TransferError:
        place = f" on {where}" if where else ""
        raise TransferFailed(HOLD_TRANSFER_OUTPUT, f"Transfer output files failure{place}: "
                             f"the job made no file {item!r} (listed in "
                             "transfer_output_files)") from None
    return ft.tree(source, name) if entry.directory else [entry]


def output_limit(job_ad: ClassAd) -> int | None:
    value = job_ad.eval("MaxTransferOutputMB") if "MaxTransferOutputMB" in job_ad else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value * MiB)


# -- moving the files ------------------------------------------------------------------------


@dataclass
class Moved:
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0


def insecure_channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address)


class Transfer:
    """One run's file transfer with its schedd at ``address``, presenting ``claim_id`` for
    job ``job_id``.  ``channel(address)`` makes the gRPC channel (TLS where the pool has
    it).  ``cancel`` may be called from any thread."""

    def __init__(self, address: str, claim_id: str, job_id: str, *,
                 channel: Callable[[str], grpc.Channel] = insecure_channel) -> None:
        self.address = address
        self.claim_id = claim_id
        self.job_id = job_id
        self.channel = channel
        self.input = Moved()
        self.output = Moved()
        self.intermediate: frozenset[str] = frozenset()  # inputs an evicted run left
        # The (uid, gid) the job runs as, when not the startd's own: its output is read
        # with its rights (a job must not have root read /etc/shadow for it by a symlink).
        self.owner: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._calls: list = []
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            calls = list(self._calls)
        for call in calls:
            call.cancel()

    def attrs(self) -> dict[str, object]:
        """What the run's end event tells of the transfer (the schedd keeps the seconds
        apart from the run time: CumulativeTransferTime, the attempt's record)."""
        return {"TransferInputSeconds": round(self.input.seconds, 3),
                "TransferInputBytes": self.input.bytes,
                "TransferOutputSeconds": round(self.output.seconds, 3),
                "TransferOutputBytes": self.output.bytes}

    def fetch_input(self, sandbox: Path, *, owner: tuple[int, int] | None = None) -> Moved:
        """The job's input, into ``sandbox``."""
        started = time.monotonic()
        request = schedd_pb2.FetchInputRequest(claim_id=self.claim_id, job_id=self.job_id)

        def attempt(stub):
            receiver = ft.Receiver(sandbox, owner=owner)
            call = stub.FetchInput(request)
            self._track(call)
            try:
                ft.receive(_flagging(call, self), receiver)
            finally:
                self._untrack(call)
            return receiver

        receiver = self._call(attempt, input_side=True)
        self.input = Moved(len(receiver.files), receiver.bytes, time.monotonic() - started)
        return self.input

    def send_output(self, entries: list[ft.Entry], *, evicted: bool = False) -> Moved:
        """``entries`` (read from the sandbox) to the schedd: into the submit directory,
        or the spool for an evicted run."""
        started = time.monotonic()
        failure: list[ft.TransferError] = []

        def messages() -> Iterator[schedd_pb2.FileTransferMessage]:
            first = schedd_pb2.FileTransferMessage(claim_id=self.claim_id, job_id=self.job_id,
                                                   evicted=evicted)
            identity = ft.FileIdentity(self.owner)
            try:
                yield from ft.send(entries, first, opener=lambda path: _open_as(identity, path))
            except ft.TransferError as error:
                # Stopping here ends the stream short: the schedd keeps nothing of it.
                failure.append(error)

        def attempt(stub):
            failure.clear()
            call = stub.StoreOutput.future(messages())
            self._track(call)
            try:
                return call.result()
            except grpc.FutureCancelledError:
                raise TransferCancelled() from None
            finally:
                self._untrack(call)

        try:
            reply = self._call(attempt, input_side=False)
        except TransferLost:
            if failure:
                raise TransferFailed(HOLD_TRANSFER_OUTPUT, str(failure[0])) from None
            raise
        self.output = Moved(reply.files, reply.bytes, time.monotonic() - started)
        return self.output

    def _track(self, call) -> None:
        with self._lock:
            self._calls.append(call)
        if self._cancelled.is_set():
            call.cancel()

    def _untrack(self, call) -> None:
        with self._lock:
            self._calls.remove(call)

    def _call(self, attempt, *, input_side: bool):
        """``attempt(stub)`` until it succeeds; a busy schedd is asked again after a
        pause, an unreachable one for up to UNAVAILABLE_SECONDS; the rest become
        TransferFailed or TransferLost."""
        hold, limit = ((HOLD_TRANSFER_INPUT, HOLD_MAX_INPUT) if input_side
                       else (HOLD_TRANSFER_OUTPUT, HOLD_MAX_OUTPUT))
        pause = BUSY_PAUSE[0]
        unavailable_until = time.monotonic() + UNAVAILABLE_SECONDS
        channel = self.channel(self.address)
        try:
            stub = schedd_pb2_grpc.ScheddStub(channel)
            while True:
                if self._cancelled.is_set():
                    raise TransferCancelled()
                try:
                    return attempt(stub)
                except ft.TransferError as error:  # our side: the execute host's disk...
                    if self._cancelled.is_set():
                        raise TransferCancelled() from None
                    raise TransferLost(f"cannot receive the job's input here: {error}") \
                        from None
                except grpc.RpcError as error:
                    if self._cancelled.is_set():
                        raise TransferCancelled() from None
                    code, details = error.code(), error.details() or str(error.code())
                    if code in (grpc.StatusCode.FAILED_PRECONDITION,):
                        raise TransferFailed(hold, details) from None
                    if code is grpc.StatusCode.OUT_OF_RANGE:
                        raise TransferFailed(limit, details) from None
                    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
                        log.info("job %s: %s; asking again in %.0f s", self.job_id,
                                 details, pause)
                    elif (code is not grpc.StatusCode.UNAVAILABLE
                          or time.monotonic() >= unavailable_until):
                        raise TransferLost(f"file transfer with the schedd at "
                                           f"{self.address} failed: {details}") from None
                    if self._cancelled.wait(pause * random.uniform(0.8, 1.2)):
                        raise TransferCancelled() from None
                    pause = min(pause * 2, BUSY_PAUSE[1])
        finally:
            channel.close()


def _open_as(identity: ft.FileIdentity, path: Path):
    with identity:
        return open(path, "rb")  # noqa: SIM115


def _flagging(call, transfer: Transfer):
    """The input stream, noting which files an evicted run left (``intermediate``)."""
    spooled = set()
    for message in call:
        spooled.update(f.name for f in message.files if f.intermediate)
        yield message
    transfer.intermediate = frozenset(spooled)


# -- a run while its files move --------------------------------------------------------------


@dataclass
class Stage:
    """Stands for a run's job while its files move (see the module's docstring): before
    the start (``job`` None) or after the end (``job`` the RunningJob that ended)."""

    slot_name: str
    transfer: Transfer
    sandbox: Path | None = None
    job: starter.RunningJob | None = None
    user: str | None = None
    started: float = field(default_factory=time.time)

    def usage(self, now: float | None = None) -> starter.Usage:
        return self.job.usage(now) if self.job is not None else starter.Usage()

    def check_memory(self, *args, **kwargs) -> bool:
        return False

    def suspend(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def vacate(self, grace: float, reason: str = "vacated", signum: int = 0) -> None:
        # Output already on its way is given the grace to finish (the startd kills it
        # after); input is for a job that has not started: stop at once.
        if self.job is None:
            self.transfer.cancel()

    def kill(self, reason: str = "killed") -> None:
        self.transfer.cancel()

    def cleanup(self) -> None:
        if self.job is not None:
            self.job.cleanup()
        elif self.sandbox is not None and os.path.lexists(self.sandbox):
            starter.remove_tree(self.sandbox)


def stage_in(stage: Stage, job_ad: ClassAd, *, execute_dir: Path,
             run_as: str | None) -> tuple[ClassAd | None, starter.JobResult | None]:
    """Make the sandbox and fetch the input into it: the job ad to start (and None), or
    (None and) the result of a run that ends here."""
    if not stage.transfer.address:
        return None, result_of(FAILURE_TRANSFER, "the job's schedd gave no address to "
                               "transfer its files from", HOLD_TRANSFER_INPUT)
    try:
        stage.sandbox, owner, stage.user = starter.make_sandbox(job_ad, execute_dir=execute_dir,
                                                                run_as=run_as)
    except starter.StartFailed as failure:
        return None, result_of(starter.FAILURE_START, failure.reason, failure.hold_code,
                             failure.subcode)
    stage.transfer.owner = owner
    try:
        stage.transfer.fetch_input(stage.sandbox, owner=owner)
    except TransferFailed as failed:
        return None, result_of(FAILURE_TRANSFER, failed.reason, failed.hold_code)
    except (TransferLost, TransferCancelled) as lost:
        reason = str(lost) or "stopped while the job's input was transferred"
        return None, result_of(starter.FAILURE_KILLED, reason)
    return prepared_ad(job_ad, stage.sandbox), None


def stage_out(stage: Stage, job_ad: ClassAd, result: starter.JobResult, *,
              stopped_as: str, before: Snapshot) -> tuple[starter.JobResult, bool]:
    """Send the output of the run that ended with ``result``: the run's final result, and
    whether it is lost (the way to the schedd failed; not the job's doing)."""
    spool = evicted(result, stopped_as)
    try:
        with ft.FileIdentity(stage.transfer.owner):
            entries = output_entries(job_ad, stage.job.sandbox, before,
                                     intermediate=stage.transfer.intermediate,
                                     for_spool=spool, where=stage.slot_name)
        limit = output_limit(job_ad)
        size = sum(e.size for e in entries if not e.directory)
        if limit is not None and size > limit:
            raise TransferFailed(HOLD_MAX_OUTPUT, f"the job's output is {size / MiB:.1f} MB, "
                                 f"more than MaxTransferOutputMB ({limit // MiB} MB)")
        stage.transfer.send_output(entries, evicted=spool)
    except TransferFailed as failed:
        if spool:  # the run was evicted anyway: it runs again, without what it made
            return result, False
        return result_of(FAILURE_TRANSFER, failed.reason, failed.hold_code,
                       usage=result.usage, exit_code=result.exit_code), False
    except (TransferLost, TransferCancelled) as lost:
        reason = str(lost) or "stopped while the job's output was transferred"
        return result_of(starter.FAILURE_KILLED, reason, usage=result.usage), \
            isinstance(lost, TransferLost)
    return result, False


def result_of(failure: str, reason: str, hold_code: int | None = None, subcode: int = 0, *,
            usage: starter.Usage | None = None,
            exit_code: int | None = None) -> starter.JobResult:
    return starter.JobResult(exit_code, None, usage or starter.Usage(), failure, reason,
                             hold_code, subcode)


# -- for benchmarks and tools ----------------------------------------------------------------


def fetch_input(address: str, claim_id: str, job_id: str, directory: Path, *,
                channel: Callable[[str], grpc.Channel] = insecure_channel) -> Moved:
    """Fetch job ``job_id``'s input from the schedd at ``address`` into ``directory``."""
    return Transfer(address, claim_id, job_id, channel=channel).fetch_input(Path(directory))


def send_output(address: str, claim_id: str, job_id: str, directory: Path,
                names: list[str] | None = None, *,
                channel: Callable[[str], grpc.Channel] = insecure_channel) -> Moved:
    """Send files of ``directory`` (``names``, else every file at its top) to the schedd
    at ``address`` as job ``job_id``'s output."""
    directory = Path(directory)
    names = names if names is not None else sorted(
        entry.name for entry in os.scandir(directory) if entry.is_file())
    entries = [ft.entry_of(directory / name, name) for name in names]
    return Transfer(address, claim_id, job_id, channel=channel).send_output(entries)
