"""Asking for a negotiation cycle when there is new work, as HTCondor's schedd sends
RESCHEDULE after a submit.

Whenever jobs become Idle (submitted, released, requeued after a run), the schedd's
Submitter ads are refreshed in the collector (so the negotiator sees the idle jobs) and the
negotiator is asked for a cycle.  A thread does it, so a submit is not kept waiting, and a
burst of changes costs one refresh and one request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from roost.errors import RoostError
from schedd.job_status import JobStatus

log = logging.getLogger("roost.schedd.reschedule")


class Rescheduler:
    def __init__(self, update_ads: Callable[[], None], reschedule: Callable[[], None]) -> None:
        self.update_ads = update_ads
        self.reschedule = reschedule
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedd:reschedule",
                                        daemon=True)
        self._thread.start()

    def changed(self, changes) -> None:
        """A queue listener: new idle work asks for a cycle."""
        if any(change.status == JobStatus.IDLE for change in changes):
            self._wanted.set()

    def kick(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stop.is_set():
                return
            self._wanted.clear()
            try:
                self.update_ads()
                self.reschedule()
            except RoostError as error:
                log.info("cannot ask the negotiator for a cycle: %s", error)
