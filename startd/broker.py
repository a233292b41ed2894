"""The startd's end of the connection broker (``roost.broker``).

At start the startd finds out whether it can be dialled (``needs_broker``): it asks the
collector to dial its advertised address back.  One that cannot (or is told
``--outbound-only``) keeps itself registered with the collector's broker (``BrokerLink``):
one long-lived stream, opened again with back-off whenever it breaks (the collector
restarted, the network went) or falls silent (the collector sends a heartbeat every 15
seconds).  Down that stream come schedds' requests for a connection; for each, the startd
dials the schedd (``Schedd/ReverseConnect``, presenting the schedd's nonce) and joins that
stream to a new TCP connection to its own gRPC server on this host, so the schedd's calls
reach the server as if the schedd had dialled it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

from roost.addresses import is_loopback, split_address
from roost.broker import Splice, open_channel
from roost.errors import RoostError

FIRST_RETRY = 0.5  # seconds before registering again after the stream broke; doubled...
MOST_RETRY = 30.0  # ...up to this
SILENCE = 50.0  # seconds without a word from the broker after which its stream is dead
REGISTER_WAIT = 10.0  # seconds the start waits for the first registration


def needs_broker(ask: Callable[[str], tuple[bool, str]], address: str, *, collector: str,
                 forced: bool = False, configured: bool = False) -> tuple[bool, str]:
    """Whether a startd that advertises ``address`` goes through the broker of the
    collector at ``collector``, and why (a line for the log).

    ``forced``: told to (``outbound_only``).  ``configured``: ``address`` is the
    administrator's ``advertise_address``, a forwarded port or a NAT's, taken at its word.
    Otherwise a startd whose collector is on this host is dialled directly, one that
    advertises loopback to a collector elsewhere goes through the broker, and any other
    asks: ``ask(address)`` has the collector dial it, answering (reachable, why not), or
    raises RoostError if the collector cannot be asked; then the broker it is, since it
    works wherever the collector can be reached at all."""
    if forced:
        return True, "told to (startd.outbound_only)"
    if configured:
        return False, "its advertise_address says so"
    if is_loopback(split_address(collector)[0]):
        return False, "its collector is on this host"
    if is_loopback(split_address(address)[0]):
        return True, f"{address} is a loopback address, which no other host can dial"
    try:
        reachable, why = ask(address)
    except RoostError as error:
        return True, f"the collector cannot be asked whether it can dial {address}: {error}"
    if reachable:
        return False, f"the collector can dial {address}"
    return True, f"the collector cannot dial {address}: {why}"


class Backoff:
    """How long to wait before the next try: ``first``, doubled after each failure up to
    ``most``; back to ``first`` after a success."""

    def __init__(self, first: float = FIRST_RETRY, most: float = MOST_RETRY) -> None:
        self.first = first
        self.most = most
        self._next = first

    def failed(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.most)
        return delay

    def succeeded(self) -> None:
        self._next = self.first


class BrokerLink:
    """Keeps the startd registered as ``broker_id`` with the broker that ``broker()``
    (a ``roost.client.Broker``) reaches, and carries the connections schedds ask for to
    the startd's own server at ``local`` (HOST:PORT on this host).  ``address`` is the
    broker address the startd advertises."""

    def __init__(self, broker: Callable, broker_id: str, local: str, *, address: str,
                 config, log: logging.Logger, silence: float = SILENCE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.broker = broker
        self.broker_id = broker_id
        self.address = address
        self.local = split_address(local)
        self.config = config
        self.log = log
        self.silence = silence
        self.clock = clock
        self.registered = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._call = None  # the registration stream now open
        self._heard = 0.0  # when the broker last said anything on it
        self._channels: dict[str, object] = {}  # schedd address -> gRPC channel
        self._threads = [threading.Thread(target=self._run, name="startd:broker",
                                          daemon=True),
                         threading.Thread(target=self._watch, name="startd:broker-watch",
                                          daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()
        for thread in self._threads:
            if thread.ident is not None:  # started
                thread.join(5)
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()

    # -- the registration ----------------------------------------------------------------

    def _run(self) -> None:
        import grpc

        backoff = Backoff()
        while not self._stop.is_set():
            try:
                with self.broker() as client:
                    self._follow(client, backoff)
                why = "the broker ended the registration"
            except grpc.RpcError as error:
                why = error.details() or error.code().name
            except RoostError as error:
                why = str(error)
            self.registered.clear()
            if self._stop.is_set():
                return
            delay = backoff.failed()
            self.log.warning("not registered with the broker (%s); trying again in %.1f s",
                             why, delay)
            self._stop.wait(delay)

    def _follow(self, client, backoff: Backoff) -> None:
        call = client.register(self.broker_id)
        with self._lock:
            self._call, self._heard = call, self.clock()
        if self._stop.is_set():
            call.cancel()
        try:
            for message in call:
                with self._lock:
                    self._heard = self.clock()
                kind = message.WhichOneof("body")
                if kind == "registered":
                    backoff.succeeded()
                    self.registered.set()
                    self.log.info("registered with the broker at %s as %s", client.address,
                                  self.broker_id)
                elif kind == "connect":
                    threading.Thread(target=self._carry, args=(message.connect,),
                                     name="startd:reverse", daemon=True).start()
        finally:
            with self._lock:
                self._call = None

    def _watch(self) -> None:
        """Cancel a registration stream the broker has been silent on for too long (the
        collector's host vanished: nothing tells the stream it broke)."""
        while not self._stop.wait(1.0):
            with self._lock:
                call, heard = self._call, self._heard
            if call is not None and self.clock() - heard > self.silence:
                self.log.warning("no word from the broker in %.0f s", self.silence)
                call.cancel()

    # -- a connection a schedd asked for -------------------------------------------------

    def _carry(self, request) -> None:
        """Dial the schedd, present its nonce, and join the stream to a new connection to
        this startd's server."""
        import grpc

        from roost.rpc import schedd_pb2, schedd_pb2_grpc

        try:
            local = socket.create_connection(self.local, timeout=5.0)
        except OSError as error:
            self.log.warning("cannot connect to this startd's own server at %s:%d: %s",
                             *self.local, error)
            return
        local.settimeout(None)
        splice = Splice(local)

        def outgoing():
            yield schedd_pb2.ReverseChunk(nonce=request.nonce)
            for data in splice.from_socket():
                yield schedd_pb2.ReverseChunk(data=data)

        stub = schedd_pb2_grpc.ScheddStub(self._channel(request.schedd_address))
        replies = stub.ReverseConnect(outgoing())
        try:
            splice.to_socket(reply.data for reply in replies)  # until the call is over
        finally:
            splice.finished()
        if replies.code() != grpc.StatusCode.OK:
            self.log.warning("the connection for the schedd at %s ended: %s",
                             request.schedd_address, replies.details())

    def _channel(self, address: str):
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = open_channel(address, self.config)
            return channel
