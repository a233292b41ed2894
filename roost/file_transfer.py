"""Moving a set of files over gRPC, both ways: what the schedd and the startd share.

A transfer is a stream of ``FileTransferMessage``\\ s (proto/roost/rpc/schedd.proto): a
listing (``TransferFile``: where each file lands, its size and mode, or a directory),
then every file's content in ``FilePiece``\\ s, in the listing's order, each file ending
with a piece that carries the sha256 of the whole of it.  Small files share a message and
large ones are cut into ``CHUNK``-byte pieces, so ten thousand small files cost a few
hundred messages and a large one streams without being held in memory.  The sha256 is
computed while a file is read, so a file is read once.

``send(entries)`` makes the stream from files on disk; ``Receiver`` takes one in and
writes it under a directory (or wherever ``place`` says each name lands).  The receiver
writes every file under a temporary name beside where it lands (``.NAME.roost-part-XXXX``),
checks its size and sha256, and renames all of them into place only at ``commit``, when
the whole set has come and checked out: a transfer that breaks (the other side killed, a
full disk, a checksum that does not match) leaves no partial file, and no file of the set,
where the user looks; ``abort`` removes the temporary files (and the directories it made).

Errors the user can act on are ``TransferError``\\ s with a ``kind`` (``missing``,
``unreadable``, ``disk-full``, ``limit``, ``corrupt``, ``refused``) and one line of text.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from roost.rpc import schedd_pb2

CHUNK = 1 << 20  # bytes of file data per message (gRPC's default limit is 4 MiB)
LISTING_BATCH = 5000  # listing entries per message, so a huge listing is not one message
PART = ".roost-part-"  # in the temporary names of files being received

MISSING, UNREADABLE, DISK_FULL, LIMIT, CORRUPT, REFUSED = (
    "missing", "unreadable", "disk-full", "limit", "corrupt", "refused")


class TransferError(Exception):
    """A transfer that cannot be done as asked: ``kind`` says why, the text in one line."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Entry:
    """One file (or directory) of a transfer: ``name`` is where it lands (relative,
    '/'-separated), ``source`` where the sender reads it."""

    name: str
    size: int = 0
    mode: int = 0o644
    directory: bool = False
    source: Path | None = None


def safe_name(name: str) -> str:
    """``name`` if it is a relative path that stays below where it lands (no '..', no
    absolute path, no empty or '.' parts); TransferError otherwise."""
    path = PurePosixPath(name)
    if (not name or "\0" in name or path.is_absolute() or name.startswith("/")
            or any(part in ("", ".", "..") for part in name.split("/"))):
        raise TransferError(REFUSED, f"refusing file name {name!r}: not a plain relative path")
    return name


def describe_os_error(error: OSError) -> str:
    return error.strerror or str(error)


def _fail(kind: str, what: str, error: OSError) -> TransferError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        kind = DISK_FULL
    return TransferError(kind, f"{what}: {describe_os_error(error)}")


class FileIdentity:
    """The calling thread's file-system identity (setfsuid/setfsgid, Linux) switched to
    ``ids`` (uid, gid) inside the ``with`` block, so that files are read and written with
    that user's rights, not root's; other threads are not affected.  None: no switch."""

    def __init__(self, ids: tuple[int, int] | None) -> None:
        self.ids = ids

    def __enter__(self) -> FileIdentity:
        if self.ids is not None:
            libc = _libc()
            libc.setfsgid(self.ids[1])
            libc.setfsuid(self.ids[0])
        return self

    def __exit__(self, *exc) -> None:
        if self.ids is not None:
            libc = _libc()
            libc.setfsuid(os.geteuid())
            libc.setfsgid(os.getegid())


_libc_handle = None


def _libc():
    global _libc_handle
    if _libc_handle is None:
        import ctypes

        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


# -- sending -------------------------------------------------------------------------------


def entry_of(path: Path, name: str, *, mode: int | None = None) -> Entry:
    """The entry for the file or directory at ``path`` (followed if a symlink), landing as
    ``name``; TransferError if it is missing or not a regular file or directory."""
    try:
        info = os.stat(path)
    except OSError as error:
        kind = MISSING if error.errno in (errno.ENOENT, errno.ENOTDIR) else UNREADABLE
        raise _fail(kind, str(path), error) from None
    if stat.S_ISDIR(info.st_mode):
        return Entry(name, 0, stat.S_IMODE(info.st_mode), True, path)
    if not stat.S_ISREG(info.st_mode):
        raise TransferError(UNREADABLE, f"{path}: not a regular file")
    return Entry(name, info.st_size, stat.S_IMODE(info.st_mode) if mode is None else mode,
                 False, path)


