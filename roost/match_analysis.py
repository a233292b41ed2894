"""Why a job does (not) run: ``roost analyze`` and ``roost q -better-analyze``, pure.

From the job's ad, the pool's slot ads and what the negotiator recorded for the job's
autocluster in its last cycle, ``analyze`` says, for an idle job:

- how many slots the pool has; how many the job's Requirements reject, clause by clause
  (each top-level ``&&`` clause tested alone: which rejects how many);
- of the slots the job accepts, how many reject it by their own Requirements (their START,
  or too few resources left: WithinResourceLimits);
- of the slots that match both ways, how many are claimed by others and how many are free;
- what the negotiator found in its last cycle (it may have seen other slots, or the owner's
  fair share may have run out), and the owner's priority;

and it suggests the clause to relax when nothing can ever run the job.  A held job gets its
hold reason, a running job where it runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import classad
from classad import ClassAd, requirements_hold

_STATUS = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held",
           6: "transferring output", 7: "suspended"}


@dataclass(frozen=True)
class Record:
    """The negotiator's last word on the job's autocluster (from its Analyze call)."""

    time: int
    considered: int
    rejected_by_job: int
    rejected_by_slot: int
    claimed: int
    matched: int
    over_share: bool
    reason: str
    user_priority: float


@dataclass(frozen=True)
class ClauseCount:
    clause: str
    rejects: int


@dataclass(frozen=True)
class Counts:
    slots: int
    rejected_by_job: int
    clauses: list[ClauseCount]
    rejected_by_start: int
    rejected_by_resources: int
    claimed: int
    free: int


def count(job: ClassAd, slots: Sequence[ClassAd]) -> Counts:
    """The job against every slot (see the module's docstring)."""
    clauses = classad.conjuncts(job.lookup("Requirements")) if "Requirements" in job else []
    rejects = [0] * len(clauses)
    by_job = by_start = by_resources = claimed = free = 0
    for slot in slots:
        if not requirements_hold(job, slot):
            by_job += 1
            for i, clause in enumerate(clauses):
                if clause.eval(my=job, target=slot) is not True:
                    rejects[i] += 1
            continue
        if not requirements_hold(slot, job):
            start = classad.ExprTree("START").eval(my=slot, target=job)
            if start is not True:
                by_start += 1
            else:
                by_resources += 1
            continue
        if slot.eval("State") == "Unclaimed":
            free += 1
        else:
            claimed += 1
    counted = [ClauseCount(str(clause), n) for clause, n in zip(clauses, rejects, strict=True)]
    return Counts(len(slots), by_job, counted, by_start, by_resources, claimed, free)


def matches_any(job: ClassAd, slots: Sequence[ClassAd]) -> bool:
    """Whether some slot and the job accept each other (free or not)."""
    return any(requirements_hold(job, slot) and requirements_hold(slot, job) for slot in slots)


def analyze(job: ClassAd, slots: Sequence[ClassAd], record: Record | None = None, *,
            now: float | None = None) -> list[str]:
    """The report's lines."""
    job_id = f"{job.eval('ClusterId')}.{job.eval('ProcId')}"
    status = job.eval("JobStatus")
    word = _STATUS.get(status, "in an unknown state") if isinstance(status, int) else "?"
    lines = [f"Job {job_id} is {word}."]
    if status == 5:
        reason = job.eval("HoldReason")
        code = job.eval("HoldReasonCode")
        lines.append(f"Hold reason: {reason if isinstance(reason, str) else 'unknown'}"
                     + (f" (code {code})" if isinstance(code, int) else ""))
        lines.append(f"Release it with 'roost release {job_id}' once the cause is fixed.")
        return lines
    if status in (2, 7):
        host = job.eval("RemoteHost")
        lines.append(f"It runs on {host}." if isinstance(host, str) else "")
        return [line for line in lines if line]
    if status != 1:
        return lines
    retry_after = job.eval("RetryAfter")
    current = time.time() if now is None else now
    if isinstance(retry_after, int | float) and retry_after > current:
        lines.append(f"It waits out its retry back-off: it may run again in "
                     f"{int(retry_after - current)} s.")
    counts = count(job, slots)
    lines += _pool_lines(counts)
    if record is not None:
        lines += _record_lines(record, current)
    lines += _advice(counts, record)
    return lines


def _pool_lines(counts: Counts) -> list[str]:
    lines = [f"The pool has {counts.slots} slot(s) now."]
    if not counts.slots:
        return lines
    lines.append(f"  {counts.rejected_by_job} are rejected by the job's Requirements")
    for clause in counts.clauses:
        if clause.rejects:
            lines.append(f"    {clause.clause}: rejects {clause.rejects}")
    lines.append(f"  {counts.rejected_by_start} reject the job by their START policy")
    lines.append(f"  {counts.rejected_by_resources} have too few resources left for it "
                 "(RequestCpus, RequestMemory, RequestDisk)")
    lines.append(f"  {counts.claimed} would run it but are claimed")
    lines.append(f"  {counts.free} would run it and are free")
    return lines


def _record_lines(record: Record, now: float) -> list[str]:
    ago = max(0, int(now - record.time))
    lines = [f"The negotiator's last cycle for this job ({ago} s ago): "
             f"{record.considered} slots considered, {record.rejected_by_job} rejected by "
             f"the job, {record.rejected_by_slot} rejected it, {record.claimed} claimed, "
             f"{record.matched} matched."]
    if record.over_share:
        lines.append("The owner's fair share of the pool was used up in that cycle.")
    elif record.reason:
        lines.append(f"Jobs of it got no slot: {record.reason}.")
    lines.append(f"The owner's effective priority is {record.user_priority:.2f} "
                 "(lower is better).")
    return lines


def _advice(counts: Counts, record: Record | None) -> list[str]:
    if counts.free:
        return ["Slots are free that would run it: it should start at the next "
                "negotiation cycle."]
    if counts.claimed:
        return ["Every slot that would run it is busy: it waits for one to free up."]
    if not counts.slots:
        return ["No slot is in the pool: start a startd ('roost startd' or 'roost pool "
                "up')."]
    lines = ["No slot in the pool can run this job as it is."]
    worst = max(counts.clauses, key=lambda clause: clause.rejects, default=None)
    if counts.rejected_by_job and worst is not None and worst.rejects:
        if "request" in worst.clause.lower():
            lines.append(f"'{worst.clause}' rejects {worst.rejects} of {counts.slots} "
                         "slots: consider asking for fewer resources (request_cpus, "
                         "request_memory, request_disk).")
        else:
            lines.append(f"Consider relaxing '{worst.clause}' in its Requirements: it "
                         f"rejects {worst.rejects} of {counts.slots} slots.")
    elif counts.rejected_by_resources:
        lines.append("Consider asking for fewer resources (request_cpus, request_memory, "
                     "request_disk).")
    elif counts.rejected_by_start:
        lines.append("The machines' owners do not let it start (their START policy).")
    return lines
