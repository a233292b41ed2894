"""Pilots as the batch system and the pool see them, side by side.

Pure: ``join(jobs, slots, now)`` pairs each batch job (``startd.glidein.slurm.BatchJob``)
with the slot ads that carry its id (``GLIDEIN_BatchJobId``) and says what the pilot is:

- ``queued``: the batch system has not started it (PENDING, CONFIGURING, ...).
- ``busy``: running, with slots in the pool, at least one of them claimed: useful.
- ``idle``: running, with slots in the pool, none claimed: it waits for work and will give
  its allocation back after its idle timeout (``roost glidein cancel --idle-only`` ends it
  now).
- ``lost``: running in the batch system with no ads in the pool (its startds could not
  start or cannot reach the collector: see its output file; a pilot shows so for the
  second or two its startds take to start, too), or ads in the pool of a pilot
  the batch system no longer runs (killed without withdrawing them: the collector drops
  them when their lifetime runs out, and the negotiator may match them until then).
- ``ended``: gone from both (Slurm's state word says how it ended).

A slot ad counts as claimed when its ``State`` is ``Claimed`` (a partitionable slot stays
Unclaimed while its dynamic slots run jobs; those are ads of their own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

QUEUED, BUSY, IDLE, LOST, ENDED = "queued", "busy", "idle", "lost", "ended"
# Slurm's states of a job that has not started, and of one that still runs.
WAITING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD",
                            "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED"})
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"})


@dataclass(frozen=True)
class SlotView:
    """What the status needs of one slot ad."""

    name: str
    batch_job_id: str
    state: str  # Unclaimed, Claimed, Owner, ...
    to_die: int | None  # GLIDEIN_ToDie, epoch seconds


@dataclass(frozen=True)
class PilotRow:
    job_id: str
    batch_state: str  # Slurm's word, or "-" when the batch system does not list the job
    nodes: int
    time_left: int | None  # the batch system's, seconds
    slots: int  # ads in the pool
    claimed: int
    lifetime_left: int | None  # the least GLIDEIN_ToDie - now over its ads, seconds
    status: str  # QUEUED, BUSY, IDLE, LOST or ENDED


def join(jobs: Iterable, slots: Iterable[SlotView], now: float) -> list[PilotRow]:
    """One row per pilot known to either side, batch jobs first in their order."""
    by_job: dict[str, list[SlotView]] = {}
    for slot in slots:
        by_job.setdefault(slot.batch_job_id, []).append(slot)
    rows = []
    for job in jobs:
        ads = by_job.pop(job.job_id, [])
        rows.append(_row(job.job_id, job.state, job.nodes, job.time_left, ads, now))
    for job_id, ads in by_job.items():  # ads of pilots the batch system does not list
        rows.append(_row(job_id, "-", 0, None, ads, now))
    return rows


def _row(job_id: str, state: str, nodes: int, time_left: int | None, ads: list[SlotView],
         now: float) -> PilotRow:
    claimed = sum(1 for ad in ads if ad.state.lower() == "claimed")
    deaths = [ad.to_die for ad in ads if ad.to_die is not None]
    lifetime_left = max(0, int(min(deaths) - now)) if deaths else None
    if state in WAITING_STATES:
        status = LOST if ads else QUEUED
    elif state in RUNNING_STATES:
        status = (BUSY if claimed else IDLE) if ads else LOST
    else:  # ended, or unknown to the batch system
        status = LOST if ads else ENDED
    return PilotRow(job_id, state, nodes, time_left, len(ads), claimed, lifetime_left,
                    status)


def format_rows(rows: list[PilotRow]) -> str:
    """The table ``roost glidein status`` prints, with a totals line."""
    header = ("BATCH_ID", "BATCH_STATE", "NODES", "TIME_LEFT", "SLOTS", "CLAIMED",
              "LIFE_LEFT", "STATUS")
    table = [header] + [(row.job_id, row.batch_state, str(row.nodes or "-"),
                         _duration(row.time_left), str(row.slots), str(row.claimed),
                         _duration(row.lifetime_left), row.status) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
             .rstrip() for line in table]
    counts = {status: sum(1 for row in rows if row.status == status)
              for status in (QUEUED, BUSY, IDLE, LOST, ENDED)}
    lines.append("pilots: " + (", ".join(f"{count} {status}" for status, count
                                         in counts.items() if count) or "none"))
    return "\n".join(lines)


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
