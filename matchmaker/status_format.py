"""``roost status``'s output, made from ads as condor_status makes it: pure, no I/O, no clock.

The tables are laid out as HTCondor's ``src/condor_status.V6/prettyPrint.cpp`` registers its
columns: a heading line (headings always left-aligned to the column's width), a blank line,
one row per ad, and for the views that have them the totals of ``totals.cpp`` after a blank
line.  A column is at least its registered width; one that does not truncate grows to its
widest cell; a value that is missing or of the wrong type prints as ``[???]`` filling the
column, as condor_status's "wide invalid field" does (ActvtyTime: ``[Unknown]``).  On a
terminal wider than 80 columns the slot view fits its Name column to the names instead of
cutting them to 18 characters, and lines are cut to the terminal's width, again as
condor_status does.

Every view is sorted as condor_status sorts by default: by ``Machine``, then ``Name``, each
compared as HTCondor's ``natural_cmp`` compares (``slot2`` before ``slot10``).  The table
layout, values as text and the -af, -long and -json forms are ``roost.ad_format``'s, which
``roost q`` shares.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from classad import ClassAd, ExprTree, Value
from matchmaker.collector import COLLECTOR, MACHINE, SCHEDULER, SUBMITTER
from roost.ad_format import (
    Column,
    as_text,
    attr_value,
    fit_to_terminal,
    format_time,
    integer,
    natural_key,
    number,
    table_lines,
)

# The attributes condor_status sorts by, which every projected query must also fetch.
SORT_ATTRS = ("Machine", "Name")

# condor_status's "now" for ActvtyTime: the ad's own clock, else when the collector heard it.
NOW_ATTRS = ("MyCurrentTime", "LastHeardFrom")


# -- sorting -------------------------------------------------------------------------------

_SORT_EXPRS = tuple((attr, ExprTree(attr)) for attr in SORT_ATTRS)


def sort_ads(ads: Iterable[ClassAd]) -> list[ClassAd]:
    """The ads in condor_status's order: Machine, then Name, naturally; ties keep the order
    the collector sent them in."""
    keys: dict[str, list] = {}  # a machine's slots share its key

    def key(ad: ClassAd) -> list[list]:
        texts = [as_text(attr_value(ad, attr), ad, expr) for attr, expr in _SORT_EXPRS]
        return [keys.get(t) or keys.setdefault(t, natural_key(t)) for t in texts]

    return sorted(ads, key=key)


# -- tables --------------------------------------------------------------------------------


def _text_column(heading: str, attr: str, width: int, **layout) -> Column:
    """``%v`` of an attribute: a string bare, another value in old syntax."""
    expr = ExprTree(attr)

    def cell(ad: ClassAd) -> str | None:
        value = attr_value(ad, attr)
        if type(value) is str:
            return value
        return None if value is Value.Undefined else as_text(value, ad, expr)

    return Column(heading, width, cell, (attr,), **layout)


def _count_column(heading: str, attr: str, width: int, **layout) -> Column:
    """``%Nd`` of an attribute: right-aligned, a real cut to an integer."""

    def cell(ad: ClassAd) -> str | None:
        value = integer(attr_value(ad, attr))
        return None if value is None else str(value)

    return Column(heading, width, cell, (attr,), **layout)


def _load_average(ad: ClassAd) -> str | None:
    value = number(attr_value(ad, "CondorLoadAvg"))
    return None if value is None else f"{value:.3f}"


def _activity_time(ad: ClassAd) -> str | None:
    entered = integer(attr_value(ad, "EnteredCurrentActivity"))
    now = next((t for t in (integer(attr_value(ad, a)) for a in NOW_ATTRS) if t is not None),
               None)
    if entered is None or now is None:
        return None
    return format_time(now - entered)


@dataclass(frozen=True)
class View:
    """A kind of ad as condor_status shows it by default."""

    columns: tuple[Column, ...]
    totals: Callable[[Sequence[ClassAd]], str] | None
    totals_attrs: tuple[str, ...]  # what the totals read
    fit_name: bool = False  # the first column fits the names on a wide terminal

    def attrs(self, totals_only: bool = False) -> list[str]:
        """What a query for this view must fetch: the projection sent to the collector."""
        wanted = [*SORT_ATTRS, *self.totals_attrs]
        if not totals_only:
            wanted += [attr for column in self.columns for attr in column.reads]
        return sorted(set(wanted), key=str.lower)


def table(ads: Sequence[ClassAd], view: View, terminal_width: int = 0) -> str:
    """The heading line, a blank line and a row per ad; '' for no ads.  ``terminal_width``
    is the width of the terminal the table goes to, 0 when it goes to a file or pipe."""
    if not ads:
        return ""
    columns = list(view.columns)
    if view.fit_name and terminal_width > 80:
        columns[0] = dataclasses.replace(columns[0], width=12, truncate=False)
    heading, *rows = table_lines(ads, columns)
    return "\n".join(fit_to_terminal([heading, "", *rows], terminal_width)) + "\n"


def render(ads: Sequence[ClassAd], view: View, terminal_width: int = 0,
           totals_only: bool = False) -> str:
    """condor_status's default output for ``ads`` (already sorted): the table, then the
    totals after a blank line; only that blank line and the totals with ``totals_only``;
    nothing at all for no ads."""
    if not ads:
        return ""
    text = "" if totals_only else table(ads, view, terminal_width)
    if view.totals is not None:
        text += "\n" + view.totals(ads)
    return text


# -- totals (totals.cpp) -------------------------------------------------------------------


def _totals(header: str, rows: dict[str, str], total: str, malformed: int,
            key_width: int) -> str:
    """TrackTotals::displayTotals: the header after a blank key, a blank line, one line
    per key in sorted order and a blank line, then the Total line.  ``header``, each row
    and ``total`` carry their own newlines (or none), as the C++ ones do."""
    def key(text: str) -> str:
        return f"{text:>{key_width}.{key_width}}"

    parts = [" " * key_width, header, "\n"]
    for name in sorted(rows):
        parts += [key(name), rows[name]]
    if rows:
        parts.append("\n")
    parts += [key("Total"), total]
    if malformed:
        parts.append(f"\n{' ' * key_width}(Omitted {malformed} malformed ads in computed "
                     "attribute totals)\n\n")
    return "".join(parts)


# Slot states as string_to_state spells them, and their column in the totals table.
_STATE_COLUMNS = {"Owner": 1, "Claimed": 2, "Unclaimed": 3, "Matched": 4, "Preempting": 5,
                  "Drained": 6, "Backfill": 7}
_SLOT_TOTALS = (("Total", 6), ("Owner", 5), ("Claimed", 7), ("Unclaimed", 9), ("Matched", 7),
                ("Preempting", 10), ("Drain", 6), ("Backfill", 8), ("BkIdle", 6))


def _slot_counts(counts: list[int]) -> str:
    return " ".join(f"{n:{w}d}" for n, (_, w) in zip(counts, _SLOT_TOTALS, strict=True)) + "\n"


def slot_totals(ads: Sequence[ClassAd]) -> str:
    """StartdNormalTotal by Arch/OpSys.  An ad without string Arch and OpSys, or in a state
    HTCondor does not know, is counted as malformed; the latter still gets its key's row
    (of zeros, if no other ad fills it), as TrackTotals makes the row before it looks at
    the state."""
    rows: dict[str, list[int]] = {}
    total = [0] * len(_SLOT_TOTALS)
    malformed = 0
    for ad in ads:
        arch, opsys = attr_value(ad, "Arch"), attr_value(ad, "OpSys")
        if type(arch) is not str or type(opsys) is not str:
            malformed += 1
            continue
        row = rows.setdefault(f"{arch}/{opsys}", [0] * len(_SLOT_TOTALS))
        state = attr_value(ad, "State")
        column = _STATE_COLUMNS.get(state) if type(state) is str else None
        if column is None:
            malformed += 1
            continue
        for counts in (row, total):
            counts[0] += 1
            counts[column] += 1
    header = " ".join(f"{name:>{w}.{w}}" for name, w in _SLOT_TOTALS) + "\n"
    return _totals(header, {k: _slot_counts(v) for k, v in rows.items()},
                   _slot_counts(total), malformed, 14)


def _job_counts(ad: ClassAd, attrs: Sequence[str], into: Sequence[list[int]]) -> bool:
    """Add the ad's job counts to each list of ``into``; False if one was missing."""
    complete = True
    for i, attr in enumerate(attrs):
        value = integer(attr_value(ad, attr))
        if value is None:
            complete = False
            continue
        for counts in into:
            counts[i] += value
    return complete


