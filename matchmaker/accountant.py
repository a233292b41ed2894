"""The negotiator's accountant: user priorities as HTCondor computes them.

Pure state: no I/O and no clock (``now`` is an argument); ``matchmaker.accountant_store``
persists it.  The semantics are HTCondor's (reference/htcondor-semantics.md section 3.4;
HTCondor manual, admin-manual/cm-configuration.rst, "User Priorities and Negotiation" and
"Priority Calculation"; ``src/condor_negotiator.V6/Accountant.cpp``, ``UpdatePriorities``):

- A submitter is named as the negotiator names it: ``owner@uid_domain``, or the
  ``accounting_group_user`` name (``group.user@domain``).  Names are kept as given.
- Real user priority (RUP): at every update, with ``δt`` the time since the previous one
  and ``h`` the half-life (``PRIORITY_HALFLIFE``, default 86400 s),
  ``β = 0.5 ** (δt / h)`` and ``RUP = β·RUP + (1 − β)·ρ``, where ρ is the slot weight
  (cores) the submitter has in use now; a submitter not named in an update has 0 in use.
  With nothing in use the RUP halves every half-life; with ρ held steady it approaches ρ.
- The RUP never goes below ``MIN_PRIORITY`` (0.5), which is also where a new submitter
  starts (``MinPriority`` in Accountant.cpp).
- Effective user priority ``EUP = RUP × factor``; the factor defaults to
  ``DEFAULT_PRIO_FACTOR`` = 1000 (HTCondor's current default; old versions had 1) and
  is set per submitter with ``condor_userprio -setfactor`` to a value of at least 1
  (``MIN_PRIORITY_FACTOR``).
  A lower EUP is better, and a submitter's share of the pool is inversely proportional
  to its EUP (EUP 5 gets twice the share of EUP 10); the negotiator
  (``matchmaker.negotiation``) divides the pool, the accountant gives it the EUPs.
- Usage accumulates in weighted (core) hours, ``condor_userprio``'s "Total Usage
  (Weighted hours)".  The interval just ended is charged with what was in use at its
  start (the ``in_use`` of the previous update): HTCondor charges the resources held
  during the interval, and the snapshot taken at its start is what was held.
- ``begin_usage`` is the first update at which the submitter held resources (again after
  ``reset_usage``), ``last_usage`` the last update at which it held any, during the
  interval just ended or now.

Decisions where HTCondor leaves room or where roost differs:

- An update whose ``now`` is not after the previous one only records what is in use;
  when the clock went backwards, the accountant's time moves back with it (as
  ``UpdatePriorities`` does), so the next interval is charged from there.
- A submitter's factor is stored only when set (``-setfactor``); otherwise it follows
  ``default_factor``, so that a changed ``DEFAULT_PRIO_FACTOR`` reaches every submitter
  whose factor was never set.  (HTCondor writes the default into the record the first
  time it reads it, and a later change of the default passes those records by.)
- ``set_priority`` refuses a value below 0.5, as the RUP never goes below it.
- ``reset_usage`` puts the RUP back to 0.5 and the weighted hours to 0 (HTCondor's
  ``-resetusage`` clears only the usage; roost's also gives a clean priority, which is
  what an administrator resetting a submitter wants), and forgets ``begin_usage``.
- ``delete`` of an unknown submitter does nothing (``condor_userprio -delete`` neither).
- Like Accountant.cpp, an update drops a record that holds nothing a never-seen name
  would not have (RUP 0.5, nothing in use, no weighted hours, no factor, floor or
  ceiling of its own), unless the update names it; its timestamps go with it.
- Floors and ceilings (``-setfloor``/``-setceil``, 0 for none) are only kept here; the
  negotiator applies them.

Left out: ``NICE_USER_PRIO_FACTOR`` (nice-user jobs), ``REMOTE_PRIO_FACTOR`` (submitters
outside ``ACCOUNTANT_LOCAL_DOMAIN``), ``GROUP_PRIO_FACTOR_<group>``, the roll-up of the
usage of a group's submitters into the group's own record (hierarchical group quotas),
HTCondor's "uncharged time" for matches made or broken between two updates (roost sees
only what is in use at each update) and the unweighted counts beside the weighted ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_PRIORITY = 0.5
MIN_PRIORITY_FACTOR = 1.0
DEFAULT_HALF_LIFE = 86400.0  # PRIORITY_HALFLIFE, seconds
DEFAULT_PRIO_FACTOR = 1000.0  # DEFAULT_PRIO_FACTOR
SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class Account:
    """One submitter's record, as ``condor_userprio -all`` shows it."""

    name: str
    real_priority: float  # RUP, >= MIN_PRIORITY
    factor: float  # priority factor (the default unless set)
    effective_priority: float  # EUP = RUP * factor
    resources_in_use: float  # slot weight (cores) in use at the last update
    weighted_hours: float  # accumulated usage, in weighted (core) hours
    begin_usage: float | None  # epoch seconds of the first usage
    last_usage: float | None  # epoch seconds of the last update with usage > 0
    floor: float = 0.0  # -setfloor (0: none)
    ceiling: float = 0.0  # -setceil (0: none)


