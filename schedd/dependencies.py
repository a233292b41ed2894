"""Dependencies between jobs: what a job's parents are, and what a parent's end makes of
the edge to its child.  Pure: no I/O, no clock, no database (``schedd.dependency_store``
keeps the edges in SQL and applies what is decided here).

A job names its parents in ``Parents`` (the submit command ``parents``, a roost
extension): whole clusters (``12``: one edge, however many procs the cluster has) or single
procs (``13.4``), as a string ``"12, 13.4"`` or a list.  ``ParentsSatisfiedBy`` says what a
parent's end must be to let the child go on: ``success`` (the default: completed, not by a
signal, with exit code 0 or the parent's ``JobSuccessExitCode``) or ``finished`` (any end:
completed, removed or blocked).  A whole-cluster edge is met when the last of the
cluster's procs has ended so; it fails as soon as one of them ends otherwise.

A child waits (``JobStatus.WAITING``) while an edge is pending, becomes Idle when all are
met, and is blocked (removed, ``BlockedBy`` naming the parent) when one fails: it could
never run, so it is not left waiting forever.  Blocking is itself an end that is not a
success, so a blocked job blocks its own children in turn (those that need success).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from classad import ClassAd, Value
from schedd.job_status import JobStatus

PARENTS = "Parents"
SATISFIED_BY = "ParentsSatisfiedBy"
SUCCESS, ANY_END = "success", "finished"

# An edge's state, as the job_edges table keeps it.
PENDING, MET, FAILED = 0, 1, 2

WHOLE_CLUSTER = -1  # an edge's parent_proc when the parent is a whole cluster

_ID = re.compile(r"^(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True, order=True, slots=True)
class Parent:
    """A cluster (``proc`` WHOLE_CLUSTER) or one proc that a job waits for."""

    cluster: int
    proc: int = WHOLE_CLUSTER

    def __str__(self) -> str:
        return str(self.cluster) if self.proc == WHOLE_CLUSTER else f"{self.cluster}.{self.proc}"


def parse_parents(value: object) -> list[Parent]:
    """The parents a ``Parents`` value names: a string of ids separated by commas or
    spaces, or a list of ids (strings or integers).  ValueError, in one line, for anything
    else; duplicates are kept once."""
    if isinstance(value, str):
        words = [word for word in re.split(r"[\s,]+", value.strip()) if word]
    elif isinstance(value, list | tuple):
        words = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise ValueError(f"Parents lists job ids, not {item!r}")
            words.append(str(item).strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        words = [str(value)]
    else:
        raise ValueError(f"Parents must name job ids (\"12, 13.4\"), not {value!r}")
    parents: list[Parent] = []
    for word in words:
        match = _ID.match(word)
        if match is None or int(match.group(1)) < 1:
            raise ValueError(f"Parents: {word!r} is not a job id (CLUSTER or CLUSTER.PROC)")
        proc = WHOLE_CLUSTER if match.group(2) is None else int(match.group(2))
        parent = Parent(int(match.group(1)), proc)
        if parent not in parents:
            parents.append(parent)
    if not parents:
        raise ValueError("Parents names no job")
    return parents


def parents_text(parents: Iterable[Parent]) -> str:
    """``Parents`` as the job ad carries it: ``"12, 13.4"``."""
    return ", ".join(str(parent) for parent in parents)


def need_success(ad: ClassAd) -> bool:
    """Whether the job's edges need their parents to succeed (``ParentsSatisfiedBy``)."""
    if SATISFIED_BY not in ad:
        return True
    value = ad.eval(SATISFIED_BY)
    if isinstance(value, str) and value.lower() in (SUCCESS, ANY_END):
        return value.lower() == SUCCESS
    raise ValueError(f"ParentsSatisfiedBy must be \"{SUCCESS}\" or \"{ANY_END}\", not "
                     f"{ad.lookup(SATISFIED_BY)}")


def succeeded(ad: ClassAd) -> bool:
    """Whether a job that ended did so with success: completed, not by a signal, with its
    ``JobSuccessExitCode`` (0 unless it says otherwise)."""
    if ad.eval("JobStatus") != JobStatus.COMPLETED or ad.eval("ExitBySignal") is True:
        return False
    success = ad.eval("JobSuccessExitCode") if "JobSuccessExitCode" in ad else 0
    if not isinstance(success, int) or isinstance(success, bool):
        success = 0
    return ad.eval("ExitCode") == success


def how_it_ended(ad: ClassAd) -> str:
    """A parent's end in a few words, for the blocked child's RemoveReason."""
    status = ad.eval("JobStatus")
    if status == JobStatus.REMOVED:
        blocker = ad.eval("BlockedBy")
        if isinstance(blocker, str) and blocker:
            return f"was blocked by {blocker}"
        return "was removed"
    if ad.eval("ExitBySignal") is True:
        return f"was killed by signal {_text(ad.eval('ExitSignal'))}"
    code = ad.eval("ExitCode")
    if isinstance(code, int) and not isinstance(code, bool):
        return f"exited with code {code}"
    return "did not succeed"


def edge_state(need: bool, outcomes: Iterable[bool | None]) -> int:
    """The state of an edge whose parent's procs ended so far as ``outcomes`` say (one
    per proc: True succeeded, False ended otherwise, None has not ended)."""
    pending = False
    for outcome in outcomes:
        if outcome is None:
            pending = True
        elif need and not outcome:
            return FAILED
    return PENDING if pending else MET


def _text(value: object) -> str:
    return "(unknown)" if value is Value.Undefined or value is None else str(value)