_SCHEDD_JOBS = ("TotalRunningJobs", "TotalIdleJobs", "TotalHeldJobs")
_SUBMITTER_JOBS = ("RunningJobs", "IdleJobs", "HeldJobs")


def schedd_totals(ads: Sequence[ClassAd]) -> str:
    """ScheddNormalTotal: every schedd under one blank key, whose row prints nothing, so
    only the Total line has numbers (condor_status prints the same odd table)."""
    total = [0, 0, 0]
    malformed = sum(not _job_counts(ad, _SCHEDD_JOBS, [total]) for ad in ads)
    header = " ".join(f"{name:>18}" for name in _SCHEDD_JOBS) + "\n"
    numbers = " ".join(f"{n:18d}" for n in total) + "\n"
    return _totals(header, {" ": ""}, numbers, malformed, 14)


def submitter_totals(ads: Sequence[ClassAd]) -> str:
    """ScheddSubmittorTotal by submitter Name, its key column as wide as the longest."""
    rows: dict[str, list[int]] = {}
    total = [0, 0, 0]
    malformed = 0
    for ad in ads:
        name = attr_value(ad, "Name")
        if type(name) is not str:
            malformed += 1
            continue
        row = rows.setdefault(name, [0, 0, 0])
        malformed += not _job_counts(ad, _SUBMITTER_JOBS, [row, total])

    def numbers(counts: list[int]) -> str:
        return f"{counts[0]:11d} {counts[1]:10d} {counts[2]:10d}\n"

    header = f"{'RunningJobs':>11} {'IdleJobs':>10} {'HeldJobs':>10}\n"
    key_width = max([5, *(len(name) for name in rows)])
    return _totals(header, {k: numbers(v) for k, v in rows.items()}, numbers(total),
                   malformed, key_width)


