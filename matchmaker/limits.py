"""Concurrency limits: pool-wide counts of the jobs that use a named resource.

A pure core: no I/O, no clock. The negotiator builds a :class:`Limits` each cycle from its
configuration and from what running jobs hold, asks it whether a job may be matched, and
counts each match it makes.

Sources: reference §3.7 (``htcondor-semantics.md``); HTCondor's manual,
``admin-manual/cm-configuration`` "Concurrency Limits" and
``admin-manual/configuration/negotiator`` (``<NAME>_LIMIT``, ``CONCURRENCY_LIMIT_DEFAULT``,
``CONCURRENCY_LIMIT_DEFAULT_<NAME>``); the code at 7491a145f6: ``ParseConcurrencyLimit``
(``src/condor_utils/NegotiationUtils.cpp``), ``Accountant::GetLimitMax`` and ``LoadLimits``,
``Matchmaker::rejectForConcurrencyLimits`` (``src/condor_negotiator.V6``).

Decisions:

- A job's ``ConcurrencyLimits`` is a list separated by commas or white space. Each item is
  ``name`` or ``name:N``. Names are matched without regard to case and kept lower-cased.
  A name is made of letters, digits and ``_``, does not start with a digit, and holds at
  most one ``.`` (``set.member``). N is the job's weight, 1 by default. HTCondor's
  ``strtod`` accepts fractions, so roost does too. ⚠ A weight that is not a number above 0
  is a ValueError here. HTCondor silently counts such a weight as 1.
- The capacity of a name is the first of these that is set: ``<name>_LIMIT``, then
  ``CONCURRENCY_LIMIT_DEFAULT_<set>`` for a ``set.member`` name, then
  ``CONCURRENCY_LIMIT_DEFAULT`` (``GetLimitMax``).
- With none of them set, the name is **unlimited**. The manual says so: "If not defined,
  no limits are set for resources not explicitly identified using <NAME>_LIMIT"
  (negotiator.rst, ``CONCURRENCY_LIMIT_DEFAULT``; cm-configuration.rst says it too).
  ⚠ HTCondor's code has a finite default, 2308032 (``param_info.in``), which is unlimited
  for any real pool. Roost uses infinity.
- A job may be matched when, for each name it uses, the count in use plus the job's weight
  is at most the capacity (``count + increment > max`` refuses). A count below zero refuses
  as well. A name listed twice in one job is checked with its weights summed. HTCondor
  checks each item on its own, so such a job can overshoot the limit there.
- The counts in use come from the slots' ``ConcurrencyLimits`` (and
  ``PreemptingConcurrencyLimits``) and the negotiator's record of matched slots'
  ``MatchedConcurrencyLimits`` (``LoadLimits``). :func:`tally` adds such texts and skips
  malformed items, as HTCondor does. A match made in a cycle is counted with
  :meth:`Limits.take`.
- ``MatchedConcurrencyLimits`` is the job's text, lower-cased (matchmaker.cpp, ~5392).

Left out: ``concurrency_limits_expr``. That is an expression evaluated against the matched
slot. The negotiator evaluates it and hands the resulting text here. Also left out are the
negotiator's ``ConcurrencyLimit_<name>`` attributes for ``condor_userprio -l``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from matchmaker.groups import setting_number

UNLIMITED = math.inf

_SEPARATORS = re.compile(r"[,\s]+")
_NAME = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?")


@dataclass(frozen=True, slots=True)
class LimitUse:
    """One item of a job's ``ConcurrencyLimits``: a lower-case name and its weight."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of :meth:`Limits.allows`: true when the job may be matched; otherwise
    ``limit`` names the first limit that refuses and ``reason`` says why in one line."""

    allowed: bool
    reason: str = ""
    limit: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


JobLimits = str | Sequence[LimitUse]


def parse_limits(text: str) -> tuple[LimitUse, ...]:
    """Parse a ``ConcurrencyLimits`` value such as ``"XSW, DATABASE, FILESERVER:3"``."""
    return tuple(_parse_item(item) for item in _SEPARATORS.split(text.strip()) if item)


def tally(texts: Iterable[str]) -> dict[str, float]:
    """Counts in use from running jobs' limit texts. Malformed items are skipped."""
    counts: dict[str, float] = {}
    for text in texts:
        for item in _SEPARATORS.split(text.strip()):
            if not item:
                continue
            try:
                use = _parse_item(item)
            except ValueError:
                continue
            counts[use.name] = counts.get(use.name, 0.0) + use.weight
    return counts


def matched_text(job_limits: JobLimits) -> str:
    """The ``MatchedConcurrencyLimits`` of a match: the job's text, lower-cased."""
    if isinstance(job_limits, str):
        parse_limits(job_limits)
        return job_limits.lower()
    return ",".join(use.name if use.weight == 1 else f"{use.name}:{use.weight:g}"
                    for use in job_limits)


