"""The startd's slot ads in the collector.

A thread sends every change within a quarter of a second (a slot's state, what a
partitionable slot has left, the ads of dynamic slots as they come and go; changes that
come together go in one update) and all ads every update interval, each with
its private ad (the claim id, which only the negotiator reads).  The ads live three update
intervals in the collector, so a startd that dies without a word drops out of the pool
within that time; one that stops cleanly withdraws them.  A collector that cannot be
reached is logged and tried again at the next change or interval: the next update carries
everything anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from roost.errors import RoostError
from startd.startd import Startd

LIFETIME_UPDATES = 3  # an ad lives this many update intervals without an update
# Seconds a change waits for the changes that follow it: a slot running many short jobs
# changes state twice per job, and one update per burst does for the collector.
COALESCE = 0.25


class SlotAds:
    """Keeps ``startd``'s ads in the collector; ``collector()`` makes a client."""

    def __init__(self, startd: Startd, collector: Callable, *, interval: float,
                 log: logging.Logger) -> None:
        self.startd = startd
        self.collector = collector
        self.interval = interval
        self.log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="startd:ads", daemon=True)
        self._advertised: set[str] = set()

    def start(self) -> None:
        self.send(self.startd.ads(), [])
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and withdraw every ad."""
        self._stop.set()
        self._thread.join(10)
        names = sorted(self._advertised | {ad.eval("Name") for ad, _ in self.startd.ads()})
        try:
            with self.collector() as collector:
                collector.invalidate("Machine", names)
        except RoostError as error:
            self.log.warning("cannot withdraw the slots' ads: %s", error)

    def _run(self) -> None:
        last_full = time.monotonic()
        while not self._stop.is_set():
            wait = max(0.0, last_full + self.interval - time.monotonic())
            changed, gone = self.startd.take_updates(min(wait, 1.0))
            if self._stop.is_set():
                return
            if (changed or gone) and self._stop.wait(COALESCE):
                return
            changed, gone = _merge(changed, gone, *self.startd.take_updates(0))
            if time.monotonic() - last_full >= self.interval:
                changed, last_full = self.startd.ads(), time.monotonic()
            if changed or gone:
                self.send(changed, gone)

    def send(self, changed, gone: list[str]) -> None:
        """Advertise ``changed`` (public, private) ads and withdraw the ``gone`` names."""
        try:
            with self.collector() as collector:
                if changed:
                    collector.advertise([ad for ad, _ in changed], "Machine",
                                        private=[private for _, private in changed])
                if gone:
                    collector.invalidate("Machine", gone)
        except RoostError as error:
            self.log.warning("cannot update the collector: %s", error)
            return
        self._advertised |= {ad.eval("Name") for ad, _ in changed}
        self._advertised -= set(gone)


def _merge(changed, gone, later_changed, later_gone):
    """Two batches of updates as one: the later state of each slot wins."""
    ads = {ad.eval("Name"): (ad, private) for ad, private in changed}
    removed = set(gone)
    for ad, private in later_changed:
        ads[ad.eval("Name")] = (ad, private)
        removed.discard(ad.eval("Name"))
    for name in later_gone:
        ads.pop(name, None)
        removed.add(name)
    return list(ads.values()), sorted(removed)
