"""Ads as HTCondor's command-line tools print them: pure, no I/O, no clock.

What ``roost status``, ``roost q`` and ``roost history`` share: an attribute's value as text
(HTCondor's ``%v``), times and dates as ``format_time`` and ``format_date`` print them, the
fixed-width tables of HTCondor's print masks (``src/condor_utils/ad_printmask.cpp``), and the
whole-ad forms ``-af``, ``-long`` and ``-json``.  Each tool keeps its own columns and views.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from classad import ClassAd, ExprTree, Value

# -- values as text ------------------------------------------------------------------------


def old_syntax(expr: ExprTree) -> str:
    """``expr`` in old ClassAd syntax, as HTCondor's tools print it (``=?=``, not ``is``)."""
    # The one public printer of old ClassAd syntax is ClassAd.print_old: "v = <text>\n".
    return ClassAd({"v": expr}).print_old()[4:-1]


def attr_value(ad: ClassAd, attr: str):
    """``ad.eval(attr)``, but a literal's value is read without the evaluator: a table
    reads some ten attributes of each of thousands of ads, nearly all of them literals."""
    if attr not in ad:
        return Value.Undefined
    value = ad[attr]
    return ad.eval(attr) if isinstance(value, ExprTree) else value


def value_text(ad: ClassAd, expr: ExprTree) -> str:
    """``expr`` evaluated in ``ad`` as HTCondor's ``%v`` prints it: a string bare, any
    other value in old ClassAd syntax (``undefined``, ``true``, ``2.5``, ``{ 1,2 }``)."""
    return as_text(expr.eval(ad), ad, expr)


def as_text(value, ad: ClassAd, expr: ExprTree) -> str:
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
    return old_syntax(expr.simplify(ad))


def integer(value) -> int | None:
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


def number(value) -> float | None:
    """A value as HTCondor's EvalFloat takes it; None if it is no number."""
    kind = type(value)
    if kind is int or kind is float or kind is bool:
        return float(value)
    return None


def c_divmod(a: int, b: int) -> tuple[int, int]:
    """``divmod`` as C divides, toward zero: ``c_divmod(-7, 2) == (-3, -1)``."""
    quotient = abs(a) // b if a >= 0 else -(abs(a) // b)
    return quotient, a - quotient * b


def format_time(seconds: int) -> str:
    """HTCondor's ``format_time``: days, hours, minutes and seconds as ``%3d+%02d:%02d:%02d``."""
    days, rest = c_divmod(seconds, 86400)
    hours, rest = c_divmod(rest, 3600)
    minutes, secs = c_divmod(rest, 60)
    return f"{days:3d}+{hours:02d}:{minutes:02d}:{secs:02d}"


def format_date(epoch: int) -> str:
    """HTCondor's ``format_date``: the local month, day, hour and minute as
    ``%2d/%-2d %02d:%02d`` (`` 9/3  16:05``), eleven characters."""
    if epoch < 0:
        return "    ???    "
    t = time.localtime(epoch)
    return f"{t.tm_mon:2d}/{t.tm_mday:<2d} {t.tm_hour:02d}:{t.tm_min:02d}"


# -- sorting -------------------------------------------------------------------------------

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list:
    """The key that sorts texts as HTCondor's ``natural_cmp`` does (``slot2`` before
    ``slot10``)."""
    # Text and digit runs alternate, text first, so the lists always compare like with like.
    parts: list = _DIGITS.split(text)
    parts[1::2] = [int(digits) for digits in parts[1::2]]
    return parts


# -- tables --------------------------------------------------------------------------------

Cell = Callable[[Any], "str | None"]  # a column's text for a row; None if it has none


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a print mask: its heading is always left-aligned to its width."""

    heading: str
    width: int  # at least this wide; 0: never padded (HTCondor's last columns)
    cell: Cell
    reads: tuple[str, ...] = ()  # the attributes ``cell`` looks at
    left: bool = False  # left-aligned
    truncate: bool = False  # cut to ``width``
    prefix: bool = True  # a space before it (never before the first column)
    missing: str | None = None  # what a missing value prints; None: "[???]" filling it
    grow: bool = True  # widen to the widest cell (else a longer cell just overflows)


def _invalid(width: int) -> str:
    return "[" + "?" * (width - 2) + "]" if width >= 3 else "?"


def table_lines(items: Sequence, columns: Sequence[Column]) -> list[str]:
    """The heading line, then a line per item, laid out as HTCondor's print masks lay
    them out: a column that neither truncates nor is of width 0 grows to its widest cell
    unless told not to; a missing value prints the column's ``missing`` text."""
    rows = [[column.cell(item) for column in columns] for item in items]
    widths = [column.width for column in columns]
    for row in rows:
        for i, text in enumerate(row):
            column = columns[i]
            if (text is not None and column.grow and column.width and not column.truncate
                    and len(text) > widths[i]):
                widths[i] = len(text)

    def spec(column: Column, width: int) -> str:
        if not width:
            return ""
        return f":{'<' if column.left else '>'}{width}{f'.{width}' if column.truncate else ''}"

    # One format for the whole row ("{0:<18.18} {1:<10.10} ..."), so that a row is one call.
    row_format = "".join(
        (" " if i and column.prefix else "") + f"{{{i}{spec(column, width)}}}"
        for i, (column, width) in enumerate(zip(columns, widths, strict=True))
    )
    missing = [_invalid(c.width) if c.missing is None else c.missing for c in columns]
    lines = ["".join((" " if i and column.prefix else "") + column.heading.ljust(width)
                     for i, (column, width) in enumerate(zip(columns, widths, strict=True)))]
    for row in rows:
        if None in row:
            row = [m if text is None else text for text, m in zip(row, missing, strict=True)]
        lines.append(row_format.format(*row))
    return lines


def fit_to_terminal(lines: list[str], terminal_width: int) -> list[str]:
    """The lines cut one short of a terminal's width, as HTCondor's tools cut them; as
    they are when the output goes to a file or pipe (``terminal_width`` 0)."""
    if not terminal_width:
        return lines
    return [line[: terminal_width - 1] for line in lines]


# -- -af, -long, -json ---------------------------------------------------------------------


def references(exprs: Iterable[ExprTree]) -> set[str]:
    """The attributes of the ad itself that ``exprs`` read: what a query must fetch to
    evaluate them."""
    return {ref for expr in exprs for ref in ClassAd().external_refs(expr) if "." not in ref}


def autoformat(ads: Iterable[ClassAd], exprs: Sequence[ExprTree]) -> str:
    """``-af``: each ad's values of ``exprs`` separated by spaces, a line per ad."""
    return "".join(" ".join(value_text(ad, e) for e in exprs) + "\n" for ad in ads)


def _sorted_names(ad: ClassAd) -> list[str]:
    # HTCondor's tools print whole ads with their attributes sorted, ignoring case.
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
    """``-json``: a JSON array of the ads, laid out as HTCondor's tools lay it out (each ad
    an indented object, ",\\n" between them); '' for no ads, as they print nothing."""
    if not ads:
        return ""
    text = "[\n" + "\n,\n".join(_json_object(ad) for ad in ads) + "\n]\n"
    return text.replace('"\\u0000Expr(', '"\\/Expr(').replace(')\\u0000"', ')\\/"')
