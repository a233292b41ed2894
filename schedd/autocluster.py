"""Autoclusters: idle jobs grouped by the attributes that decide where they can run.

The negotiator names the significant attributes (``AutoClusterAttrs`` in its ad, as
HTCondor's negotiator sends them); jobs equal in all of them are one resource request
with a count, so a cluster of a million identical procs costs the negotiator one match
attempt per slot, not a million.  Ids stay the same for the same attribute values from one
cycle to the next, so the negotiator's records of past cycles stay meaningful.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from classad import ClassAd
from schedd import queue_store

# What decides a match when the negotiator does not say (HTCondor's defaults plus the
# job's own Requirements and Rank).
DEFAULT_SIGNIFICANT = ("Requirements", "Rank", "RequestCpus", "RequestMemory", "RequestDisk",
                       "JobUniverse", "ConcurrencyLimits", "MaxRuntime")


@dataclass(frozen=True)
class ResourceRequest:
    autocluster_id: int
    count: int
    job_ad: ClassAd  # a representative job of the autocluster


def significant_attributes(negotiator_ad: ClassAd) -> tuple[str, ...]:
    named = negotiator_ad.eval("AutoClusterAttrs") if "AutoClusterAttrs" in negotiator_ad else ""
    if isinstance(named, str) and named.strip():
        return tuple(name.strip() for name in named.replace(" ", ",").split(",") if name.strip())
    return DEFAULT_SIGNIFICANT


class AutoclusterIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[tuple, int] = {}

    def id_for(self, key: tuple) -> int:
        with self._lock:
            found = self._ids.get(key)
            if found is None:
                found = self._ids[key] = len(self._ids) + 1
            return found

    def requests(self, jobs, submitter: str, negotiator_ad: ClassAd) -> list[ResourceRequest]:
        """The submitter's runnable idle jobs as one request per autocluster, in the order
        the jobs would run (the first job of each autocluster decides its place)."""
        owner = submitter.partition("@")[0]
        attrs = significant_attributes(negotiator_ad)
        groups: dict[int, list] = {}
        with jobs.engine.connect() as connection:
            for ad, count in queue_store.idle_jobs(connection, owner, jobs.now()):
                key = tuple(str(ad.lookup(name)) if name in ad else "" for name in attrs)
                ac = self.id_for(key)
                if ac in groups:
                    groups[ac][1] += count
                else:
                    groups[ac] = [ad, count]
        ordered = sorted(groups.items(), key=lambda item: (
            -_number(item[1][0], "JobPrio"), _number(item[1][0], "QDate"),
            _number(item[1][0], "ClusterId")))
        return [ResourceRequest(ac, count, ad) for ac, (ad, count) in ordered]


def _number(ad: ClassAd, name: str) -> int:
    value = ad.eval(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
