"""The schedd's side of file transfer: it serves a job's input from the submit directory
and takes its output back, as HTCondor's shadow does; the startd that runs the job dials
in (``FetchInput``, ``StoreOutput``), so an execute host that cannot be reached still
gets its files.

**Who may.**  The credential is the claim id, a capability: the call must name the claim
that the queue's ``claims`` table says runs the job (compared in constant time), so no
token is needed (an execute host may hold only a startd token the schedd cannot check,
a glide-in nothing).  When the schedd runs as root, files are read and written with the
job owner's file-system identity, so a job cannot read or overwrite what its owner may not.

**What goes.**  Input (``input_entries``): the executable unless ``TransferExecutable`` is
false (sent executable), ``In`` unless ``TransferIn`` is false, every entry of
``TransferInput`` (files, and directories with all they hold; a trailing '/' sends a
directory's contents), relative to ``Iwd``; each lands under its base name, unless
``PreserveRelativePaths`` keeps a relative path as given.  Output (``output_place``): each
file lands in ``Iwd`` under the name the startd gives (``_condor_stdout`` and
``_condor_stderr`` are ``Out`` and ``Err``), renamed by ``TransferOutputRemaps``
(``"a.txt = b.txt; res = results/"``: a new name, or into a directory, relative to Iwd or
absolute).

**ON_EXIT_OR_EVICT.**  The output of an evicted run goes to the job's spool directory
(``<home>/spool/<cluster>.<proc>``, replaced whole), and is sent with the input of the next
run, marked ``intermediate``; the spool goes when the job leaves the queue.

**Limits.**  ``MaxTransferInputMB``/``MaxTransferOutputMB`` (the job's; else the schedd's
``max_transfer_input_mb``/``max_transfer_output_mb``; -1: none) refuse a transfer that is
too large (OUT_OF_RANGE: the startd holds the job with code 32 or 33).  At most
``max_concurrent_uploads`` inputs and ``max_concurrent_downloads`` outputs move at once
(HTCondor's transfer queue); a call that finds no room waits a while, then is told to come
back (RESOURCE_EXHAUSTED), so a thousand jobs ending together neither overload the submit
host nor hold every thread of the server.

**How refusals read** (the startd decides from the status code): FAILED_PRECONDITION for
what the user must fix (a missing or unreadable input, a submit directory that is gone or
full: hold 13 for input, 12 for output), OUT_OF_RANGE for a limit, PERMISSION_DENIED for a
claim that does not run the job, RESOURCE_EXHAUSTED for a full transfer queue, DATA_LOSS
for a damaged or broken stream (the run is tried again).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import pwd
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from sqlalchemy import select

from classad import ClassAd
from roost import file_transfer as ft
from roost.rpc import schedd_pb2
from schedd.job_status import FINISHED
from schedd.models import ClaimRecord

log = logging.getLogger("roost.schedd.transfer")

STDOUT, STDERR = "_condor_stdout", "_condor_stderr"  # the sandbox's names of Out and Err
DEFAULT_UPLOADS = 100  # HTCondor's MAX_CONCURRENT_UPLOADS
DEFAULT_DOWNLOADS = 100  # HTCondor's MAX_CONCURRENT_DOWNLOADS
QUEUE_WAIT = 20.0  # seconds a call waits for room in the transfer queue before it is told
# How many calls may wait for room at once, beyond those that move files; the rest are
# told to come back at once, so waiting calls never take every thread of the server.
MAX_WAITING = 32
MiB = 1 << 20

_STATUS = {ft.MISSING: grpc.StatusCode.FAILED_PRECONDITION,
           ft.UNREADABLE: grpc.StatusCode.FAILED_PRECONDITION,
           ft.DISK_FULL: grpc.StatusCode.FAILED_PRECONDITION,
           ft.REFUSED: grpc.StatusCode.FAILED_PRECONDITION,
           ft.LIMIT: grpc.StatusCode.OUT_OF_RANGE,
           ft.CORRUPT: grpc.StatusCode.DATA_LOSS}


# -- what the job ad says ------------------------------------------------------------------


def _text(ad: ClassAd, name: str) -> str:
    value = ad.eval(name) if name in ad else None
    return value if isinstance(value, str) else ""


def _flag(ad: ClassAd, name: str, default: bool) -> bool:
    value = ad.eval(name) if name in ad else None
    return value if isinstance(value, bool) else default


def file_list(text: str) -> list[str]:
    """A comma-separated list of files, as transfer_input_files and
    transfer_output_files are written."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _stream_path(ad: ClassAd, name: str) -> str:
    """Out, Err or In, when it names a file that moves (not /dev/null, not turned off with
    TransferOut/TransferErr/TransferIn = false)."""
    path = _text(ad, name)
    if not path or path == os.devnull or not _flag(ad, "Transfer" + name, True):
        return ""
    return path


