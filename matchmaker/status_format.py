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
compared as HTCondor's ``natural_cmp`` compares (``slot2`` before ``slot10``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from classad import ClassAd, ExprTree, Value
from matchmaker.collector import COLLECTOR, MACHINE, SCHEDULER, SUBMITTER

# The attributes condor_status sorts by, which every projected query must also fetch.
SORT_ATTRS = ("Machine", "Name")

# condor_status's "now" for ActvtyTime: the ad's own clock, else when the collector heard it.
NOW_ATTRS = ("MyCurrentTime", "LastHeardFrom")


# -- values as text ------------------------------------------------------------------------


def _old_syntax(literal: ExprTree) -> str:
    # The one public printer of old ClassAd syntax is ClassAd.print_old: "v = <text>\n".
    return ClassAd({"v": literal}).print_old()[4:-1]


def attr_value(ad: ClassAd, attr: str):
    """``ad.eval(attr)``, but a literal's value is read without the evaluator: a table
    reads some ten attributes of each of thousands of ads, nearly all of them literals."""
    if attr not in ad:
        return Value.Undefined
    value = ad[attr]
    return ad.eval(attr) if isinstance(value, ExprTree) else value


def value_text(ad: ClassAd, expr: ExprTree) -> str:
    """``expr`` evaluated in ``ad`` as condor_status's ``%v`` prints it: a string bare, any
    other value in old ClassAd syntax (``undefined``, ``true``, ``2.5``, ``{ 1,2 }``)."""
    return _as_text(expr.eval(ad), ad, expr)


def _as_text(value, ad: ClassAd, expr: ExprTree) -> str:
    """``value``, which ``expr`` has in ``ad``, as ``%v`` prints it."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is Value.Undefined:
        return "undefined"
    if value is Value.Error:
        return "error"
    return _old_syntax(expr.simplify(ad))


def _integer(value) -> int | None:
    """A value as HTCondor's EvalInteger takes it: integers, reals cut toward zero,
    booleans as 0 or 1; None for anything else."""
    kind = type(value)
    if kind is int:
        return value
    if kind is bool:
        return int(value)
    if kind is float and math.isfinite(value):
        return int(value)
    return None


def _number(value) -> float | None:
    kind = type(value)
    if kind is int or kind is float or kind is bool:
        return float(value)
    return None


def _c_divmod(a: int, b: int) -> tuple[int, int]:
    quotient = abs(a) // b if a >= 0 else -(abs(a) // b)  # C divides toward zero
    return quotient, a - quotient * b


def format_time(seconds: int) -> str:
    """HTCondor's ``format_time``: days, hours, minutes and seconds as ``%3d+%02d:%02d:%02d``."""
    days, rest = _c_divmod(seconds, 86400)
    hours, rest = _c_divmod(rest, 3600)
    minutes, secs = _c_divmod(rest, 60)
    return f"{days:3d}+{hours:02d}:{minutes:02d}:{secs:02d}"


# -- sorting -------------------------------------------------------------------------------

_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> list:
    # Text and digit runs alternate, text first, so the lists always compare like with like.
    parts: list = _DIGITS.split(text)
    parts[1::2] = [int(digits) for digits in parts[1::2]]
    return parts


_SORT_EXPRS = tuple((attr, ExprTree(attr)) for attr in SORT_ATTRS)


def sort_ads(ads: Iterable[ClassAd]) -> list[ClassAd]:
    """The ads in condor_status's order: Machine, then Name, naturally; ties keep the order
    the collector sent them in."""
    keys: dict[str, list] = {}  # a machine's slots share its key

    def key(ad: ClassAd) -> list[list]:
        texts = [_as_text(attr_value(ad, attr), ad, expr) for attr, expr in _SORT_EXPRS]
        return [keys.get(t) or keys.setdefault(t, _natural(t)) for t in texts]

    return sorted(ads, key=key)


# -- tables --------------------------------------------------------------------------------

Cell = Callable[[ClassAd], "str | None"]  # a column's text for an ad; None if it has none


@dataclass(frozen=True, slots=True)
class Column:
    """One column as condor_status registers it."""

    heading: str
    width: int  # at least this wide
    cell: Cell
    reads: tuple[str, ...]  # the attributes ``cell`` looks at
    left: bool = False  # left-aligned (headings always are)
    truncate: bool = False  # cut to ``width``; otherwise it grows to its widest cell
    prefix: bool = True  # a space before it (never before the first column)
    missing: str | None = None  # what a missing value prints; None: "[???]" filling it


def _text_column(heading: str, attr: str, width: int, **layout) -> Column:
    """``%v`` of an attribute: a string bare, another value in old syntax."""
    expr = ExprTree(attr)

    def cell(ad: ClassAd) -> str | None:
        value = attr_value(ad, attr)
        if type(value) is str:
            return value
        return None if value is Value.Undefined else _as_text(value, ad, expr)

    return Column(heading, width, cell, (attr,), **layout)


def _count_column(heading: str, attr: str, width: int, **layout) -> Column:
    """``%Nd`` of an attribute: right-aligned, a real cut to an integer."""

    def cell(ad: ClassAd) -> str | None:
        value = _integer(attr_value(ad, attr))
        return None if value is None else str(value)

    return Column(heading, width, cell, (attr,), **layout)


def _load_average(ad: ClassAd) -> str | None:
    value = _number(attr_value(ad, "CondorLoadAvg"))
    return None if value is None else f"{value:.3f}"


