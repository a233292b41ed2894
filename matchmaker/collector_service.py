"""The collector's gRPC service: a thin shell around ``AdStore``.

Who may do what (the token's identity and scopes, checked per ad):

- Machine ads: ``advertise-startd``, and only for slots of the token's own host
  (``slot1@node7`` needs ``startd@node7``); an ``admin`` token may advertise any.
- Scheduler and Submitter ads: ``advertise-schedd``.  Negotiator ads: ``negotiate``.
  Any other type: ``admin``.  Invalidation follows the same rules.
- Queries: any authenticated caller; private attributes only for ``negotiate``.

A bad ad in an update stream (no name, a syntax error, too big) is refused alone and
reported in the reply; the rest of the stream is stored.  A refusal of permission ends
the stream with PERMISSION_DENIED.  Query results are sent from each ad's cached
encoding, so a query of thousands of ads does no per-attribute work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import grpc

import classad
from classad import ClassAdSyntaxError, ExprTree
from matchmaker.collector import (
    COLLECTOR,
    MACHINE,
    NEGOTIATOR,
    SCHEDULER,
    SUBMITTER,
    AdError,
    AdStore,
    StoredAd,
    ad_name,
)
from roost.revocation import ATTRIBUTE as REVOKED
from roost.revocation import Revoked
from roost.rpc import classad_pb2, collector_pb2
from roost.security import Identity, current_identity

log = logging.getLogger("roost.collector")

SERVICE = "roost.rpc.Collector"

# The scope each method needs before the service looks at what is asked (the
# interceptor checks these; the per-ad rules above are the service's).
METHOD_SCOPES = {
    f"/{SERVICE}/Advertise": "read",
    f"/{SERVICE}/Invalidate": "read",
    f"/{SERVICE}/Query": "read",
}

_ADVERTISE_SCOPE = {
    MACHINE.lower(): "advertise-startd",
    SCHEDULER.lower(): "advertise-schedd",
    SUBMITTER.lower(): "advertise-schedd",
    NEGOTIATOR.lower(): "negotiate",
}


def refusal(identity: Identity, ad_type: str, name: str) -> str | None:
    """Why ``identity`` may not advertise (or invalidate) this ad, or None if it may."""
    scope = _ADVERTISE_SCOPE.get(ad_type.lower(), "admin")
    if not identity.allows(scope):
        return f"identity {identity.name} lacks scope {scope} for {ad_type} ads"
    if (scope == "advertise-startd" and not identity.allows("admin")
            and not _own_host(identity.host.lower(), name.rpartition("@")[2].lower())):
        return f"identity {identity.name} may not advertise slot {name} of another host"
    return None


def _own_host(own: str, host: str) -> bool:
    """Whether a startd token for ``own`` covers a slot of ``host``: the same name, or, for
    a pilot's token (``glidein-TAG-*``: its startds are ``glidein-TAG-JOBID.NODE``), a
    name that begins with what comes before the ``*``."""
    if own.endswith("*"):
        prefix = own[:-1]
        return bool(prefix) and host.startswith(prefix) and len(host) > len(prefix)
    return host == own


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited protobuf field (string or message) with its tag byte."""
    return tag + _varint(len(payload)) + payload


# Replies are joined from cached bytes instead of built as messages: QueryReply's ``ads``,
# ClassAd's ``attrs`` and Attribute's ``name`` are field 1, Attribute's ``expr`` field 2,
# all length-delimited (tag 0x0a and 0x12).
_FIELD1 = b"\x0a"
_FIELD2 = b"\x12"


def _encoded_attribute(name: str, text: str) -> bytes:
    attribute = _field(_FIELD1, name.encode()) + _field(_FIELD2, text.encode())
    return _field(_FIELD1, attribute)


def _pairs(msg: classad_pb2.ClassAd) -> list[tuple[str, str]]:
    return [(a.name, a.expr) for a in msg.attrs]


