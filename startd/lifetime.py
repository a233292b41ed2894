"""When a startd with a limited life stops: glide-ins inside batch allocations.

Pure: the shell hands in the clock and what the slots are doing, and gets a verdict.

A glide-in knows when its allocation ends (``--lifetime`` seconds from its start, or the
batch job's end time, Slurm's ``SLURM_JOB_END_TIME``).  It must be gone, with its jobs
vacated and its ads withdrawn, before the batch system kills it, so it stops ``margin``
seconds before the end (``to_die``, advertised as ``GLIDEIN_ToDie``); the glidein policy's
START refuses jobs whose ``MaxRuntime`` does not fit before then and takes none in its last
``RetireMargin`` (``startd.policy.glidein``).  A glide-in that has had no claim for
``idle_timeout`` seconds gives its allocation back, as glideinWMS's
``STARTD_NOCLAIM_SHUTDOWN`` does: the idle time counts from the start, and from the end of
the last claim.  A claim that is kept between jobs (claim reuse) is not idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# Seconds before the end of the allocation at which a glide-in vacates and leaves: enough
# for the jobs' soft kill and the ads' withdrawal before the batch system's own signals.
DEFAULT_MARGIN = 60


class Verdict(Enum):
    RUN = "run"
    IDLE_TIMEOUT = "no claim within the idle timeout"
    END = "the allocation is about to end"


@dataclass(frozen=True)
class Lifetime:
    """``end``: epoch seconds at which the allocation ends (None: unknown); ``idle_timeout``:
    seconds without a claim after which to leave (None: never)."""

    started: float
    end: float | None = None
    idle_timeout: float | None = None
    margin: float = DEFAULT_MARGIN

    @classmethod
    def of(cls, started: float, *, lifetime: float | None = None,
           allocation_end: float | None = None, idle_timeout: float | None = None,
           margin: float = DEFAULT_MARGIN) -> Lifetime:
        """``lifetime`` (seconds from ``started``) wins over the allocation's end, except
        that a glide-in never outlives its allocation."""
        ends = [end for end in (allocation_end,
                                None if lifetime is None else started + lifetime)
                if end is not None]
        for name, value in (("lifetime", lifetime), ("idle timeout", idle_timeout),
                            ("margin", margin)):
            if value is not None and value < 0:
                raise ValueError(f"the {name} must not be negative, not {value}")
        return cls(started, min(ends) if ends else None, idle_timeout, margin)

    @property
    def to_die(self) -> int | None:
        """When the startd will have left (``GLIDEIN_ToDie``), or None."""
        if self.end is None:
            return None
        return int(max(self.started, self.end - self.margin))

    def verdict(self, now: float, *, claimed: bool, last_claim_end: float | None) -> Verdict:
        """Whether to go on at ``now``, given whether any slot is claimed and when the last
        claim ended (None: there has been none)."""
        to_die = self.to_die
        if to_die is not None and now >= to_die:
            return Verdict.END
        if self.idle_timeout is not None and not claimed:
            idle_since = self.started if last_claim_end is None else last_claim_end
            if now - idle_since >= self.idle_timeout:
                return Verdict.IDLE_TIMEOUT
        return Verdict.RUN