@dataclass(slots=True)
class _Record:
    real_priority: float = MIN_PRIORITY
    factor: float | None = None  # None: follows the accountant's default factor
    resources_in_use: float = 0.0
    weighted_hours: float = 0.0
    begin_usage: float | None = None
    last_usage: float | None = None
    floor: float = 0.0
    ceiling: float = 0.0

    def is_blank(self) -> bool:
        """Whether the record says nothing that a never-seen name would not."""
        return (
            self.real_priority <= MIN_PRIORITY
            and self.resources_in_use == 0.0
            and self.weighted_hours == 0.0
            and self.factor is None
            and self.floor == 0.0
            and self.ceiling == 0.0
        )


class Accountant:
    """User priorities and usage of every submitter the negotiator has seen."""

    def __init__(
        self,
        *,
        half_life: float = DEFAULT_HALF_LIFE,
        default_factor: float = DEFAULT_PRIO_FACTOR,
        now: float,
    ) -> None:
        if not (math.isfinite(half_life) and half_life > 0):
            raise ValueError(f"the priority half-life must be positive, not {half_life!r}")
        _check_factor(default_factor)
        self._half_life = float(half_life)
        self._default_factor = float(default_factor)
        self._last_update = _finite("now", now)
        self._records: dict[str, _Record] = {}

    @property
    def half_life(self) -> float:
        return self._half_life

    @property
    def default_factor(self) -> float:
        return self._default_factor

    @property
    def last_update(self) -> float:
        """The ``now`` of the last update (or of the construction)."""
        return self._last_update

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, name: object) -> bool:
        return name in self._records

    # -- the negotiation cycle ----------------------------------------------------------

    def update(self, in_use: Mapping[str, float], now: float) -> None:
        """Age every priority to ``now`` given the slot weight each submitter has in use."""
        now = _finite("now", now)
        current = {_check_name(name): _non_negative("in use", used) for name, used in
                   in_use.items()}
        elapsed = now - self._last_update
        if elapsed <= 0:
            for name, record in self._records.items():
                record.resources_in_use = current.get(name, 0.0)
            for name, used in current.items():
                self._record(name).resources_in_use = used
            self._last_update = min(self._last_update, now)
            return
        beta = 0.5 ** (elapsed / self._half_life)
        for name in current.keys() - self._records.keys():
            self._records[name] = _Record()
        blank = []
        for name, record in self._records.items():
            used = current.get(name, 0.0)
            held = record.resources_in_use
            record.real_priority = max(MIN_PRIORITY, _aged(record.real_priority, used, beta))
            record.weighted_hours += held * elapsed / 3600.0
            record.resources_in_use = used
            if held > 0 or used > 0:
                if record.begin_usage is None:
                    record.begin_usage = now
                record.last_usage = now
            elif name not in current and record.is_blank():
                blank.append(name)
        for name in blank:
            del self._records[name]
        self._last_update = now

    # -- reading ------------------------------------------------------------------------

    def account(self, name: str) -> Account:
        """The record of ``name``; a name never seen has RUP 0.5 and the default factor."""
        record = self._records.get(name)
        return self._account(name, record if record is not None else _Record())

    def effective_priority(self, name: str) -> float:
        record = self._records.get(name)
        if record is None:
            return MIN_PRIORITY * self._default_factor
        return record.real_priority * self._factor(record)

    def accounts(self) -> list[Account]:
        """Every record, the best (lowest) effective priority first, then by name."""
        accounts = [self._account(name, record) for name, record in self._records.items()]
        accounts.sort(key=lambda account: (account.effective_priority, account.name))
        return accounts

    # -- condor_userprio ----------------------------------------------------------------

    def set_factor(self, name: str, factor: float) -> None:
        """``condor_userprio -setfactor``: a factor of at least 1."""
        _check_factor(factor)
        self._record(name).factor = float(factor)

    def set_priority(self, name: str, priority: float) -> None:
        """``condor_userprio -setprio``: the real priority, at least 0.5."""
        priority = _finite("priority", priority)
        if priority < MIN_PRIORITY:
            raise ValueError(f"a priority must be at least {MIN_PRIORITY}, not {priority!r}")
        self._record(name).real_priority = priority

    def reset_usage(self, name: str) -> None:
        """``condor_userprio -resetusage``: RUP back to 0.5, weighted hours to 0."""
        record = self._records.get(name)
        if record is not None:
            record.real_priority = MIN_PRIORITY
            record.weighted_hours = 0.0
            record.begin_usage = None

    def set_floor(self, name: str, value: float) -> None:
        """``condor_userprio -setfloor``: the cores the submitter is guaranteed (0: none)."""
        self._record(name).floor = _non_negative("floor", value)

    def set_ceiling(self, name: str, value: float) -> None:
        """``condor_userprio -setceil``: the most cores the submitter may use (0: none)."""
        self._record(name).ceiling = _non_negative("ceiling", value)

    def delete(self, name: str) -> None:
        """``condor_userprio -delete``: forget the submitter (nothing if unknown)."""
        self._records.pop(name, None)

    # -- persistence --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """All the state but the configuration (half-life, default factor), as plain data;
        a factor that was never set is None."""
        return {
            "version": SNAPSHOT_VERSION,
            "last_update": self._last_update,
            "accounts": [
                {
                    "name": name,
                    "real_priority": record.real_priority,
                    "factor": record.factor,
                    "resources_in_use": record.resources_in_use,
                    "weighted_hours": record.weighted_hours,
                    "begin_usage": record.begin_usage,
                    "last_usage": record.last_usage,
                    "floor": record.floor,
                    "ceiling": record.ceiling,
                }
                for name, record in sorted(self._records.items())
            ],
        }

    @classmethod
    def restore(
        cls,
        snapshot: Mapping[str, Any],
        *,
        half_life: float = DEFAULT_HALF_LIFE,
        default_factor: float = DEFAULT_PRIO_FACTOR,
    ) -> Accountant:
        """The accountant a ``snapshot`` was taken of, under the given configuration.

        Its time is the snapshot's: the next update ages priorities and charges what was
        in use over the time in between, as HTCondor's negotiator does at start-up."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unknown accountant snapshot version {snapshot.get('version')!r}")
        accountant = cls(
            half_life=half_life, default_factor=default_factor, now=snapshot["last_update"]
        )
        for row in snapshot["accounts"]:
            factor = row["factor"]
            if factor is not None:
                _check_factor(factor)
            accountant._records[_check_name(row["name"])] = _Record(
                real_priority=max(MIN_PRIORITY, _finite("priority", row["real_priority"])),
                factor=None if factor is None else float(factor),
                resources_in_use=_non_negative("in use", row["resources_in_use"]),
                weighted_hours=_non_negative("weighted hours", row["weighted_hours"]),
                begin_usage=_optional_time(row["begin_usage"]),
                last_usage=_optional_time(row["last_usage"]),
                floor=_non_negative("floor", row["floor"]),
                ceiling=_non_negative("ceiling", row["ceiling"]),
            )
        return accountant

    def validate(self) -> None:
        """Assert the invariants (for tests)."""
        assert math.isfinite(self._last_update)
        for name, record in self._records.items():
            assert name, "a record without a name"
            assert record.real_priority >= MIN_PRIORITY, (name, record)
            assert math.isfinite(record.real_priority), (name, record)
            assert record.factor is None or record.factor >= MIN_PRIORITY_FACTOR, (name, record)
            assert record.resources_in_use >= 0 and record.weighted_hours >= 0, (name, record)
            assert record.floor >= 0 and record.ceiling >= 0, (name, record)

    # -- helpers --------------------------------------------------------------------------

    def _record(self, name: str) -> _Record:
        record = self._records.get(name)
        if record is None:
            record = self._records[_check_name(name)] = _Record()
        return record

    def _factor(self, record: _Record) -> float:
        return self._default_factor if record.factor is None else record.factor

    def _account(self, name: str, record: _Record) -> Account:
        factor = self._factor(record)
        return Account(
            name=name,
            real_priority=record.real_priority,
            factor=factor,
            effective_priority=record.real_priority * factor,
            resources_in_use=record.resources_in_use,
            weighted_hours=record.weighted_hours,
            begin_usage=record.begin_usage,
            last_usage=record.last_usage,
            floor=record.floor,
            ceiling=record.ceiling,
        )


def _aged(priority: float, used: float, beta: float) -> float:
    """``beta * priority + (1 - beta) * used``, kept between the two against rounding."""
    aged = beta * priority + (1.0 - beta) * used
    return min(max(aged, min(priority, used)), max(priority, used))


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a submitter name must be a non-empty string, not {name!r}")
    return name


def _finite(what: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return value


def _non_negative(what: str, value: float) -> float:
    value = _finite(what, value)
    if value < 0:
        raise ValueError(f"{what} must not be negative, not {value!r}")
    return value


def _optional_time(value: float | None) -> float | None:
    return None if value is None else _finite("a time", value)


def _check_factor(factor: float) -> None:
    if not (math.isfinite(factor) and factor >= MIN_PRIORITY_FACTOR):
        raise ValueError(f"a priority factor must be at least {MIN_PRIORITY_FACTOR}, "
                         f"not {factor!r}")
