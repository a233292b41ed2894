"""The collector's connection broker (``roost.broker``): startds that cannot be dialled
register here, and schedds' requests for connections are passed down to them.

Who may do what: ``DialBack`` and ``Register`` are a startd's (``advertise-startd``), and
a startd registers only under its own host's name, as it advertises only its own slots
(``startd@desk1`` registers ``desk1``); ``Connect`` is a schedd's (``advertise-schedd``).

``Registry`` is the state: one registration per broker id, the newest winning (a startd
that restarted, or re-registered over a new connection before the old one was seen to
break).  ``BrokerService`` is the gRPC shell: each registration is a response stream that
holds a server thread while it is open, so the collector serves at most ``max_streams``
and refuses more with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from dataclasses import dataclass, field

import grpc

from matchmaker.collector import MACHINE
from matchmaker.collector_service import refusal
from roost.addresses import split_address
from roost.errors import RoostError
from roost.rpc import collector_pb2, collector_pb2_grpc
from roost.security import current_identity

log = logging.getLogger("roost.collector.broker")

SERVICE = "roost.rpc.Broker"
METHOD_SCOPES = {
    f"/{SERVICE}/DialBack": "advertise-startd",
    f"/{SERVICE}/Register": "advertise-startd",
    f"/{SERVICE}/Connect": "advertise-schedd",
}
DIAL_TIMEOUT = 3.0  # seconds DialBack waits for a connection: a firewall that drops is silent
HEARTBEAT = 15.0  # seconds between heartbeats on a quiet registration stream
MAX_STREAMS = 1000


@dataclass(eq=False)
class Registration:
    """One startd's registration: the connection requests waiting to go down its stream.
    ``None`` in the queue ends the stream (a newer registration replaced it)."""

    broker_id: str
    identity: str
    requests: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)


class Registry:
    """The registrations by broker id (ids compared without case, as host names are)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Registration] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def register(self, broker_id: str, identity: str) -> tuple[Registration,
                                                               Registration | None]:
        """A new registration for ``broker_id``, and the one it replaces, if any (to be
        ended)."""
        new = Registration(broker_id, identity)
        old = self._by_id.get(broker_id.lower())
        self._by_id[broker_id.lower()] = new
        return new, old

    def drop(self, registration: Registration) -> None:
        """Forget ``registration`` (its stream ended), unless a newer one replaced it."""
        if self._by_id.get(registration.broker_id.lower()) is registration:
            del self._by_id[registration.broker_id.lower()]

    def find(self, broker_id: str) -> Registration | None:
        return self._by_id.get(broker_id.lower())


class BrokerService(collector_pb2_grpc.BrokerServicer):
    def __init__(self, *, max_streams: int = MAX_STREAMS, heartbeat: float = HEARTBEAT,
                 dial_timeout: float = DIAL_TIMEOUT) -> None:
        self.registry = Registry()
        self.lock = threading.Lock()
        self.max_streams = max_streams
        self.heartbeat = heartbeat
        self.dial_timeout = dial_timeout

    def DialBack(self, request, context):  # noqa: N802 (gRPC's method name)
        try:
            host, port = split_address(request.address)
        except RoostError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            with socket.create_connection((host, port), timeout=self.dial_timeout):
                pass
        except TimeoutError:
            return collector_pb2.DialBackReply(
                reachable=False, reason=f"no answer from {request.address} within "
                                        f"{self.dial_timeout:g} s")
        except OSError as error:
            return collector_pb2.DialBackReply(
                reachable=False, reason=f"cannot connect to {request.address}: "
                                        f"{error.strerror or error}")
        return collector_pb2.DialBackReply(reachable=True)

    def Register(self, request, context):  # noqa: N802
        identity = current_identity()
        broker_id = request.broker_id
        why = refusal(identity, MACHINE, f"broker@{broker_id}") if broker_id else \
            "a registration must name its broker id"
        if why is not None:
            log.warning("refused the broker registration of %r: %s", broker_id, why)
            context.abort(grpc.StatusCode.PERMISSION_DENIED, why)
        with self.lock:
            if len(self.registry) >= self.max_streams and self.registry.find(broker_id) is None:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"the broker serves {self.max_streams} startds already")
            registration, replaced = self.registry.register(broker_id, identity.name)
        if replaced is not None:
            replaced.requests.put(None)
        log.info("startd %s registered with the broker (%s)", broker_id, context.peer())
        context.add_callback(lambda: registration.requests.put(None))
        try:
            yield collector_pb2.BrokerMessage(registered=True)
            while context.is_active():
                try:
                    wanted = registration.requests.get(timeout=self.heartbeat)
                except queue.Empty:
                    yield collector_pb2.BrokerMessage(heartbeat=True)
                    continue
                if wanted is None:
                    return
                yield collector_pb2.BrokerMessage(connect=wanted)
        finally:
            with self.lock:
                self.registry.drop(registration)
            log.info("startd %s left the broker", broker_id)

    def Connect(self, request, context):  # noqa: N802
        with self.lock:
            registration = self.registry.find(request.broker_id)
        if registration is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"no startd {request.broker_id} is registered with the broker")
        registration.requests.put(request)
        return collector_pb2.BrokerConnectReply()