class Limits:
    """Capacities from the negotiator's configuration, and the counts in use."""

    __slots__ = ("_limits", "_default", "_set_defaults", "_in_use")

    def __init__(self, config: Mapping[str, float], default: float | None = None,
                 set_defaults: Mapping[str, float] | None = None,
                 in_use: Mapping[str, float] | None = None) -> None:
        """``config`` maps a name to its capacity (``XSW`` for ``XSW_LIMIT``);
        ``default`` is ``CONCURRENCY_LIMIT_DEFAULT`` (None: unset); ``set_defaults`` maps a
        set to ``CONCURRENCY_LIMIT_DEFAULT_<SET>``; ``in_use`` the counts held now."""
        self._limits = {_check_name(name, f"{name}_LIMIT"): _capacity(f"{name}_LIMIT", value)
                        for name, value in config.items()}
        self._default = (UNLIMITED if default is None
                         else _capacity("CONCURRENCY_LIMIT_DEFAULT", default))
        self._set_defaults: dict[str, float] = {}
        for name, value in (set_defaults or {}).items():
            key = f"CONCURRENCY_LIMIT_DEFAULT_{name}"
            if not _NAME.fullmatch(name.lower()) or "." in name:
                raise ValueError(f"{key}: {name!r} is not a limit set name")
            self._set_defaults[name.lower()] = _capacity(key, value)
        self._in_use: dict[str, float] = {}
        for name, count in (in_use or {}).items():
            low = _check_name(name, "in_use")
            if not math.isfinite(count):
                raise ValueError(f"in_use: count {count!r} of {name!r} is not a number")
            self._in_use[low] = self._in_use.get(low, 0.0) + float(count)

    @classmethod
    def from_config(cls, settings: Mapping[str, object],
                    in_use: Mapping[str, float] | None = None) -> Limits:
        """Read ``<NAME>_LIMIT``, ``CONCURRENCY_LIMIT_DEFAULT`` and
        ``CONCURRENCY_LIMIT_DEFAULT_<SET>`` from the negotiator's settings (keys without
        regard to case). Other keys are left to the rest of the negotiator."""
        limits: dict[str, float] = {}
        default: float | None = None
        set_defaults: dict[str, float] = {}
        for key, value in settings.items():
            if value is None:
                continue
            low = key.lower()
            if low == "concurrency_limit_default":
                default = _capacity(key, value)
            elif low.startswith("concurrency_limit_default_"):
                set_defaults[low[len("concurrency_limit_default_"):]] = _capacity(key, value)
            elif low.endswith("_limit"):
                limits[_check_name(low[: -len("_limit")], key)] = _capacity(key, value)
        return cls(limits, default, set_defaults, in_use)

    def capacity(self, name: str) -> float:
        """The capacity of a limit, ``UNLIMITED`` (infinity) when nothing sets one."""
        low = name.lower()
        if low in self._limits:
            return self._limits[low]
        head, dot, _ = low.rpartition(".")
        if dot and head in self._set_defaults:
            return self._set_defaults[head]
        return self._default

    def in_use(self, name: str) -> float:
        return self._in_use.get(name.lower(), 0.0)

    def allows(self, job_limits: JobLimits) -> Verdict:
        """Whether a job with these limits may be matched now."""
        for name, weight in _needs(job_limits).items():
            count = self.in_use(name)
            most = self.capacity(name)
            if count < 0:
                return Verdict(False, f"concurrency limit {name} is in use {count:g} times "
                                      f"(below 0)", name)
            if count + weight > most:
                return Verdict(False, f"concurrency limit {name} reached: {count:g} of "
                                      f"{most:g} in use, the job needs {weight:g}", name)
        return Verdict(True)

    def take(self, job_limits: JobLimits) -> None:
        """Count a match made in this cycle."""
        for name, weight in _needs(job_limits).items():
            self._in_use[name] = self.in_use(name) + weight

    matched_text = staticmethod(matched_text)


def _needs(job_limits: JobLimits) -> dict[str, float]:
    uses = parse_limits(job_limits) if isinstance(job_limits, str) else job_limits
    needs: dict[str, float] = {}
    for use in uses:
        name = use.name.lower()
        needs[name] = needs.get(name, 0.0) + use.weight
    return needs


def _parse_item(item: str) -> LimitUse:
    name, colon, weight_text = item.lower().partition(":")
    if not _NAME.fullmatch(name):
        raise ValueError(f"concurrency limit {item!r}: a name is letters, digits and _, "
                         f"not starting with a digit, with at most one '.'")
    if not colon:
        return LimitUse(name)
    try:
        weight = float(weight_text)
    except ValueError:
        raise ValueError(f"concurrency limit {item!r}: the weight is not a number") from None
    if not math.isfinite(weight) or weight <= 0:
        raise ValueError(f"concurrency limit {item!r}: the weight must be above 0")
    return LimitUse(name, weight)


def _check_name(name: str, key: str) -> str:
    low = name.lower()
    if not _NAME.fullmatch(low):
        raise ValueError(f"{key}: {name!r} is not a concurrency limit name")
    return low


# A limit may be infinite (unlimited).
_capacity = partial(setting_number, infinite=True)
