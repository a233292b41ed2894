"""The schedd's end of the connection broker (``roost.broker``): reaching startds that
accept no inbound connection, through connections they open themselves.

For each broker address it is given (``Rendezvous.target``), the schedd listens on a
loopback port and the startd client's gRPC channel dials that port instead.  Each TCP
connection the channel opens there waits (``PendingConnections``) while the schedd asks
the collector's broker to have the startd dial back with a fresh nonce; the startd calls
``Schedd/ReverseConnect`` with that nonce (``Rendezvous.serve``), and the two are joined.
A connection the startd does not come for within ``timeout`` seconds is closed, which the
channel sees as a startd it could not reach, as with one it dialled.

A nonce is ``KEY.SECRET``: the key finds the waiting connection, the secret is compared in
constant time, and either is used once.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from roost.broker import BrokerAddress, Splice, parse_broker_address
from roost.errors import RoostError

log = logging.getLogger("roost.schedd.reverse")

TIMEOUT = 15.0  # seconds a connection waits for its startd to dial back


@dataclass(frozen=True)
class _Waiting:
    secret: str
    item: object
    deadline: float


class PendingConnections:
    """Connections waiting for their startd, by nonce; ``now`` is an argument."""

    def __init__(self, timeout: float = TIMEOUT,
                 make_secret: Callable[[], str] = lambda: secrets.token_urlsafe(24)) -> None:
        self.timeout = timeout
        self._make_secret = make_secret
        self._waiting: dict[str, _Waiting] = {}
        self._keys = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, item: object, now: float) -> str:
        """Keep ``item`` until its nonce (returned) comes, or ``timeout`` passes."""
        self._keys += 1
        key, secret = str(self._keys), self._make_secret()
        self._waiting[key] = _Waiting(secret, item, now + self.timeout)
        return f"{key}.{secret}"

    def take(self, nonce: str, now: float) -> object | None:
        """The item waiting for ``nonce``, once; None for a nonce that is wrong, used or
        late."""
        key, _, secret = nonce.partition(".")
        waiting = self._waiting.get(key)
        if waiting is None or not hmac.compare_digest(waiting.secret.encode(),
                                                      secret.encode()):
            return None
        del self._waiting[key]
        return waiting.item if now <= waiting.deadline else None

    def drop(self, nonce: str) -> object | None:
        """Give up waiting for ``nonce`` (the broker could not be asked); its item."""
        waiting = self._waiting.pop(nonce.partition(".")[0], None)
        return waiting.item if waiting is not None else None

    def expire(self, now: float) -> list[object]:
        """The items whose time is up, forgotten."""
        late = [key for key, waiting in self._waiting.items() if now > waiting.deadline]
        return [self._waiting.pop(key).item for key in late]


class Rendezvous:
    """The schedd's listeners for broker addresses, and the connections waiting there.

    ``connect(broker, schedd_address, nonce)`` asks ``broker``'s collector to have the
    startd dial the schedd (``roost.client.Broker.connect``); ``address`` is the schedd's
    own address, which the startd dials (set once the schedd knows it)."""

    def __init__(self, connect: Callable[[BrokerAddress, str, str], None], *,
                 address: str = "", timeout: float = TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connect = connect
        self.address = address
        self.clock = clock
        self._pending = PendingConnections(timeout)
        self._lock = threading.Lock()
        self._listeners: dict[str, tuple[socket.socket, str]] = {}  # broker address ->
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="schedd:reverse", daemon=True)
        self._reaper.start()

    def target(self, address: str) -> str:
        """The loopback address to dial for the startd at broker ``address``."""
        broker = parse_broker_address(address)
        with self._lock:
            if self._stopping.is_set():
                raise RoostError("the schedd is stopping")
            found = self._listeners.get(str(broker))
            if found is None:
                listener = socket.create_server(("127.0.0.1", 0))
                local = f"127.0.0.1:{listener.getsockname()[1]}"
                found = self._listeners[str(broker)] = (listener, local)
                threading.Thread(target=self._accept, args=(listener, broker),
                                 name=f"schedd:reverse:{broker.broker_id}",
                                 daemon=True).start()
            return found[1]

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            listeners, self._listeners = list(self._listeners.values()), {}
            waiting = self._pending.expire(float("inf"))
        for listener, _ in listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in waiting:
            sock.close()

    def _accept(self, listener: socket.socket, broker: BrokerAddress) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # closed: the schedd is stopping
            with self._lock:
                nonce = self._pending.add(sock, self.clock())
            threading.Thread(target=self._ask, args=(broker, nonce), daemon=True,
                             name=f"schedd:reverse:{broker.broker_id}:ask").start()

    def _ask(self, broker: BrokerAddress, nonce: str) -> None:
        try:
            self.connect(broker, self.address, nonce)
        except RoostError as error:
            log.warning("cannot reach the startd %s through its broker: %s",
                        broker.broker_id, error)
            with self._lock:
                sock = self._pending.drop(nonce)
            if sock is not None:
                sock.close()

    def _reap(self) -> None:
        while not self._stopping.wait(1.0):
            with self._lock:
                late = self._pending.expire(self.clock())
            for sock in late:
                log.warning("a startd did not dial back within %.0f s",
                            self._pending.timeout)
                sock.close()

    def serve(self, requests, context):
        """``Schedd/ReverseConnect``: the startd's stream, joined to the connection that
        waits for its nonce."""
        import grpc

        from roost.rpc import schedd_pb2

        first = next(requests, None)
        with self._lock:
            sock = self._pending.take(first.nonce, self.clock()) if first else None
        if sock is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          "no connection waits for that nonce (wrong, used, or too late)")
        splice = Splice(sock)

        def over() -> None:  # the startd went, or the channel did: the other hears of it
            splice.abort()
            splice.finished()

        context.add_callback(over)
        threading.Thread(target=splice.to_socket, args=((r.data for r in requests),),
                         name="schedd:reverse:in", daemon=True).start()
        for data in splice.from_socket():
            yield schedd_pb2.ReverseChunk(data=data)
