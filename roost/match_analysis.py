"""Why a job does (not) run: ``roost analyze`` and ``roost q -better-analyze``, pure.

From the job's ad, the pool's slot ads and what the negotiator recorded for the job's
autocluster in its last cycle, ``analyze`` says, for an idle job:

- how many slots the pool has; how many the job's Requirements reject, clause by clause
  (each top-level ``&&`` clause tested alone: which rejects how many);
- of the slots the job accepts, how many reject it by their own Requirements (their START,
  or too few resources left: WithinResourceLimits);
- of the slots that match both ways, how many are free (Unclaimed) and how many are in
  each other state (Owner, Matched, Claimed, Preempting, Drained);
- what the negotiator found in its last cycle (it may have seen other slots, or the owner's
  fair share may have run out), and the owner's priority;

and it suggests the clause to relax when nothing can ever run the job.  A held job gets its
hold reason, a running job where it runs.

A slot in the Owner state takes no job: its IS_OWNER (by default ``START =?= False``) is
true, evaluated without a job.  ``owner_reason`` says why, and what to write instead when
START compares an attribute of the job with ``=?=`` (``TARGET.Project =?= "physics"`` is
False without a job, ``TARGET.Project == "physics"`` UNDEFINED); ``roost analyze`` and the
startd, at start, both say it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import classad
from classad import ClassAd, ExprTree, Value, requirements_hold
from roost.ad_format import old_syntax

_STATUS = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held",
           6: "transferring output", 7: "suspended"}
_FREE = "Unclaimed"
# A matching slot that is not free, by its State, in the order they are reported.
_UNAVAILABLE = {
    "Owner": "would run it but are in the Owner state (they take no job)",
    "Matched": "would run it but are matched to another job (Matched)",
    "Claimed": "would run it but are claimed",
    "Preempting": "would run it but are preempting their job (Preempting)",
    "Drained": "would run it but are drained (Drained)",
    "Backfill": "would run it but run backfill work (Backfill)",
}
# Why == rather than =?= on the job's attributes.
PLAIN_COMPARISON_WHY = ("without a job it is UNDEFINED rather than False, so the slot "
                        "leaves the Owner state, and a job lacking the attribute still "
                        "does not match")
_START = ExprTree("START")
_IS_OWNER = ExprTree("IS_OWNER")


@dataclass(frozen=True)
class Record:
    """The negotiator's last word on the job's autocluster (from its Analyze call)."""

    time: int
    considered: int
    rejected_by_job: int
    rejected_by_slot: int
    unavailable: Mapping[str, int]  # would match, but are not Unclaimed: how many per State
    matched: int
    over_share: bool
    reason: str
    user_priority: float


@dataclass(frozen=True)
class OwnerReason:
    """Why a slot is in the Owner state, and what to write instead."""

    why: str  # "START is False without a job (START = ...), so IS_OWNER is true (...)"
    advice: tuple[str, ...]  # "write X == Y rather than X =?= Y", one per such comparison


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
    unavailable: dict[str, int]  # matching slots that are not free, per State
    free: int
    owners: dict[OwnerReason, list[str]] = field(default_factory=dict)  # -> slot names


def count(job: ClassAd, slots: Sequence[ClassAd]) -> Counts:
    """The job against every slot (see the module's docstring)."""
    clauses = classad.conjuncts(job.lookup("Requirements")) if "Requirements" in job else []
    rejects = [0] * len(clauses)
    by_job = by_start = by_resources = free = 0
    unavailable: dict[str, int] = {}
    owners: dict[OwnerReason, list[str]] = {}
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
        state = slot.eval("State")
        state = state if isinstance(state, str) else "Unknown"
        if state == _FREE:
            free += 1
            continue
        unavailable[state] = unavailable.get(state, 0) + 1
        if state == "Owner" and (reason := owner_reason(slot)) is not None:
            name = slot.eval("Name")
            owners.setdefault(reason, []).append(name if isinstance(name, str) else "?")
    counted = [ClauseCount(str(clause), n) for clause, n in zip(clauses, rejects, strict=True)]
    return Counts(len(slots), by_job, counted, by_start, by_resources, unavailable, free,
                  owners)


def owner_reason(slot: ClassAd) -> OwnerReason | None:
    """Why ``slot`` is in the Owner state: its IS_OWNER is true evaluated without a job
    (every reference to the job UNDEFINED), by default because START is False so; None
    when IS_OWNER is not true.  The advice rewrites each ``=?=`` of START that compares an
    attribute of the job with something other than UNDEFINED: with ``==`` it is UNDEFINED
    without a job, so START no longer keeps the slot in the Owner state, and a job gets
    the same answer as before (one that lacks the attribute still does not match)."""
    if _IS_OWNER.eval(my=slot) is not True:
        return None
    is_owner = f"IS_OWNER = {old_syntax(slot.lookup('IS_OWNER'))}"
    if _START.eval(my=slot) is not False:
        return OwnerReason(f"IS_OWNER is true without a job ({is_owner})", ())
    start = slot.lookup("START")
    advice = []
    for comparison in classad.meta_comparisons(start):
        if (comparison.operator != "=?=" or not slot.external_refs(comparison.expr)
                or _is_undefined(comparison.left) or _is_undefined(comparison.right)):
            continue
        left, right = old_syntax(comparison.left), old_syntax(comparison.right)
        advice.append(f"write {left} == {right} rather than {left} =?= {right}")
    return OwnerReason(f"START is False without a job (START = {old_syntax(start)}), so "
                       f"IS_OWNER is true ({is_owner})", tuple(advice))


def owner_warnings(slots: Sequence[ClassAd]) -> list[str]:
    """What a startd says at start of its slots in the Owner state that ``owner_reason``
    explains: why they run no job and what to write instead, one line per reason."""
    names: dict[OwnerReason, list[str]] = {}
    for slot in slots:
        if slot.eval("State") == "Owner" and (reason := owner_reason(slot)) is not None:
            names.setdefault(reason, []).append(str(slot.eval("Name")))
    return [f"{_names(found)}: {reason.why}; {'it stays' if len(found) == 1 else 'they stay'} "
            "in the Owner state and run no job."
            + "".join(f" {advice[0].upper()}{advice[1:]}: {PLAIN_COMPARISON_WHY}."
                      for advice in reason.advice)
            for reason, found in names.items()]


def _is_undefined(expr: ExprTree) -> bool:
    """Whether ``expr`` is the literal UNDEFINED (``x =?= UNDEFINED`` is meant so)."""
    return not ClassAd().external_refs(expr) and expr.eval() is Value.Undefined


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
    lines += [f"  {n} {_UNAVAILABLE.get(state, f'would run it but are {state}')}"
              for state, n in _by_state(counts.unavailable, always="Claimed")]
    lines.append(f"  {counts.free} would run it and are free")
    return lines


def _by_state(unavailable: Mapping[str, int], always: str = "") -> list[tuple[str, int]]:
    """The states with slots, in the order of ``_UNAVAILABLE`` (others after), and
    ``always`` even when it has none."""
    order = {state: i for i, state in enumerate(_UNAVAILABLE)}
    counted = {**({always: 0} if always else {}), **unavailable}
    return sorted(((state, n) for state, n in counted.items() if n or state == always),
                  key=lambda item: (order.get(item[0], len(order)), item[0]))


def _record_lines(record: Record, now: float) -> list[str]:
    ago = max(0, int(now - record.time))
    states = ", ".join(f"{n} {'claimed' if state == 'Claimed' else f'in the {state} state'}"
                       for state, n in _by_state(record.unavailable, always="Claimed"))
    lines = [f"The negotiator's last cycle for this job ({ago} s ago): "
             f"{record.considered} slots considered, {record.rejected_by_job} rejected by "
             f"the job, {record.rejected_by_slot} rejected it, {states}, "
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
    lines = _owner_lines(counts)
    if counts.unavailable.get("Drained"):
        lines.append("Drained slots take no job until their drain is cancelled.")
    busy = sum(counts.unavailable.get(state, 0) for state in ("Matched", "Claimed",
                                                              "Preempting", "Backfill"))
    if busy:
        lines.append("The other slots that would run it are busy: it waits for one to free "
                     "up." if lines else
                     "Every slot that would run it is busy: it waits for one to free up.")
    if lines:
        return lines
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


def _owner_lines(counts: Counts) -> list[str]:
    """Why the matching slots in the Owner state take no job, and what to write instead."""
    lines = []
    for reason, names in counts.owners.items():
        one = len(names) == 1
        lines.append(f"{_names(names)} would run it but {'is' if one else 'are'} in the "
                     f"Owner state, taking no job: {reason.why}.")
        lines += [f"  {advice[0].upper()}{advice[1:]}: {PLAIN_COMPARISON_WHY}."
                  for advice in reason.advice]
    unexplained = counts.unavailable.get("Owner", 0) - sum(map(len, counts.owners.values()))
    if unexplained:
        lines.append(f"{unexplained} slot(s) that would run it are in the Owner state: "
                     "their owners' policy keeps jobs off them for now.")
    return lines


def _names(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:3])
    return shown if len(names) <= 3 else f"{shown} and {len(names) - 3} more"