def landing_name(item: str, preserve: bool) -> str:
    """Where an input entry lands in the sandbox: its base name, or with
    ``preserve`` (PreserveRelativePaths) the relative path as written; an absolute path
    or one that climbs out ('..') always lands under its base name."""
    clean = os.path.normpath(item.rstrip("/")) if item.rstrip("/") else item
    parts = clean.split("/")
    if preserve and not os.path.isabs(clean) and ".." not in parts and clean != ".":
        return clean
    return os.path.basename(clean)


def spool_entries(spool: Path | None) -> list[ft.Entry]:
    """What an evicted run left in the job's spool directory (ON_EXIT_OR_EVICT)."""
    if spool is None or not spool.is_dir():
        return []
    return [ft.Entry(e.name[2:], e.size, e.mode, e.directory, e.source)
            for e in ft.tree(spool, "_")[1:]]


def input_entries(ad: ClassAd, spooled: list[ft.Entry] = ()) -> list[ft.Entry]:
    """The files a job's run needs in its sandbox, from its submit directory (Iwd), and
    ``spooled`` (``spool_entries``), which win over files of the same name.  TransferError
    when one cannot be sent (missing, unreadable, two landing on one name, a URL)."""
    iwd = _submit_directory(ad, "cannot read the job's input from its submit directory")
    preserve = _flag(ad, "PreserveRelativePaths", False)
    entries: list[ft.Entry] = []
    cmd = _text(ad, "Cmd")
    if cmd and _flag(ad, "TransferExecutable", True):
        source = iwd / cmd
        entry = ft.entry_of(source, os.path.basename(cmd))
        if entry.directory:
            raise ft.TransferError(ft.UNREADABLE, f"the executable {source} is a directory")
        entries.append(ft.Entry(entry.name, entry.size, entry.mode | 0o755, False, source))
    stdin = _stream_path(ad, "In")
    if stdin:
        entries.append(ft.entry_of(iwd / stdin, os.path.basename(stdin)))
    for item in file_list(_text(ad, "TransferInput")):
        if "://" in item:
            raise ft.TransferError(ft.REFUSED, f"transfer_input_files: {item}: URLs are not "
                                   "supported by roost")
        source = iwd / item
        if item.endswith("/") and len(item) > 1:  # the directory's contents, not itself
            inside = ft.tree(source, "_")
            if not inside[0].directory:
                raise ft.TransferError(ft.UNREADABLE, f"{source} is not a directory")
            entries += [ft.Entry(e.name[2:], e.size, e.mode, e.directory, e.source)
                        for e in inside[1:]]
            continue
        name = landing_name(item, preserve)
        entry = ft.entry_of(source, name)
        entries += ft.tree(source, name) if entry.directory else [entry]
    entries = _with_parents(entries)
    if spooled:
        names = {e.name for e in spooled}
        entries = [e for e in entries if e.name not in names] + list(spooled)
    seen: dict[str, ft.Entry] = {}
    for entry in entries:
        earlier = seen.get(entry.name)
        if earlier is not None and (earlier.source == entry.source
                                    or (earlier.directory and entry.directory)):
            continue  # the same file named twice (as In and in TransferInput), or a directory
        if earlier is not None:
            raise ft.TransferError(ft.REFUSED, f"two input files would land as "
                                   f"{entry.name!r} in the sandbox: {earlier.source} and "
                                   f"{entry.source}")
        seen[entry.name] = entry
    return list(seen.values())


