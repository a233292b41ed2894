"""The schedd's ads in the collector: its Schedd ad and one Submitter ad per owner.

The counts come from the queue's indexed status column.  An owner whose jobs have all left
the queue keeps a Submitter ad with zero counts until the next update drops it, and it is
then invalidated, so ``roost status -submitters`` shows who has work.
"""

from __future__ import annotations

import logging
import threading

from classad import ClassAd
from roost.errors import RoostError
from schedd.job_status import JobStatus

# Seconds a schedd's ads live in the collector without an update: three missed updates.
_LIFETIME_UPDATES = 3


def schedd_ads(name: str, machine: str, address: str, counts: dict[str, dict[int, int]],
               now: int, lifetime: int) -> tuple[ClassAd, list[ClassAd]]:
    """The Schedd ad and the Submitter ads for the queue's counts by owner and status."""

    def total(owner_counts: dict[int, int], status: JobStatus) -> int:
        return owner_counts.get(int(status), 0)

    everyone: dict[int, int] = {}
    for owner_counts in counts.values():
        for status, n in owner_counts.items():
            everyone[status] = everyone.get(status, 0) + n
    schedd = ClassAd({
        "MyType": "Scheduler", "Name": name, "Machine": machine, "MyAddress": address,
        "ScheddIpAddr": address, "MyCurrentTime": now, "ClassAdLifetime": lifetime,
        "TotalIdleJobs": total(everyone, JobStatus.IDLE),
        "TotalRunningJobs": total(everyone, JobStatus.RUNNING),
        "TotalHeldJobs": total(everyone, JobStatus.HELD),
        "TotalSuspendedJobs": total(everyone, JobStatus.SUSPENDED),
        "TotalJobAds": sum(everyone.values()),
        "NumUsers": len(counts),
    })
    submitters = []
    for owner in sorted(counts):
        c = counts[owner]
        submitters.append(ClassAd({
            "MyType": "Submitter", "Name": f"{owner}@{machine}", "Owner": owner,
            "ScheddName": name, "Machine": machine, "MyAddress": address,
            "ScheddIpAddr": address, "MyCurrentTime": now, "ClassAdLifetime": lifetime,
            "IdleJobs": total(c, JobStatus.IDLE), "RunningJobs": total(c, JobStatus.RUNNING),
            "HeldJobs": total(c, JobStatus.HELD),
        }))
    return schedd, submitters


class ScheddAds:
    """Sends the ads to the collector (the daemon's shell around ``schedd_ads``)."""

    def __init__(self, jobs, config, token: str, *, name: str, machine: str,
                 address: str, log: logging.Logger) -> None:
        self.jobs = jobs
        self.config = config
        self.name = name
        self.machine = machine
        self.address = address
        self.log = log
        self._token = token  # advertise-schedd
        self._advertised: set[str] = set()
        self._updating = threading.Lock()  # the timer and the rescheduler both update

    def _collector(self):
        from roost.client import Collector

        return Collector(token=self._token, config=self.config, timeout=5.0)

    def update(self) -> None:
        with self._updating:
            self._update()

    def _update(self) -> None:
        lifetime = self.config.get("schedd", "update_interval") * _LIFETIME_UPDATES
        schedd, submitters = schedd_ads(self.name, self.machine, self.address,
                                        self.jobs.status_counts(), self.jobs.now(), lifetime)
        names = {ad.eval("Name") for ad in submitters}
        try:
            with self._collector() as collector:
                collector.advertise([schedd], "Scheduler")
                if submitters:
                    collector.advertise(submitters, "Submitter")
                gone = self._advertised - names
                if gone:
                    collector.invalidate("Submitter", sorted(gone))
        except RoostError as error:
            self.log.warning("cannot update the collector: %s", error)
            return
        self._advertised = names

    def invalidate(self) -> None:
        try:
            with self._collector() as collector:
                collector.invalidate("Scheduler", [self.name])
                if self._advertised:
                    collector.invalidate("Submitter", sorted(self._advertised))
        except RoostError as error:
            self.log.warning("cannot withdraw the schedd's ads: %s", error)
