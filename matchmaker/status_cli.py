"""``roost status``: the pool's ads as HTCondor's ``condor_status`` shows them.

Options are condor_status's, with one leading dash or two, and may be shortened as far as
condor_status allows (``-l``, ``-const``, ``-sc``): the table below gives each option's
shortest form.  Constraints and projections go to the collector, so only the ads and
attributes that are shown travel; the output is then sorted and laid out here
(``matchmaker.status_format``).  Parsing the command line needs neither gRPC nor the ClassAd
language, so ``roost status --help`` imports neither.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from roost.errors import RoostError, UsageError

PROG = "roost status"
USAGE = (
    f"usage: {PROG} [-startd | -schedd | -submitters | -collector] [-constraint EXPR]...\n"
    f"       {' ' * len(PROG)} [-long | -json | -af ATTR... | -total] [-pool HOST:PORT] [-limit N]"
)
HELP = f"""{USAGE}

Show the ads the pool's collector holds, as condor_status does: by default a line per
slot (Name, OpSys, Arch, State, Activity, LoadAv, Mem, ActvtyTime), then the slots
counted by platform and state.

which ads:
  -startd            slots (the default)
  -schedd            schedds: their running, idle and held jobs
  -submitters        submitters: each user's running, idle and held jobs
  -collector         the collector itself
  -constraint EXPR   only ads for which the ClassAd expression EXPR is true; given more
                     than once, all must be
  -limit N           at most N ads
  -pool HOST:PORT    ask the collector at HOST:PORT instead of the configured one

how to show them:
  -long              whole ads, a 'Name = expression' line per attribute, a blank line after
  -json              whole ads as a JSON array
  -af ATTR...        the values of these attributes or expressions, separated by spaces, a
                     line per ad (also -autoformat); the list ends at the next option or '-'
  -total             only the totals
  -help              show this help and exit

Options take one dash or two and may be shortened (-l, -const, -sc, -subm, -col)."""


@dataclass
class Options:
    """What the command line asks for."""

    ad_type: str = "Machine"
    style: str = "table"  # "table", "long", "json" or "af"
    totals_only: bool = False
    constraints: list[str] = field(default_factory=list)
    attrs: list[str] = field(default_factory=list)  # the -af expressions
    pool: str | None = None
    limit: int = 0
    help: bool = False


# condor_status's options: (name, shortest prefix accepted, what it sets).  The prefixes are
# those of src/condor_status.V6/status.cpp, so its users' abbreviations work here too.  The
# ad types are matchmaker.collector's, spelled out: importing it would import ClassAds.
_FLAGS = (
    ("help", 1, {"help": True}),
    ("long", 1, {"style": "long"}),
    ("json", 2, {"style": "json"}),
    ("total", 1, {"totals_only": True}),
    ("startd", 4, {"ad_type": "Machine"}),
    ("schedd", 2, {"ad_type": "Scheduler"}),
    ("submitters", 4, {"ad_type": "Submitter"}),
    ("collector", 3, {"ad_type": "Collector"}),
)
_WITH_VALUE = (("pool", 1), ("limit", 2), ("constraint", 3))
_AUTOFORMAT = (("af", 2), ("autoformat", 5))


def _matches(word: str, name: str, shortest: int) -> bool:
    return len(word) >= shortest and name.startswith(word)


def _option_word(arg: str) -> str | None:
    """The option's name without its one or two dashes; None if ``arg`` is no option."""
    if not arg.startswith("-") or arg in ("-", "--"):
        return None
    return arg[2:] if arg.startswith("--") else arg[1:]