def _submit_directory(ad: ClassAd, what: str) -> Path:
    """The job's Iwd, or TransferError saying why it cannot be used."""
    iwd = Path(_text(ad, "Iwd") or "/")
    try:
        info = iwd.stat()
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise ft.TransferError(ft.UNREADABLE, f"{what} {iwd}: "
                               f"{ft.describe_os_error(error)}") from None
    if info is None or not stat.S_ISDIR(info.st_mode):
        raise ft.TransferError(ft.MISSING, f"{what} {iwd}: it no longer exists")
    return iwd


def _with_parents(entries: list[ft.Entry]) -> list[ft.Entry]:
    """Entries whose names have directories (PreserveRelativePaths) get those directories
    listed before them, so the sandbox has them whatever the order."""
    out: list[ft.Entry] = []
    listed = {e.name for e in entries if e.directory}
    for entry in entries:
        parent = os.path.dirname(entry.name)
        missing = []
        while parent and parent not in listed:
            missing.append(parent)
            listed.add(parent)
            parent = os.path.dirname(parent)
        out += [ft.Entry(name, 0, 0o755, True) for name in reversed(missing)]
        out.append(entry)
    return out


def parse_remaps(text: str) -> dict[str, str]:
    """``TransferOutputRemaps`` ("name = new name; other = dir/"): name -> new name."""
    remaps = {}
    for pair in text.split(";"):
        name, equals, target = pair.partition("=")
        if equals and name.strip() and target.strip():
            remaps[name.strip()] = target.strip()
    return remaps


def output_place(ad: ClassAd) -> Callable[[str], Path]:
    """Where each output file the startd names lands: Out and Err for the sandbox's
    stdout and stderr, else under Iwd as named, renamed by TransferOutputRemaps (a remap of
    a directory moves what is under it; a target ending in '/' or naming a directory
    takes the file in under its own name)."""
    iwd = Path(_text(ad, "Iwd") or "/")
    remaps = parse_remaps(_text(ad, "TransferOutputRemaps"))
    streams = {STDOUT: _text(ad, "Out"), STDERR: _text(ad, "Err")}

    def place(name: str) -> Path:
        if name in streams and streams[name]:
            return iwd / streams[name]
        ft.safe_name(name)
        parts = name.split("/")
        for cut in range(len(parts), 0, -1):  # the longest remapped prefix wins
            target = remaps.get("/".join(parts[:cut]))
            if target is None:
                continue
            rest = parts[cut:]
            destination = iwd / target
            if not rest and (target.endswith("/") or destination.is_dir()):
                return destination / parts[-1]
            return destination.joinpath(*rest) if rest else destination
        return iwd / name

    return place


def limit_bytes(ad: ClassAd, attribute: str, default_mb: int) -> int | None:
    """The byte limit the job's ``attribute`` (MaxTransferInputMB...) sets, else the
    schedd's default; None for none (a negative value)."""
    value = ad.eval(attribute) if attribute in ad else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = default_mb
    return None if value < 0 else int(value * MiB)


def total_bytes(entries: list[ft.Entry]) -> int:
    return sum(entry.size for entry in entries if not entry.directory)


# -- the owner's identity ------------------------------------------------------------------


class OwnerIdentity(ft.FileIdentity):
    """The job owner's file-system identity (``roost.file_transfer.FileIdentity``), when
    the schedd is root and the owner is someone else."""

    def __init__(self, owner: str) -> None:
        super().__init__(None)
        if os.geteuid() != 0 or not owner or owner == "root":
            return
        try:
            entry = pwd.getpwnam(owner)
        except KeyError:
            raise ft.TransferError(ft.REFUSED, f"user {owner!r} does not exist on the "
                                   "submit host") from None
        if entry.pw_uid != 0:
            self.ids = (entry.pw_uid, entry.pw_gid)


# -- the transfer queue --------------------------------------------------------------------


class Busy(Exception):
    """The transfer queue has no room now."""


