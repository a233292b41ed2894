"""Revoked tokens: the central manager's list, and the copy every daemon that checks tokens
keeps of it.

``roost token revoke`` (run where the pool's private key is, as ``roost token create`` is)
adds a token's id (its ``jti``) to ``HOME/keys/revoked``, a line ``ID EXPIRY`` each (the
token's expiry, after which it needs no revoking and the line is dropped).  The collector
reads that file when it changes, refuses the tokens it names, and publishes their ids in
its own ad (``RevokedTokens``); a schedd on any host reads that ad every
``security.revocation_interval`` seconds and refuses them too.  Ids are not secret: a
token cannot be rebuilt from its id.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from roost.errors import RoostError

log = logging.getLogger("roost.revocation")

ATTRIBUTE = "RevokedTokens"  # in the collector's ad: the ids of the revoked tokens


def revocation_path(home: Path) -> Path:
    """``HOME/keys/revoked``, beside the pool key that only the central manager holds."""
    return Path(home) / "keys" / "revoked"


class Revoked:
    """The ids of revoked tokens, as a daemon checks them at every call (a set lookup)."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids = frozenset(ids)

    def __contains__(self, token_id: str) -> bool:
        return token_id in self._ids

    def replace(self, ids: Iterable[str]) -> bool:
        """Take ``ids`` as the list; whether it changed."""
        new = frozenset(ids)
        changed, self._ids = new != self._ids, new
        return changed

    @property
    def ids(self) -> frozenset[str]:
        return self._ids


def _parse(text: str, path: Path, now: float) -> dict[str, float]:
    entries: dict[str, float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or line.startswith("#"):
            continue
        try:
            token_id, expires = words[0], float(words[1]) if len(words) > 1 else float("inf")
        except ValueError:
            raise RoostError(f"{path}:{number}: not 'ID EXPIRY'") from None
        if expires > now:
            entries[token_id] = expires
    return entries


def read_list(path: Path, now: float | None = None) -> dict[str, float]:
    """The unexpired entries of the list at ``path`` (none if there is no file)."""
    try:
        text = Path(path).read_text(encoding="ascii")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise RoostError(f"cannot read the revoked tokens {path}: "
                         f"{getattr(error, 'strerror', None) or 'not a list'}") from None
    return _parse(text, path, time.time() if now is None else now)


def revoke(path: Path, token_id: str, expires: float, now: float | None = None) -> bool:
    """Add ``token_id`` (valid until ``expires``) to the list at ``path``, dropping entries
    that have expired; False if it was there already.  Writers take turns (a lock file);
    the list is replaced in one step, so a reader sees it whole, before or after."""
    if not token_id or any(c.isspace() for c in token_id):
        raise ValueError(f"a token id has no spaces: {token_id!r}")
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = read_list(path, now)
        if token_id in entries and entries[token_id] >= expires:
            return False
        entries[token_id] = expires
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            with open(temporary, "w", encoding="ascii") as stream:
                stream.write("# revoked token ids and when each would have expired\n")
                for one, until in sorted(entries.items()):
                    stream.write(f"{one} {until:.0f}\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    return True


class FileWatch:
    """The list at ``path`` kept in ``revoked``: read at once, then again when the file
    changes (``on_change`` is called then), looked at no more than once every ``every``
    seconds (most calls' checks cost no system call)."""

    def __init__(self, path: Path, revoked: Revoked, on_change: Callable[[], None] = lambda: None,
                 every: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.revoked = revoked
        self.on_change = lambda: None
        self.every = every
        self.clock = clock
        self._seen: tuple | None = None
        self._next = 0.0
        self._lock = threading.Lock()
        self.check(force=True)
        self.on_change = on_change

    def check(self, force: bool = False) -> None:
        now = self.clock()
        with self._lock:
            if not force and now < self._next:
                return
            self._next = now + self.every
            try:
                stat = self.path.stat()
                seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            except FileNotFoundError:
                seen = None
            if seen == self._seen and not force:
                return
            self._seen = seen
            try:
                changed = self.revoked.replace(read_list(self.path))
            except RoostError as error:  # kept as it was: a bad edit revokes nothing anew
                log.warning("%s", error)
                return
        if changed:
            self.on_change()

    def __contains__(self, token_id: str) -> bool:
        self.check()
        return token_id in self.revoked


def published(collector) -> set[str]:
    """The revoked token ids the collector's ad publishes (``collector``: a
    ``roost.client.Collector``)."""
    ids: set[str] = set()
    for ad in collector.query("Collector", projection=[ATTRIBUTE]):
        value = ad.eval(ATTRIBUTE) if ATTRIBUTE in ad else None
        if isinstance(value, list):
            ids.update(one for one in value if isinstance(one, str))
    return ids