class CollectorService:
    """Advertise, Invalidate and Query over an ``AdStore`` shared with the daemon's timers."""

    def __init__(self, store: AdStore, *, max_ad_bytes: int = 1 << 20, query_batch: int = 500,
                 clock: Callable[[], float] = time.time,
                 revoked: Revoked | None = None) -> None:
        self.store = store
        self.revoked = revoked or Revoked()  # published in the collector's own ad
        # Called when a slot no one has claimed appears (a startd or a glide-in starts).
        self.on_new_slot: Callable[[], None] = lambda: None
        self.lock = threading.Lock()
        self.max_ad_bytes = max_ad_bytes
        self.query_batch = query_batch
        self.clock = clock

    # -- Advertise -----------------------------------------------------------------------

    def Advertise(self, requests, context):  # noqa: N802 (gRPC's method name)
        identity = current_identity()
        reply = collector_pb2.AdvertiseReply()
        for index, request in enumerate(requests):
            try:
                self._advertise_one(request, identity, context)
                reply.accepted += 1
            except (AdError, ClassAdSyntaxError) as e:
                self.store.stats.refused += 1
                name = next((a.expr for a in request.ad.attrs if a.name.lower() == "name"), "")
                reply.errors.add(index=index, name=name, reason=str(e))
        return reply

    def _advertise_one(self, request, identity: Identity, context) -> None:
        size = request.ByteSize()
        if size > self.max_ad_bytes:
            raise AdError(f"ad of {size} bytes is over the limit of {self.max_ad_bytes}")
        pairs = _pairs(request.ad)
        ad = classad.ad_from_pairs(pairs)
        private = None
        private_pairs = _pairs(request.private_ad)
        if private_pairs:
            private = classad.ad_from_pairs(private_pairs)
        name = ad.eval("Name")
        if type(name) is str:
            why = refusal(identity, request.ad_type, name)
            if why is not None:
                log.warning("refused update of %s %r: %s", request.ad_type, name, why)
                context.abort(grpc.StatusCode.PERMISSION_DENIED, why)
        with self.lock:
            new = self.store.get(request.ad_type, ad_name(ad)) is None
            self.store.update(request.ad_type, ad, pairs, self.clock(), identity.name,
                              private, private_pairs)
        if new and request.ad_type == MACHINE and ad.eval("State") == "Unclaimed":
            self.on_new_slot()

    # -- Invalidate ----------------------------------------------------------------------

    def Invalidate(self, request, context):  # noqa: N802
        identity = current_identity()
        constraint = _constraint(request.constraint, context) if request.constraint else None
        if constraint is None and not request.names:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give names or a constraint")
        refused: list[str] = []

        def allowed(stored: StoredAd) -> bool:
            why = refusal(identity, stored.ad_type, stored.name)
            if why is not None:
                refused.append(why)
            return why is None

        with self.lock:
            removed = self.store.invalidate(request.ad_type, request.names, constraint, allowed)
        if refused:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, refused[0])
        return collector_pb2.InvalidateReply(removed=removed)

    # -- Query ---------------------------------------------------------------------------

    def Query(self, request, context) -> Iterator[bytes]:  # noqa: N802
        identity = current_identity()
        if request.include_private and not identity.allows("negotiate"):
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"identity {identity.name} lacks scope negotiate for private attributes")
        constraint = _constraint(request.constraint, context) if request.constraint else None
        projection = {p.lower() for p in request.projection}
        with self.lock:
            self.store.stats.queries += 1
            found = list(self.store.select(request.ad_type, constraint, request.limit))
        batch: list[bytes] = []
        for stored in found:
            ad = self._encoded(stored, projection, request.include_private)
            batch.append(_field(_FIELD1, ad))
            if len(batch) >= self.query_batch:
                yield b"".join(batch)
                batch = []
        if batch or not found:
            yield b"".join(batch)

    def _encoded(self, stored: StoredAd, projection: set[str], private: bool) -> bytes:
        """The ad's ClassAd message bytes: whole, projected, or with its private part."""
        attrs = stored.encoded_attrs
        if attrs is None:
            attrs = stored.encoded_attrs = [
                (n.lower(), _encoded_attribute(n, t)) for n, t in stored.wire
            ]
        if private:
            attrs = attrs + [(n.lower(), _encoded_attribute(n, t)) for n, t in stored.private_wire]
        elif not projection:
            if stored.encoded is None:
                stored.encoded = b"".join(blob for _, blob in attrs)
            return stored.encoded
        if projection:
            return b"".join(blob for key, blob in attrs if key in projection)
        return b"".join(blob for _, blob in attrs)

    # -- housekeeping --------------------------------------------------------------------

    def housekeep(self) -> None:
        """Drop the ads whose lifetime has passed (the daemon's timer calls this)."""
        with self.lock:
            gone = self.store.expire(self.clock())
        for stored in gone:
            log.info("%s ad %r expired", stored.ad_type, stored.name)

    def advertise_self(self, name: str, machine: str, address: str) -> None:
        """Store the collector's own ad: its address, what it holds, the pool's job
        counts as the submitters report them (what ``condor_status -collector`` shows),
        and the ids of the revoked tokens, which the schedds read from it."""
        with self.lock:
            stats = self.store.stats
            hosts = {s.ad.eval("Machine") for s in self.store.select(MACHINE)}
            jobs = {"RunningJobs": 0, "IdleJobs": 0, "HeldJobs": 0}
            for submitter in self.store.select(SUBMITTER):
                for attr in jobs:
                    count = submitter.ad.eval(attr)
                    if type(count) is int:
                        jobs[attr] += count
            ad = classad.ClassAd({
                "Name": name,
                "Machine": machine,
                "HostsTotal": len(hosts),
                **jobs,
                "MyAddress": address,
                "CollectorAddress": address,
                "UpdatesReceived": stats.updates,
                "UpdatesRefused": stats.refused,
                "AdsExpired": stats.expired,
                "QueriesReceived": stats.queries,
                "ClassAdLifetime": max(self.store.default_lifetime, 60),
                **{f"Num{kind}Ads": n for kind, n in self.store.counts().items()},
                REVOKED: sorted(self.revoked.ids),
            })
            self.store.update(COLLECTOR, ad, classad.ad_to_pairs(ad), self.clock(), "collector")


def _constraint(text: str, context) -> ExprTree:
    try:
        return ExprTree(text)
    except ClassAdSyntaxError as e:
        where = f"constraint:{e.line}:{e.column}"
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {e.message}")
        raise  # abort() raises; this only keeps the function from falling through


def _identity_bytes(data: bytes) -> bytes:
    return data


def add_to_server(service: CollectorService, server: grpc.Server) -> None:
    """Register the service; Query answers with bytes it joined itself (see ``_field1``)."""
    handlers = {
        "Advertise": grpc.stream_unary_rpc_method_handler(
            service.Advertise,
            request_deserializer=collector_pb2.AdvertiseRequest.FromString,
            response_serializer=collector_pb2.AdvertiseReply.SerializeToString,
        ),
        "Invalidate": grpc.unary_unary_rpc_method_handler(
            service.Invalidate,
            request_deserializer=collector_pb2.InvalidateRequest.FromString,
            response_serializer=collector_pb2.InvalidateReply.SerializeToString,
        ),
        "Query": grpc.unary_stream_rpc_method_handler(
            service.Query,
            request_deserializer=collector_pb2.QueryRequest.FromString,
            response_serializer=_identity_bytes,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