class TransferQueue:
    """At most ``uploads`` inputs and ``downloads`` outputs moving at once; see the
    module's docstring."""

    def __init__(self, uploads: int = DEFAULT_UPLOADS, downloads: int = DEFAULT_DOWNLOADS, *,
                 wait: float = QUEUE_WAIT, max_waiting: int = MAX_WAITING) -> None:
        self.wait = wait
        self.max_waiting = max_waiting
        self._rooms = {"upload": threading.BoundedSemaphore(max(1, uploads)),
                       "download": threading.BoundedSemaphore(max(1, downloads))}
        self._lock = threading.Lock()
        self._waiting = 0

    @contextlib.contextmanager
    def room(self, kind: str) -> Iterator[None]:
        """Hold one of ``kind``'s places ("upload" or "download"); Busy when none came
        free within ``wait`` seconds, or too many calls wait already."""
        semaphore = self._rooms[kind]
        if not semaphore.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.max_waiting:
                    raise Busy(f"the schedd's transfer queue is full ({kind}s)")
                self._waiting += 1
            try:
                if not semaphore.acquire(timeout=self.wait):
                    raise Busy(f"the schedd's transfer queue is full ({kind}s)")
            finally:
                with self._lock:
                    self._waiting -= 1
        try:
            yield
        finally:
            semaphore.release()


# -- the service ---------------------------------------------------------------------------


def queue_lookup(jobs) -> Callable[[str], tuple[str, ClassAd] | None]:
    """``lookup(job_id)`` for a ``schedd.job_queue.JobQueue``: the claim id its claims
    table gives the job and the job's ad, or None."""

    def lookup(job_id: str) -> tuple[str, ClassAd] | None:
        cluster, _, proc = job_id.partition(".")
        if not (cluster.isdigit() and proc.isdigit()):
            return None
        with jobs.engine.connect() as connection:
            claim_id = connection.execute(select(ClaimRecord.claim_id).where(
                ClaimRecord.job_id == job_id)).scalar()
        if claim_id is None:
            return None
        found = list(jobs.query(f"ClusterId == {int(cluster)} && ProcId == {int(proc)}"))
        return (claim_id, found[0]) if found else None

    return lookup


