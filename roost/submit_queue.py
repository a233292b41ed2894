"""The ``queue`` statement of a submit description: its forms and the items they make.

``queue [N] [vars] (in | from | matching) [slice] ...`` as condor_submit reads it; the
item lists become one dict of lower-cased macro names per item.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import RoostError

# fail(column_offset_in_statement, message) builds the located error.
Fail = Callable[[int, str], Exception]

_STATEMENT = re.compile(r"queue\b\s*(?P<count>\d+)?\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
# matching takes its files/dirs keyword before or after the slice.
_FORM = re.compile(
    r"(?P<vars>.*?)\b(?P<kind>in|from|matching)\b\s*(?P<keyword>(?:files|dirs)\b\s*)?"
    r"(?P<slice>\[[^\]]*\])?\s*(?P<args>.*)$",
    re.IGNORECASE | re.DOTALL)
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*$")


class SubmitError(RoostError):
    """A submit description that condor_submit would reject: ``file:line:col: message``."""


@dataclass
class QueueStatement:
    count: int = 1
    variables: list[str] = field(default_factory=lambda: ["Item"])
    kind: str = ""
    slice_: slice | None = None
    argument: str = ""
    offset: int = 0


def parse_queue(text: str, fail: Fail) -> QueueStatement:
    """The parts of one queue statement (its ``( ... )`` may span joined lines)."""
    match = _STATEMENT.match(text)
    if not match:
        raise fail(0, f"bad queue statement: {text!r}")
    statement = QueueStatement()
    rest = match.group("rest").rstrip()
    if match.group("count"):
        statement.count = int(match.group("count"))
    if not rest:
        return statement
    form = _FORM.match(rest)
    if not form:
        raise fail(match.start("rest"), f"bad queue statement: {text!r}")
    names = [name for name in re.split(r"[\s,]+", form.group("vars").strip()) if name]
    for name in names:
        if not _VAR.match(name):
            raise fail(match.start("rest"), f"bad queue variable {name!r}")
    statement.variables = names or ["Item"]
    statement.kind = form.group("kind").lower()
    statement.argument = ((form.group("keyword") or "") + form.group("args")).strip()
    statement.offset = match.start("rest") + form.start("args")
    if form.group("slice"):
        statement.slice_ = _slice(form.group("slice"), fail,
                                  match.start("rest") + form.start("slice"))
    if not statement.argument:
        raise fail(statement.offset, f"queue {statement.kind} needs items")
    return statement


def _slice(text: str, fail: Fail, offset: int) -> slice:
    parts = text.strip()[1:-1].split(":")
    if len(parts) > 3:
        raise fail(offset, f"bad slice {text!r}")
    try:
        numbers = [int(part) if part.strip() else None for part in parts]
    except ValueError:
        raise fail(offset, f"bad slice {text!r}") from None
    return slice(*numbers) if len(numbers) > 1 else slice(numbers[0], None)


def expand_items(statement: QueueStatement, base: Path, fail: Fail) -> list[dict[str, str]]:
    """One dict of macro values per item; a plain ``queue N`` has one empty item.  An
    item's ``ItemIndex`` and ``Row`` are its place in the whole list, before any slice."""
    if not statement.kind:
        return [{}]
    if statement.kind == "in":
        rows = _split_items(_inline(statement, fail))
    elif statement.kind == "from":
        rows = _from_lines(statement, base, fail)
    else:
        rows = _matching(statement, base)
    numbered = list(enumerate(rows))
    if statement.slice_ is not None:
        numbered = numbered[statement.slice_]
    return [{"itemindex": str(index), "row": str(index), **_assign(statement.variables, row)}
            for index, row in numbered]


def _inline(statement: QueueStatement, fail: Fail) -> str:
    argument = statement.argument
    if not (argument.startswith("(") and argument.endswith(")")):
        if statement.kind == "in" and not argument.startswith("("):
            return argument  # queue x in a b c: the items need no parentheses
        raise fail(statement.offset, "unterminated ( in queue statement")
    return argument[1:-1]


def _split_items(text: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", text.strip()) if item]


def _from_lines(statement: QueueStatement, base: Path, fail: Fail) -> list[str]:
    if statement.argument.startswith("("):
        text = _inline(statement, fail)
    else:
        path = base / statement.argument
        try:
            text = path.read_text()
        except OSError as error:
            raise fail(statement.offset, f"cannot read queue items {path}: "
                                         f"{error.strerror}") from None
    # condor_submit takes every line that is not blank, "#" lines too.
    return [line.strip() for line in text.splitlines() if line.strip()]


def _matching(statement: QueueStatement, base: Path) -> list[str]:
    words = statement.argument.split()
    want = ""
    if words and words[0].lower() in ("files", "dirs"):
        want = words.pop(0).lower()
    found: list[str] = []
    for pattern in words:
        for path in sorted(base.glob(pattern)):
            if (want == "files" and not path.is_file()) or (want == "dirs" and not path.is_dir()):
                continue
            # condor_submit names a directory with its slash.
            name = path.relative_to(base).as_posix() + ("/" if path.is_dir() else "")
            if name not in found:
                found.append(name)
    return found


def _assign(variables: list[str], row: str) -> dict[str, str]:
    """Fields split on commas/spaces; the last variable takes the rest of the row."""
    fields = re.split(r"\s*,\s*|\s+", row.strip(), maxsplit=len(variables) - 1)
    values = {name.lower(): "" for name in variables}
    for name, value in zip(variables, fields, strict=False):
        values[name.lower()] = value
    return values