def _activity_time(ad: ClassAd) -> str | None:
    entered = _integer(attr_value(ad, "EnteredCurrentActivity"))
    now = next((t for t in (_integer(attr_value(ad, a)) for a in NOW_ATTRS) if t is not None),
               None)
    if entered is None or now is None:
        return None
    return format_time(now - entered)


def _invalid(width: int) -> str:
    return "[" + "?" * (width - 2) + "]" if width >= 3 else "?"


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
    rows = [[column.cell(ad) for column in columns] for ad in ads]
    widths = [column.width for column in columns]
    for row in rows:
        for i, text in enumerate(row):
            if text is not None and not columns[i].truncate and len(text) > widths[i]:
                widths[i] = len(text)
    # One format for the whole row ("{0:<18.18} {1:<10.10} ..."), so that a row is one call.
    row_format = "".join(
        (" " if i and column.prefix else "")
        + f"{{{i}:{'<' if column.left else '>'}{width}{f'.{width}' if column.truncate else ''}}}"
        for i, (column, width) in enumerate(zip(columns, widths, strict=True))
    )
    missing = [column.missing or _invalid(column.width) for column in columns]
    heading = "".join((" " if i and column.prefix else "") + column.heading.ljust(width)
                      for i, (column, width) in enumerate(zip(columns, widths, strict=True)))
    lines = [heading, ""]
    for row in rows:
        if None in row:
            row = [m if text is None else text for text, m in zip(row, missing, strict=True)]
        lines.append(row_format.format(*row))
    if terminal_width:
        lines = [line[: terminal_width - 1] for line in lines]
    return "\n".join(lines) + "\n"


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
        value = _integer(attr_value(ad, attr))
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


# -- -af, -long, -json ---------------------------------------------------------------------


def autoformat(ads: Iterable[ClassAd], exprs: Sequence[ExprTree]) -> str:
    """``-af``: each ad's values of ``exprs`` separated by spaces, a line per ad."""
    return "".join(" ".join(value_text(ad, e) for e in exprs) + "\n" for ad in ads)


def _sorted_names(ad: ClassAd) -> list[str]:
    # condor_status prints whole ads with their attributes sorted, ignoring case.
    return sorted(ad, key=str.lower)


def long_form(ads: Iterable[ClassAd]) -> str:
    """``-long``: each ad as ``Name = expression`` lines in old syntax, then a blank line."""
    return "".join(_long(ad) + "\n" for ad in ads)


def _long(ad: ClassAd) -> str:
    names = list(ad)  # in the order print_old prints them
    lines = ad.print_old()[:-1].split("\n")
    if len(lines) != len(names):  # a string holds a line break: print a sorted copy instead
        return ClassAd({name: ad.lookup(name) for name in _sorted_names(ad)}).print_old()
    ordered = sorted(zip(names, lines, strict=True), key=lambda pair: pair[0].lower())
    return "".join(line + "\n" for _, line in ordered)


# An expression goes into the JSON as the string "\/Expr(text)\/".  json.dumps would write
# the backslashes doubled, so the text is fenced with NUL (which no ClassAd string holds,
# and which json.dumps writes as \u0000) and the fences replaced in the finished text.
_EXPR_OPEN, _EXPR_CLOSE = "\0Expr(", ")\0"


def _expression(text: str) -> str:
    return _EXPR_OPEN + text + _EXPR_CLOSE


def _json_plain(value):
    """An evaluated value (of a literal list or nested ad) as a JSON value."""
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return value
    if kind is float and math.isfinite(value):
        return value
    if kind is list:
        return [_json_plain(item) for item in value]
    if kind is ClassAd:
        return {name: _json_value(value, name) for name in _sorted_names(value)}
    if value is Value.Undefined:
        return None
    return _expression(str(ClassAd({"v": value}).lookup("v")))


def _json_value(ad: ClassAd, name: str):
    """One attribute as HTCondor's JSON writes it: literals as JSON values (undefined as
    null), lists and nested ads of literals as arrays and objects, anything else (an
    expression, error, a time, a real that is not finite) as "\\/Expr(text)\\/"."""
    value = ad[name]
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return value
    if kind is float and math.isfinite(value):
        return value
    if value is Value.Undefined:
        return None
    if isinstance(value, ExprTree):
        text = str(value)
        # A list or ad literal starts so and is its own value; an expression that merely
        # starts with one ("{ 1,2 }[0]") is not.
        if text[:1] in ("{", "[") and value == value.simplify():
            return _json_plain(value.eval())
        return _expression(text)
    return _expression(str(ad.lookup(name)))


def _json_object(ad: ClassAd) -> str:
    # json.dumps with ``indent`` runs its pure-Python encoder, three times slower than the
    # C one; the C one with these separators writes the same layout for a flat object
    # (nested lists and objects get the line breaks too, which JSON readers do not mind).
    text = json.dumps({name: _json_value(ad, name) for name in _sorted_names(ad)},
                      ensure_ascii=False, separators=(",\n  ", ": "))
    return "{\n  " + text[1:-1] + "\n}" if len(text) > 2 else "{\n}"


def json_form(ads: Sequence[ClassAd]) -> str:
    """``-json``: a JSON array of the ads, laid out as condor_status lays it out (each ad an
    indented object, ",\\n" between them); '' for no ads, as condor_status prints nothing."""
    if not ads:
        return ""
    text = "[\n" + "\n,\n".join(_json_object(ad) for ad in ads) + "\n]\n"
    return text.replace('"\\u0000Expr(', '"\\/Expr(').replace(')\\u0000"', ')\\/"')
