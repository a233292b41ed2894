"""A DAG node's course, as DAGMan runs one: pure decisions, no I/O, no clock, no database
(``schedd.dag_store`` keeps the nodes in SQL and applies what is decided here).

A node goes WAITING (a parent has not ended) -> READY (its parents succeeded; it waits for
a throttle) -> PRE (its PRE script runs) -> QUEUED (its job is in the queue) -> POST (its
POST script runs) -> DONE or FAILED; BLOCKED when a parent failed, REMOVED by ``roost dag
rm``, ABORTED when ABORT-DAG-ON stopped the DAG.  As HTCondor's manual has it
(``node-pass-or-fail.rst``): the exit value of whatever part of the node ran last decides
its success (a PRE script that fails fails the node without running its job; a POST
script's exit decides the node whatever its job did); a failed node with retries left
runs again whole (PRE, job, POST) unless its value is RETRY's UNLESS-EXIT; and an
ABORT-DAG-ON value ends the DAG whatever the retries (from a PRE script, from the job when
the node has no POST script, or from the POST script).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from classad import ClassAd
from schedd.dependencies import succeeded
from schedd.job_status import JobStatus

WAITING, READY, PRE, QUEUED, POST = "waiting", "ready", "pre", "queued", "post"
DONE, FAILED, BLOCKED, REMOVED, ABORTED = "done", "failed", "blocked", "removed", "aborted"
ENDED = frozenset({DONE, FAILED, BLOCKED, REMOVED, ABORTED})
NOT_STARTED = frozenset({WAITING, READY, PRE})
# What a DAG's MAXJOBS and its categories' MAXJOBS count: nodes under way.
UNDER_WAY = frozenset({PRE, QUEUED})

# A DAG's status.
RUNNING, SUCCEEDED = "running", "succeeded"  # and FAILED, ABORTED, REMOVED

# DAGMan's $RETURN for a job removed from the queue by something else than itself, and for
# a node whose job did not run because its PRE script failed.
REMOVED_RETURN = -1002
PRE_FAILED_RETURN = -1004

# Macros a script's arguments may be (each a whole argument, as in DAGMan).
SCRIPT_MACROS = ("$JOB", "$RETRY", "$MAX_RETRIES", "$JOBID", "$RETURN", "$PRE_SCRIPT_RETURN",
                 "$DAG_STATUS", "$FAILED_COUNT")


@dataclass(frozen=True)
class Script:
    executable: str
    arguments: tuple[str, ...] = ()
    defer_status: int | None = None
    defer_time: int = 0
    debug_file: str = ""
    debug_type: str = ""

    def text(self) -> str:
        """How the node's row keeps it."""
        return json.dumps({"executable": self.executable, "arguments": list(self.arguments),
                           "defer_status": self.defer_status, "defer_time": self.defer_time,
                           "debug_file": self.debug_file, "debug_type": self.debug_type})

    @classmethod
    def from_text(cls, text: str) -> Script | None:
        if not text:
            return None
        found = json.loads(text)
        return cls(found["executable"], tuple(found["arguments"]), found["defer_status"],
                   found["defer_time"], found["debug_file"], found["debug_type"])

    @classmethod
    def from_ad(cls, ad: object) -> Script | None:
        """From the nested ad a DAG submit sends (``Executable``, ``Arguments``, ...)."""
        if not isinstance(ad, ClassAd):
            return None
        arguments = ad.eval("Arguments") if "Arguments" in ad else []
        defer = ad.eval("DeferStatus") if "DeferStatus" in ad else None
        return cls(str(ad.eval("Executable")),
                   tuple(str(a) for a in arguments) if isinstance(arguments, list) else (),
                   defer if isinstance(defer, int) else None,
                   _int(ad, "DeferTime"), _str(ad, "DebugFile"), _str(ad, "DebugType"))

    def ad(self) -> ClassAd:
        ad = ClassAd({"Executable": self.executable, "Arguments": list(self.arguments)})
        if self.defer_status is not None:
            ad["DeferStatus"] = self.defer_status
            ad["DeferTime"] = self.defer_time
        if self.debug_file:
            ad["DebugFile"] = self.debug_file
            ad["DebugType"] = self.debug_type
        return ad