# -- the views -----------------------------------------------------------------------------

VIEWS: dict[str, View] = {
    MACHINE: View(
        (
            _text_column("Name", "Name", 18, left=True, truncate=True),
            _text_column("OpSys", "OpSys", 10, left=True, truncate=True),
            _text_column("Arch", "Arch", 6, left=True, truncate=True),
            _text_column("State", "State", 9, left=True, truncate=True),
            _text_column("Activity", "Activity", 8, left=True, truncate=True),
            Column("LoadAv", 6, _load_average, ("CondorLoadAvg",), truncate=True),
            _count_column("Mem", "Memory", 4),
            Column("  ActvtyTime", 12, _activity_time,
                   ("EnteredCurrentActivity", *NOW_ATTRS), prefix=False,
                   missing="[Unknown]"),
        ),
        slot_totals, ("State", "Arch", "OpSys"), fit_name=True,
    ),
    SCHEDULER: View(
        (
            _text_column("Name", "Name", 15, left=True),
            _text_column("Machine", "Machine", 12, left=True),
            _count_column("RunningJobs", "TotalRunningJobs", 11),
            _count_column("  IdleJobs", "TotalIdleJobs", 10),
            _count_column("  HeldJobs", "TotalHeldJobs", 10),
        ),
        schedd_totals, _SCHEDD_JOBS,
    ),
    SUBMITTER: View(
        (
            _text_column("Name", "Name", 15, left=True),
            _text_column("Machine", "Machine", 12, left=True),
            _count_column("RunningJobs", "RunningJobs", 11),
            _count_column("  IdleJobs", "IdleJobs", 10),
            _count_column("  HeldJobs", "HeldJobs", 10),
        ),
        submitter_totals, ("Name", *_SUBMITTER_JOBS),
    ),
    COLLECTOR: View(
        (
            _text_column("Name", "Name", 28, left=True, truncate=True),
            _text_column("Machine", "Machine", 18, left=True, truncate=True),
            _count_column("RunningJobs", "RunningJobs", 11, truncate=True),
            _count_column("IdleJobs", "IdleJobs", 8, truncate=True),
            _count_column("HostsTotal", "HostsTotal", 10, truncate=True),
        ),
        None, (),
    ),
}