def tree(path: Path, name: str) -> list[Entry]:
    """The directory at ``path`` and everything under it, landing under ``name``.
    Symlinks to files are followed; symlinks to directories are left out (a link may
    lead anywhere, or round in a circle)."""
    found = [entry_of(path, name)]
    for top, directories, files in os.walk(path, onerror=_raise):
        relative = os.path.relpath(top, path)
        prefix = name if relative == "." else f"{name}/{relative}"
        directories[:] = sorted(d for d in directories
                                if not os.path.islink(os.path.join(top, d)))
        found += [entry_of(Path(top, child), f"{prefix}/{child}") for child in directories]
        found += [entry_of(Path(top, child), f"{prefix}/{child}") for child in sorted(files)]
    return found


def _raise(error: OSError) -> None:
    raise _fail(UNREADABLE, str(error.filename), error)


def listing_messages(entries: list[Entry]) -> Iterator[schedd_pb2.FileTransferMessage]:
    for start in range(0, max(len(entries), 1), LISTING_BATCH):
        yield schedd_pb2.FileTransferMessage(files=[
            schedd_pb2.TransferFile(name=e.name, size=e.size, mode=e.mode,
                                    directory=e.directory)
            for e in entries[start:start + LISTING_BATCH]])


def send(entries: list[Entry], first: schedd_pb2.FileTransferMessage | None = None,
         *, chunk: int = CHUNK, opener: Callable[[Path], BinaryIO] | None = None,
         ) -> Iterator[schedd_pb2.FileTransferMessage]:
    """The stream that carries ``entries`` (their sources read as it goes): the listing,
    ``first``'s fields (claim, job) in its first message, then the data.  ``opener``
    opens a source for reading (default: ``open(path, "rb")``).  A source that cannot be
    read raises TransferError from the iterator."""
    opener = opener or (lambda path: open(path, "rb"))  # noqa: SIM115
    listing = listing_messages(entries)
    head = next(listing)
    if first is not None:
        first.MergeFrom(head)
        head = first
    yield head
    yield from listing
    pieces: list[schedd_pb2.FilePiece] = []
    held = 0
    for index, entry in enumerate(entries):
        if entry.directory:
            continue
        digest = hashlib.sha256()
        try:
            with opener(entry.source) as source:
                while True:
                    data = source.read(max(chunk - held, 1))
                    if not data:
                        break
                    digest.update(data)
                    pieces.append(schedd_pb2.FilePiece(file=index, data=data))
                    held += len(data)
                    if held >= chunk:
                        yield schedd_pb2.FileTransferMessage(pieces=pieces)
                        pieces, held = [], 0
        except OSError as error:
            raise _fail(UNREADABLE, str(entry.source), error) from None
        pieces.append(schedd_pb2.FilePiece(file=index, last=True, sha256=digest.hexdigest()))
        if len(pieces) >= 1000:  # many empty files: keep messages small all the same
            yield schedd_pb2.FileTransferMessage(pieces=pieces)
            pieces, held = [], 0
    if pieces:
        yield schedd_pb2.FileTransferMessage(pieces=pieces)


# -- receiving -----------------------------------------------------------------------------


@dataclass
class _Incoming:
    entry: Entry
    final: Path
    temporary: Path | None = None
    descriptor: int = -1
    received: int = 0
    digest: object = None
    done: bool = False


