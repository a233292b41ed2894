"""Python clients of roost's daemons: ``roost.Collector`` (later ``roost.Schedd``).

A client takes an optional ``address=`` and ``token=``; the defaults come from the
configuration and the local user's token file.  Calls have deadlines, and a daemon that
is not (yet) reachable is retried with exponential back-off before the call gives up
with one clear line: ``cannot reach the collector at HOST:PORT (is the pool up?)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import grpc

import classad
from classad import ClassAd
from roost import security
from roost.config import Config, load_config
from roost.errors import RoostError
from roost.rpc import classad_pb2, collector_pb2, collector_pb2_grpc

# Attempts for a call that finds the daemon UNAVAILABLE, and the first pause between them.
RETRIES = 4
BACKOFF = 0.2


class Client:
    """A channel to one daemon, with its token and deadlines."""

    what = "daemon"  # the daemon's name in messages
    address_key = ("", "")  # the configuration key of its address

    def __init__(
        self,
        address: str | None = None,
        token: str | None = None,
        *,
        config: Config | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.config = config or load_config()
        self.address = address or self.config.get(*self.address_key)
        if token is None:
            path = self.config.get("security", "token_file") or security.local_token_path(
                self.config.home
            )
            token = security.load_token(path)
        self.timeout = timeout
        self._metadata = security.call_metadata(token)
        ca = self.config.get("tls", "ca")
        if ca:
            with open(ca, "rb") as f:
                credentials = security.channel_credentials(f.read())
            self.channel = grpc.secure_channel(self.address, credentials)
        else:
            self.channel = grpc.insecure_channel(self.address)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _failure(self, error: grpc.RpcError) -> RoostError:
        return RoostError(security.describe_rpc_error(error, self.what, self.address))

    def _retry(self, attempt):
        """``attempt()``, again with back-off while the daemon is unavailable; other
        failures become one RoostError line."""
        pause = BACKOFF
        for remaining in range(RETRIES - 1, -1, -1):
            try:
                return attempt()
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or not remaining:
                    raise self._failure(e) from None
                time.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _unary(self, method, request):
        return self._retry(lambda: method(request, timeout=self.timeout, metadata=self._metadata))

    def _stream(self, method, request) -> Iterator:
        """A response stream; only its start is retried, since what was already read
        cannot be taken back."""

        def start():
            replies = method(request, timeout=self.timeout, metadata=self._metadata)
            return replies, next(replies, None)

        replies, first = self._retry(start)
        if first is None:
            return
        yield first
        try:
            yield from replies
        except grpc.RpcError as e:
            raise self._failure(e) from None


def _message(ad: ClassAd) -> classad_pb2.ClassAd:
    return classad_pb2.ClassAd(
        attrs=[classad_pb2.Attribute(name=n, expr=t) for n, t in classad.ad_to_pairs(ad)]
    )


class Collector(Client):
    """The pool's collector: ``advertise``, ``invalidate`` and ``query`` ads."""

    what = "collector"
    address_key = ("matchmaker", "address")

    def advertise(
        self,
        ads: Iterable[ClassAd],
        ad_type: str = "Machine",
        private: Iterable[ClassAd | None] | None = None,
    ) -> int:
        """Send ads in one stream; returns how many were stored.  A refused ad raises
        RoostError naming it and why (the others are stored).  An update is idempotent,
        so a stream cut off by an unavailable collector is sent again whole."""
        ads = list(ads)
        privates = list(private) if private is not None else [None] * len(ads)

        def requests():
            for ad, extra in zip(ads, privates, strict=True):
                request = collector_pb2.AdvertiseRequest(ad_type=ad_type, ad=_message(ad))
                if extra is not None:
                    request.private_ad.CopyFrom(_message(extra))
                yield request

        stub = collector_pb2_grpc.CollectorStub(self.channel)
        reply = self._retry(
            lambda: stub.Advertise(requests(), timeout=self.timeout, metadata=self._metadata)
        )
        if reply.errors:
            first = reply.errors[0]
            more = f" (and {len(reply.errors) - 1} more)" if len(reply.errors) > 1 else ""
            raise RoostError(
                f"the collector refused ad {first.name or first.index}: {first.reason}{more}"
            )
        return reply.accepted

    def invalidate(self, ad_type: str, names: Iterable[str] = (), constraint: str = "") -> int:
        """Remove ads by name or by constraint; returns how many were removed."""
        stub = collector_pb2_grpc.CollectorStub(self.channel)
        request = collector_pb2.InvalidateRequest(
            ad_type=ad_type, names=list(names), constraint=constraint
        )
        return self._unary(stub.Invalidate, request).removed

    def query(
        self,
        ad_type: str = "Machine",
        constraint: str = "",
        projection: Iterable[str] = (),
        limit: int = 0,
        include_private: bool = False,
    ) -> list[ClassAd]:
        """The ads of a type for which ``constraint`` (evaluated against each ad alone)
        holds, with only the ``projection`` attributes if given."""
        return list(self.iter_query(ad_type, constraint, projection, limit, include_private))

    def iter_query(
        self,
        ad_type: str = "Machine",
        constraint: str = "",
        projection: Iterable[str] = (),
        limit: int = 0,
        include_private: bool = False,
    ) -> Iterator[ClassAd]:
        stub = collector_pb2_grpc.CollectorStub(self.channel)
        request = collector_pb2.QueryRequest(
            ad_type=ad_type,
            constraint=constraint,
            projection=list(projection),
            limit=limit,
            include_private=include_private,
        )
        for reply in self._stream(stub.Query, request):
            for msg in reply.ads:
                yield classad.ad_from_pairs((a.name, a.expr) for a in msg.attrs)
