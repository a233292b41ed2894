"""Reaching a startd that accepts no inbound connection: broker addresses, and a TCP
connection carried over a gRPC stream of bytes.

This is HTCondor's connection broker (CCB), done below gRPC so that nothing above it
changes.  A startd that the collector cannot dial (behind a home router or a site
firewall, or told ``--outbound-only``) keeps a stream open to the collector's broker
(``Broker/Register``) and advertises a **broker address** in ``MyAddress``::

    broker://COLLECTOR_HOST:PORT/BROKER_ID

the collector whose broker it is registered with, and its id there (the startd's name, the
host part of its slots' names, percent-encoded).  ``StartdIpAddr`` keeps the startd's own
``HOST:PORT``, for people to read.

A schedd given a broker address listens on a loopback port of its own and points the gRPC
channel there (``schedd.reverse``).  Each TCP connection gRPC opens to it becomes a request
to the broker (``Broker/Connect``: "startd BROKER_ID, dial the schedd at HOST:PORT with
this nonce"), passed down the startd's stream.  The startd dials the schedd's ordinary port
(``Schedd/ReverseConnect``, a stream of bytes both ways whose first message carries the
nonce) and joins that stream to a TCP connection to its own gRPC server
(``startd.broker``); the schedd joins it to the waiting loopback connection.  gRPC then
speaks to the startd as if it had dialled it: every Startd call (RunJobs streams,
keep-alives, controls) goes through unchanged, and TLS, when configured, is between the
schedd's channel and the startd's server, end to end.

``Splice`` is the joining, shared by both ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from roost.addresses import split_address
from roost.errors import RoostError

if TYPE_CHECKING:
    import grpc

SCHEME = "broker://"
CHUNK = 64 * 1024  # bytes read from a socket at a time: one stream message each


@dataclass(frozen=True)
class BrokerAddress:
    """Where a startd reached through a broker is: the collector whose broker it uses
    (``HOST:PORT``) and its id there."""

    collector: str
    broker_id: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.collector}/{quote(self.broker_id, safe='')}"


def is_broker_address(address: object) -> bool:
    return isinstance(address, str) and address.strip().lower().startswith(SCHEME)


def parse_broker_address(address: str) -> BrokerAddress:
    """The parts of ``broker://HOST:PORT/ID``; RoostError if it is not one."""
    text = address.strip()
    if not is_broker_address(text):
        raise RoostError(f"address {address!r} is not a broker address ({SCHEME}HOST:PORT/ID)")
    collector, slash, broker_id = text[len(SCHEME):].partition("/")
    try:
        if not slash or not broker_id or "/" in broker_id:
            raise RoostError("no ID")
        split_address(collector)  # RoostError if it is not HOST:PORT
    except RoostError:
        raise RoostError(f"broker address {address!r}: expected {SCHEME}HOST:PORT/ID") from None
    return BrokerAddress(collector, unquote(broker_id))


class Splice:
    """One TCP connection, ``sock``, carried over a stream of byte chunks both ways.

    ``from_socket()`` yields what arrives on the socket (the chunks to send down the
    stream) until the socket's peer stops sending; ``to_socket(chunks)`` writes what
    arrives from the stream, then passes the end on (a half close, so the other direction
    drains).  A direction that fails (the stream broke, the socket reset) breaks both, so
    that neither side waits for ever.  ``finished()`` says the stream's call is over.
    The socket is closed once both directions and the call are over; a reading direction
    that had not begun when the call ended never will (a call that failed at once never
    reads its requests), so it counts as over."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self._open = {"read", "write", "call"}  # what is not yet over
        self._reading = False

    def from_socket(self) -> Iterator[bytes]:
        with self._lock:
            self._reading = True
        try:
            while True:
                try:
                    data = self.sock.recv(CHUNK)
                except OSError:
                    self.abort()
                    return
                if not data:
                    return
                yield data
        finally:
            self._over("read")

    def to_socket(self, chunks: Iterable[bytes]) -> None:
        try:
            for data in chunks:
                self.sock.sendall(data)
        except Exception:  # the stream broke (an RpcError) or the socket did (OSError)
            self.abort()
        else:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
        finally:
            self._over("write")

    def finished(self) -> None:
        with self._lock:
            never_read = not self._reading
        if never_read:
            self._over("read")
        self._over("call")

    def abort(self) -> None:
        """Break both directions: a blocked read or write returns at once."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def _over(self, part: str) -> None:
        with self._lock:
            self._open.discard(part)
            last = not self._open
        if last:
            self.sock.close()  # a late reader gets EBADF (an OSError), never another fd


def open_channel(address: str, config) -> grpc.Channel:
    """A channel to ``address``, with TLS if ``[tls]`` names a CA (as ``roost.client``'s)."""
    import grpc

    from roost import security

    ca = config.get("tls", "ca")
    if not ca:
        return grpc.insecure_channel(address)
    with open(ca, "rb") as f:
        return grpc.secure_channel(address, security.channel_credentials(f.read()))