def parse_command_line(argv: Sequence[str]) -> Options:
    """The options of ``argv``; a UsageError for anything else."""
    options = Options()
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        word = _option_word(arg)
        i += 1
        if word is None:
            raise UsageError(f"unexpected argument {arg!r} (see '{PROG} -help')")
        flag = next((sets for name, n, sets in _FLAGS if _matches(word, name, n)), None)
        if flag is not None:
            for key, value in flag.items():
                setattr(options, key, value)
            continue
        if any(_matches(word, name, n) for name, n in _AUTOFORMAT):
            i = _autoformat_list(args, i, arg, options)
            continue
        if any(word.startswith(f"{name}:") for name, _ in _AUTOFORMAT):
            raise UsageError(f"{arg}: autoformat qualifiers are not supported")
        name = next((name for name, n in _WITH_VALUE if _matches(word, name, n)), None)
        if name is None:
            raise UsageError(f"unknown option {arg!r} (see '{PROG} -help')")
        if i >= len(args):
            raise UsageError(f"{arg} needs a value (see '{PROG} -help')")
        _set_value(options, name, args[i])
        i += 1
    if options.totals_only and options.style != "table":
        raise UsageError(f"-total (the table's totals only) cannot go with -{options.style}")
    return options


def _autoformat_list(args: list[str], i: int, arg: str, options: Options) -> int:
    """Take the attributes after ``-af`` (up to the next option, or a lone '-', which is
    dropped); returns where the next option starts."""
    start = i
    while i < len(args) and not args[i].startswith("-"):
        i += 1
    if i == start:
        raise UsageError(f"{arg} needs at least one attribute (see '{PROG} -help')")
    options.style = "af"
    options.attrs = args[start:i]
    return i + 1 if i < len(args) and args[i] == "-" else i


def _set_value(options: Options, name: str, value: str) -> None:
    if name == "pool":
        options.pool = value
    elif name == "constraint":
        options.constraints.append(value)
    else:
        try:
            options.limit = int(value)
        except ValueError:
            raise UsageError(f"-limit needs a whole number, not {value!r}") from None
        if options.limit < 0:
            raise UsageError(f"-limit needs a number of ads, not {value}")


def main(argv: Sequence[str]) -> int:
    """Run ``roost status`` with the arguments ``argv``; return the exit status."""
    options = parse_command_line(argv)
    if options.help:
        print(HELP)
        return 0
    sys.stdout.write(run(options, _terminal_width()))
    return 0


def _terminal_width() -> int:
    """The width of the terminal standard output is, 0 if it is a file or a pipe (where
    condor_status lays its tables out for 80 columns and cuts no lines)."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else 0
    except (OSError, ValueError):
        return 0


def run(options: Options, terminal_width: int = 0) -> str:
    """Query the collector and return the text to print."""
    from classad import ClassAd
    from matchmaker import status_format
    from roost.client import Collector

    for text in options.constraints:
        _parsed(text, "constraint")
    texts = options.constraints
    constraint = texts[0] if len(texts) == 1 else " && ".join(f"({t})" for t in texts)
    exprs = [_parsed(text, "af") for text in options.attrs]
    view = status_format.VIEWS[options.ad_type]
    projection: list[str] = []  # everything, for -long and -json
    if options.style == "af":
        # The attributes the expressions read, and the sort keys, are all that travel.
        refs = {ref for expr in exprs for ref in ClassAd().external_refs(expr) if "." not in ref}
        projection = sorted({*refs, *status_format.SORT_ATTRS}, key=str.lower)
    elif options.style == "table":
        projection = view.attrs(options.totals_only)
    with Collector(options.pool) as collector:
        ads = collector.query(options.ad_type, constraint, projection, options.limit)
    ads = status_format.sort_ads(ads)
    if options.style == "af":
        return status_format.autoformat(ads, exprs)
    if options.style == "long":
        return status_format.long_form(ads)
    if options.style == "json":
        return status_format.json_form(ads)
    return status_format.render(ads, view, terminal_width, options.totals_only)


def _parsed(text: str, what: str):
    """``text`` as an ExprTree; if it is no ClassAd expression, one line naming where it
    goes wrong, as the collector would (``constraint:1:7: ...``), without asking it."""
    from classad import ClassAdSyntaxError, ExprTree

    try:
        return ExprTree(text)
    except ClassAdSyntaxError as error:
        raise RoostError(f"{what}:{error.line}:{error.column}: {error.message}") from None