@dataclass(frozen=True)
class Rules:
    """What the DAG file says of one node's ending."""

    max_retries: int = 0
    retries: int = 0  # used so far
    unless_exit: int | None = None
    abort_value: int | None = None
    abort_return: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What becomes of a node whose last part ended with ``value``: ``phase`` DONE, FAILED
    or READY (to run again: a retry), or the DAG aborts (``abort`` True, with the DAG's
    return value ``dag_return``)."""

    phase: str
    value: int
    abort: bool = False
    dag_return: int | None = None
    reason: str = ""


def decide(rules: Rules, success: bool, value: int, part: str) -> Outcome:
    """The node's outcome when its ``part`` ("PRE script", "job", "POST script") ended
    with ``value`` (success or not)."""
    if rules.abort_value is not None and value == rules.abort_value:
        returned = rules.abort_return if rules.abort_return is not None else value
        return Outcome(FAILED if not success else DONE, value, abort=True,
                       dag_return=returned,
                       reason=f"its {part} returned {value}: ABORT-DAG-ON")
    if success:
        return Outcome(DONE, value)
    why = f"its {part} returned {value}"
    if rules.retries < rules.max_retries and value != rules.unless_exit:
        return Outcome(READY, value, reason=f"{why}; retry {rules.retries + 1} of "
                                           f"{rules.max_retries}")
    if rules.max_retries and value == rules.unless_exit:
        why += " (RETRY's UNLESS-EXIT)"
    elif rules.max_retries:
        why += f" after {rules.retries} retries"
    return Outcome(FAILED, value, reason=why)


def job_return(ads: Iterable[ClassAd]) -> tuple[bool, int]:
    """Whether a node's jobs (every proc of its cluster, ended) succeeded, and the value
    that is its ``$RETURN``: the first failed proc's exit code, minus its signal, or -1002
    for one removed; 0 when all succeeded."""
    for ad in ads:
        if succeeded(ad):
            continue
        if ad.eval("JobStatus") == JobStatus.REMOVED:
            return False, REMOVED_RETURN
        if ad.eval("ExitBySignal") is True:
            signal = ad.eval("ExitSignal")
            return False, -signal if isinstance(signal, int) else REMOVED_RETURN
        code = ad.eval("ExitCode")
        return False, code if isinstance(code, int) and not isinstance(code, bool) else 1
    return True, 0


def script_argv(script: Script, macros: Mapping[str, object]) -> list[str]:
    """The script's command line, each argument that is a macro (``$JOB``...) replaced."""
    return [script.executable] + [str(macros[a]) if a in macros else a
                                  for a in script.arguments]


@dataclass(frozen=True)
class Candidate:
    cluster_id: int
    category: str
    procs: int


def admit(ready: Sequence[Candidate], *, under_way: int, idle: int,
          per_category: Mapping[str, int], max_jobs: int, max_idle: int,
          limits: Mapping[str, int]) -> list[int]:
    """Which of the ``ready`` nodes (in the order they would start) may start now: no
    more than ``max_jobs`` nodes under way in the DAG (0: no limit), no more than
    ``max_idle`` idle jobs, no category over its MAXJOBS.  A node is never admitted past
    a limit; one kept back by its category does not keep back the others."""
    admitted = []
    counts = dict(per_category)
    for node in ready:
        if max_jobs and under_way >= max_jobs:
            break
        if max_idle and idle >= max_idle:
            break
        limit = limits.get(node.category) if node.category else None
        if limit is not None and counts.get(node.category, 0) >= limit:
            continue
        admitted.append(node.cluster_id)
        under_way += 1
        idle += node.procs
        if node.category:
            counts[node.category] = counts.get(node.category, 0) + 1
    return admitted


def _int(ad: ClassAd, name: str) -> int:
    value = ad.eval(name) if name in ad else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(ad: ClassAd, name: str) -> str:
    value = ad.eval(name) if name in ad else ""
    return value if isinstance(value, str) else ""