class Receiver:
    """Takes a transfer in (see the module's docstring).

    ``place(name)`` is where the file named so lands (default: under ``root``);
    ``limit`` the most bytes accepted (None: no limit; TransferError ``limit`` beyond it);
    ``owner`` (uid, gid) the owner of what is written, when not the receiver itself;
    ``durable``: files and directories are synced before ``commit`` returns (what is
    acknowledged is on disk).  Feed it with ``take`` message by message, then ``commit``;
    ``abort`` after any failure (it is safe to call at any time)."""

    def __init__(self, root: Path | None = None, *, place: Callable[[str], Path] | None = None,
                 limit: int | None = None, owner: tuple[int, int] | None = None,
                 durable: bool = False, limit_message: str = "") -> None:
        if place is None:
            if root is None:
                raise ValueError("a Receiver needs a root or a place")
            place = lambda name, root=Path(root): root / safe_name(name)  # noqa: E731
        self.place = place
        self.limit = limit
        self.limit_message = limit_message
        self.owner = owner
        self.durable = durable
        self.files: list[_Incoming] = []
        self.bytes = 0
        self._made: list[Path] = []  # directories made, to remove again on abort
        self._touched: set[Path] = set()  # directories whose entries changed (to sync)
        self._finished = False

    @property
    def listed(self) -> list[Entry]:
        return [incoming.entry for incoming in self.files]

    def take(self, message: schedd_pb2.FileTransferMessage) -> None:
        for listed in message.files:
            entry = Entry(safe_name(listed.name), listed.size, listed.mode & 0o777,
                          listed.directory)
            self.files.append(_Incoming(entry, self.place(entry.name)))
        for piece in message.pieces:
            self._piece(piece)

    def _piece(self, piece: schedd_pb2.FilePiece) -> None:
        if not 0 <= piece.file < len(self.files):
            raise TransferError(CORRUPT, f"a piece of file #{piece.file}, which is not listed")
        incoming = self.files[piece.file]
        if incoming.entry.directory or incoming.done:
            raise TransferError(CORRUPT, f"unexpected data for {incoming.entry.name}")
        if incoming.temporary is None:
            self._open(incoming)
        data = piece.data  # read once: each read of a bytes field makes a copy
        if data:
            self.bytes += len(data)
            if self.limit is not None and self.bytes > self.limit:
                raise TransferError(LIMIT, self.limit_message or
                                    f"more than {self.limit} bytes")
            incoming.digest.update(data)
            incoming.received += len(data)
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(incoming.descriptor, view):]
            except OSError as error:
                raise _fail(UNREADABLE, f"cannot write {incoming.final}", error) from None
        if piece.last:
            if piece.sha256 != incoming.digest.hexdigest():
                raise TransferError(CORRUPT, f"{incoming.entry.name}: sha256 mismatch "
                                    "(the file changed or was damaged on the way)")
            self._close(incoming)
            incoming.done = True

    def _open(self, incoming: _Incoming) -> None:
        final = incoming.final
        self._make_directories(final.parent)
        for _ in range(100):
            temporary = final.with_name(f".{final.name}{PART}{secrets.token_hex(4)}")
            try:
                incoming.descriptor = os.open(
                    temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                break
            except FileExistsError:
                continue
            except OSError as error:
                raise _fail(UNREADABLE, f"cannot write {final}", error) from None
        incoming.temporary = temporary
        incoming.digest = hashlib.sha256()
        if self.owner is not None:
            with contextlib.suppress(OSError):
                os.fchown(incoming.descriptor, *self.owner)

    def _close(self, incoming: _Incoming) -> None:
        try:
            os.fchmod(incoming.descriptor, incoming.entry.mode)
            if self.durable:
                os.fsync(incoming.descriptor)
        except OSError as error:
            raise _fail(UNREADABLE, f"cannot write {incoming.final}", error) from None
        finally:
            os.close(incoming.descriptor)
            incoming.descriptor = -1

    def _make_directories(self, directory: Path) -> None:
        missing = []
        probe = directory
        while not probe.is_dir():
            missing.append(probe)
            if probe.parent == probe:
                break
            probe = probe.parent
        for path in reversed(missing):
            try:
                os.mkdir(path, 0o755)
            except FileExistsError:
                continue
            except OSError as error:
                raise _fail(UNREADABLE, f"cannot make directory {path}", error) from None
            self._made.append(path)
            self._touched.add(path.parent)
            if self.owner is not None:
                with contextlib.suppress(OSError):
                    os.chown(path, *self.owner)

    def commit(self) -> None:
        """Every listed file has come whole: rename them into place (directories made).
        TransferError if one is missing or incomplete (nothing is renamed then)."""
        for incoming in self.files:
            if not incoming.entry.directory and not incoming.done:
                raise TransferError(CORRUPT, f"{incoming.entry.name}: the transfer ended "
                                    "before the file was whole")
        for incoming in self.files:
            if incoming.entry.directory:
                self._make_directories(incoming.final)
                with contextlib.suppress(OSError):
                    os.chmod(incoming.final, incoming.entry.mode | 0o700)
        try:
            for incoming in self.files:
                if not incoming.entry.directory:
                    if incoming.final.is_dir() and not incoming.final.is_symlink():
                        raise TransferError(REFUSED, f"{incoming.final} is a directory; "
                                            "a file cannot replace it")
                    os.replace(incoming.temporary, incoming.final)
                    incoming.temporary = None
                    self._touched.add(incoming.final.parent)
            if self.durable:
                for directory in self._touched:
                    _sync_directory(directory)
        except OSError as error:
            raise _fail(UNREADABLE, "cannot put the files in place", error) from None
        self._finished = True

    def abort(self) -> None:
        """Remove what the transfer left: temporary files, and the directories it made
        that are empty."""
        if self._finished:
            return
        for incoming in self.files:
            if incoming.descriptor >= 0:
                with contextlib.suppress(OSError):
                    os.close(incoming.descriptor)
                incoming.descriptor = -1
            if incoming.temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(incoming.temporary)
                incoming.temporary = None
        for directory in reversed(self._made):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        self._made.clear()


def _sync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def receive(messages: Iterable[schedd_pb2.FileTransferMessage], receiver: Receiver) -> Receiver:
    """Feed ``messages`` to ``receiver`` and commit; on any failure the receiver is
    aborted and the error raised."""
    try:
        for message in messages:
            receiver.take(message)
        receiver.commit()
    except BaseException:
        receiver.abort()
        raise
    return receiver
