"""The collector's ad store: pure state, no I/O, no clock (``now`` is an argument).

Ads are keyed by (ad type, Name), both without regard to case, as HTCondor's collector
keys startd ads by name.  An update replaces the ad whole and stamps what the collector
knows of it (``LastHeardFrom``, ``AuthenticatedIdentity``, ``UpdatesTotal``...); an ad
not heard from within its ``ClassAdLifetime`` (or the default lifetime) is dropped by
``expire``.  Private attributes (a slot's ``ClaimId``) are kept apart from the public ad
and handed out only when a query asks for them, which the service allows only to the
negotiator.

Each stored ad keeps its wire form (name, expression text) so that a query of ten
thousand ads sends text it already has instead of unparsing every attribute again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import classad
from classad import ClassAd, ExprTree

# HTCondor's names for the ad types the pool uses (MyType).
MACHINE = "Machine"
SCHEDULER = "Scheduler"
SUBMITTER = "Submitter"
NEGOTIATOR = "Negotiator"
COLLECTOR = "Collector"
ANY = "Any"

# Attributes the collector writes into an ad it stores (MyType only where it is missing).
_STAMPED_KEYS = frozenset(
    {"lastheardfrom", "authenticatedidentity", "authenticationmethod", "updatestotal"}
)


class AdError(ValueError):
    """An ad the store refuses (no name, a bad lifetime...)."""


@dataclass(slots=True)
class StoredAd:
    ad_type: str
    name: str
    ad: ClassAd                     # public attributes, stamps included
    wire: list[tuple[str, str]]     # the same as (name, old-syntax text) pairs
    private: ClassAd | None
    private_wire: list[tuple[str, str]]
    last_heard: float
    lifetime: float
    updates: int
    # The service's caches of this ad's encoded wire form, made at the first query: each
    # attribute's (lower-case name, bytes), and the whole ad's bytes.
    encoded_attrs: list[tuple[str, bytes]] | None = None
    encoded: bytes | None = None


@dataclass(slots=True)
class Stats:
    updates: int = 0
    invalidations: int = 0
    expired: int = 0
    queries: int = 0
    refused: int = 0
    updates_by_type: dict[str, int] = field(default_factory=dict)


def _key(ad_type: str, name: str) -> tuple[str, str]:
    return ad_type.lower(), name.lower()


def ad_name(ad: ClassAd) -> str:
    """An ad's Name, which must be a string."""
    name = ad.eval("Name")
    if type(name) is not str or not name:
        raise AdError("an ad needs a string Name")
    return name


def satisfied(value) -> bool:
    """A constraint's value as HTCondor's EvalExprToBool takes it: true, or a non-zero
    number."""
    t = type(value)
    if t is bool:
        return value
    return (t is int or t is float) and value != 0


class AdStore:
    """Every ad the collector holds."""

    def __init__(self, default_lifetime: float = 900.0) -> None:
        self.default_lifetime = default_lifetime
        self._ads: dict[tuple[str, str], StoredAd] = {}
        self.stats = Stats()

    def __len__(self) -> int:
        return len(self._ads)

    def get(self, ad_type: str, name: str) -> StoredAd | None:
        return self._ads.get(_key(ad_type, name))

    def update(
        self,
        ad_type: str,
        ad: ClassAd,
        wire: list[tuple[str, str]],
        now: float,
        identity: str = "",
        private: ClassAd | None = None,
        private_wire: list[tuple[str, str]] | None = None,
    ) -> StoredAd:
        """Store (or replace) an ad; ``wire`` is ``ad`` as it came, (name, text) pairs."""
        if not ad_type:
            raise AdError("an ad needs a type")
        name = ad_name(ad)
        lifetime = self._lifetime(ad)
        key = _key(ad_type, name)
        old = self._ads.get(key)
        updates = old.updates + 1 if old is not None else 1
        stamps = {
            "LastHeardFrom": int(now),
            "AuthenticatedIdentity": identity,
            "AuthenticationMethod": "TOKEN",
            "UpdatesTotal": updates,
        }
        if "MyType" not in ad:
            stamps["MyType"] = ad_type
        for attr, value in stamps.items():
            ad[attr] = value
        wire = [(n, t) for n, t in wire if n.lower() not in _STAMPED_KEYS]
        wire.extend(
            (attr, classad.quote(value) if type(value) is str else str(value))
            for attr, value in stamps.items()
        )
        stored = StoredAd(
            ad_type, name, ad, wire, private, list(private_wire or ()), now, lifetime, updates
        )
        self._ads[key] = stored
        self.stats.updates += 1
        self.stats.updates_by_type[ad_type] = self.stats.updates_by_type.get(ad_type, 0) + 1
        return stored

    def _lifetime(self, ad: ClassAd) -> float:
        if "ClassAdLifetime" not in ad:
            return self.default_lifetime
        value = ad.eval("ClassAdLifetime")
        if type(value) not in (int, float) or value <= 0:
            raise AdError("ClassAdLifetime must be a positive number of seconds")
        return float(value)

    def invalidate(
        self,
        ad_type: str,
        names: Iterable[str] = (),
        constraint: ExprTree | None = None,
        allowed=None,
    ) -> int:
        """Remove ads of a type by name, or those matching a constraint.  ``allowed``, if
        given, is asked of each ad first (a startd may remove only its own)."""
        doomed = []
        if constraint is None:
            for name in names:
                stored = self._ads.get(_key(ad_type, name))
                if stored is not None:
                    doomed.append(stored)
        else:
            doomed = list(self.select(ad_type, constraint))
        removed = 0
        for stored in doomed:
            if allowed is None or allowed(stored):
                del self._ads[_key(stored.ad_type, stored.name)]
                removed += 1
        self.stats.invalidations += removed
        return removed

    def expire(self, now: float) -> list[StoredAd]:
        """Drop the ads not heard from within their lifetime; they are returned."""
        gone = [s for s in self._ads.values() if now - s.last_heard > s.lifetime]
        for stored in gone:
            del self._ads[_key(stored.ad_type, stored.name)]
        self.stats.expired += len(gone)
        return gone

    def select(self, ad_type: str, constraint: ExprTree | None = None,
               limit: int = 0) -> Iterator[StoredAd]:
        """The ads of a type (``Any``: every type) whose constraint, evaluated against each
        ad alone, is true."""
        wanted = None if ad_type.lower() in ("", ANY.lower()) else ad_type.lower()
        count = 0
        for (kind, _), stored in list(self._ads.items()):
            if wanted is not None and kind != wanted:
                continue
            if constraint is not None and not satisfied(constraint.eval(stored.ad)):
                continue
            yield stored
            count += 1
            if limit and count >= limit:
                return

    def counts(self) -> dict[str, int]:
        """How many ads of each type are held."""
        result: dict[str, int] = {}
        for stored in self._ads.values():
            result[stored.ad_type] = result.get(stored.ad_type, 0) + 1
        return result