class TransferServer:
    """The schedd's FetchInput and StoreOutput (``ScheddService`` hands them here).

    ``lookup(job_id)`` gives the claim id that runs the job and its ad (``queue_lookup``);
    ``spool`` is where ON_EXIT_OR_EVICT keeps an evicted run's output (None: no spool, such
    output is refused)."""

    def __init__(self, lookup: Callable[[str], tuple[str, ClassAd] | None], *,
                 spool: Path | None = None, queue: TransferQueue | None = None,
                 max_input_mb: int = -1, max_output_mb: int = -1) -> None:
        self.lookup = lookup
        self.spool = spool
        self.queue = queue or TransferQueue()
        self.max_input_mb = max_input_mb
        self.max_output_mb = max_output_mb

    def spool_of(self, job_id: str) -> Path | None:
        return self.spool / job_id if self.spool is not None else None

    def forget(self, changes) -> None:
        """A ``JobQueue`` listener: the spool of a job that left the queue goes."""
        if self.spool is None:
            return
        for change in changes:
            if change.status in FINISHED:
                path = self.spool / change.job_id
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)

    def _job(self, claim_id: str, job_id: str, context) -> ClassAd:
        found = self.lookup(job_id)
        # Compared in constant time, whether a claim was found or not.
        expected = found[0] if found is not None else "\0" * max(len(claim_id), 1)
        if not hmac.compare_digest(expected.encode(), claim_id.encode()) or found is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"no claim with this id runs job {job_id}")
        return found[1]

    def fetch_input(self, request: schedd_pb2.FetchInputRequest,
                    context) -> Iterator[schedd_pb2.FileTransferMessage]:
        job = self._job(request.claim_id, request.job_id, context)
        started = time.monotonic()
        try:
            with self.queue.room("upload"):
                identity = OwnerIdentity(_text(job, "Owner"))
                spooled = spool_entries(self.spool_of(request.job_id))  # the schedd's own
                with identity:
                    entries = input_entries(job, spooled)
                limit = limit_bytes(job, "MaxTransferInputMB", self.max_input_mb)
                size = total_bytes(entries)
                if limit is not None and size > limit:
                    raise ft.TransferError(ft.LIMIT, f"the job's input is {_mb(size)} MB, "
                                           f"more than MaxTransferInputMB "
                                           f"({limit // MiB} MB)")
                from_spool = {e.source for e in spooled}
                names = {e.name for e in spooled}
                messages = ft.send(entries, opener=lambda path: _open_as(
                    None if path in from_spool else identity, path))
                for message in messages:
                    for listed in message.files:
                        listed.intermediate = listed.name in names
                    yield message
        except Busy as busy:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(busy))
        except ft.TransferError as error:
            log.info("job %s: input refused: %s", request.job_id, error)
            context.abort(_STATUS[error.kind], str(error))
        except OSError as error:  # whatever the file system says, in one line
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"cannot send the job's input: {error}")
        log.info("job %s: input sent (%d files, %d bytes) in %.2f s", request.job_id,
                 len(entries), size, time.monotonic() - started)

    def store_output(self, messages: Iterator[schedd_pb2.FileTransferMessage],
                     context) -> schedd_pb2.StoreOutputReply:
        first = next(messages, None)
        if first is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "an empty output transfer")
        job = self._job(first.claim_id, first.job_id, context)
        started = time.monotonic()
        fresh = None
        try:
            with self.queue.room("download"):
                # The spool is the schedd's own; the submit directory the owner's.
                identity = (contextlib.nullcontext() if first.evicted
                            else OwnerIdentity(_text(job, "Owner")))
                with identity:
                    if first.evicted:
                        fresh = self._fresh_spool(first.job_id)
                    receiver = self._receiver(job, fresh)
                    ft.receive(_chain(first, messages), receiver)
                    if fresh is not None:
                        self._swap_spool(first.job_id, fresh)
                        fresh = None
        except Busy as busy:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(busy))
        except ft.TransferError as error:
            log.info("job %s: output refused: %s", first.job_id, error)
            context.abort(_STATUS[error.kind], str(error))
        except OSError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"cannot store the job's output: {error}")
        except grpc.RpcError:
            # The stream broke (the startd went away): nothing was put in place.
            context.abort(grpc.StatusCode.DATA_LOSS, "the output stream broke off")
        finally:
            if fresh is not None:  # an evicted run's output that did not all come
                shutil.rmtree(fresh, ignore_errors=True)
        log.info("job %s: %soutput stored (%d files, %d bytes) in %.2f s", first.job_id,
                 "evicted run's " if first.evicted else "", len(receiver.files),
                 receiver.bytes, time.monotonic() - started)
        return schedd_pb2.StoreOutputReply(files=len(receiver.files), bytes=receiver.bytes)

    def _fresh_spool(self, job_id: str) -> Path:
        """A new directory beside the job's spool for an evicted run's output."""
        if self.spool is None:
            raise ft.TransferError(ft.REFUSED, "this schedd keeps no spool")
        self.spool.mkdir(parents=True, exist_ok=True)
        fresh = self.spool / f".{job_id}{ft.PART}{os.getpid()}-{time.time_ns()}"
        fresh.mkdir()
        return fresh

    def _receiver(self, job: ClassAd, spool: Path | None) -> ft.Receiver:
        limit = limit_bytes(job, "MaxTransferOutputMB", self.max_output_mb)
        message = (f"the job's output is more than MaxTransferOutputMB "
                   f"({limit // MiB} MB)" if limit is not None else "")
        if spool is not None:
            return ft.Receiver(spool, limit=limit, durable=True, limit_message=message)
        _submit_directory(job, "cannot put the job's output in its submit directory")
        return ft.Receiver(place=output_place(job), limit=limit, durable=True,
                           limit_message=message)

    def _swap_spool(self, job_id: str, fresh: Path) -> None:
        """The evicted run's output, received whole, replaces what the spool held."""
        final = self.spool / job_id
        old = final.with_name(f".{job_id}.old-{time.time_ns()}")
        if final.exists():
            os.rename(final, old)
        os.rename(fresh, final)
        shutil.rmtree(old, ignore_errors=True)


def _open_as(identity: OwnerIdentity | None, path: Path):
    with identity or contextlib.nullcontext():
        return open(path, "rb")  # noqa: SIM115


def _chain(first, rest):
    yield first
    yield from rest


def _mb(size: int) -> str:
    return f"{size / MiB:.1f}"
