"""``roost status``: the pool's ads as HTCondor's ``condor_status`` shows them.

Options are condor_status's, with one leading dash or two, and may be shortened as far as
condor_status allows (``-l``, ``-const``, ``-sc``): the grammar below gives each option's
shortest form (``roost.cli_options`` parses it).  Constraints and projections go to the
collector, so only the ads and attributes that are shown travel; the output is then sorted
and laid out here (``matchmaker.status_format``).  Parsing the command line needs neither
gRPC nor the ClassAd language, so ``roost status --help`` imports neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from roost import cli_options
from roost.cli_options import Grammar, all_of, count, expression
from roost.errors import UsageError

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
GRAMMAR = Grammar(
    PROG,
    flags=(
        ("help", 1, {"help": True}),
        ("long", 1, {"style": "long"}),
        ("json", 2, {"style": "json"}),
        ("total", 1, {"totals_only": True}),
        ("startd", 4, {"ad_type": "Machine"}),
        ("schedd", 2, {"ad_type": "Scheduler"}),
        ("submitters", 4, {"ad_type": "Submitter"}),
        ("collector", 3, {"ad_type": "Collector"}),
    ),
    valued=(("pool", 1), ("limit", 2), ("constraint", 3)),
)


def parse_command_line(argv: Sequence[str]) -> Options:
    """The options of ``argv``; a UsageError for anything else."""
    options = GRAMMAR.parse(argv, Options(), _set_value)
    if options.totals_only and options.style != "table":
        raise UsageError(f"-total (the table's totals only) cannot go with -{options.style}")
    return options


def _set_value(options: Options, name: str, value: str) -> None:
    if name == "pool":
        options.pool = value
    elif name == "constraint":
        options.constraints.append(value)
    else:
        options.limit = count("-limit", value, "ads")


def main(argv: Sequence[str]) -> int:
    """Run ``roost status`` with the arguments ``argv``; return the exit status."""
    return cli_options.run_command(parse_command_line(argv), HELP, run)


def run(options: Options, terminal_width: int = 0) -> str:
    """Query the collector and return the text to print."""
    from matchmaker import status_format
    from roost import ad_format
    from roost.client import Collector

    for text in options.constraints:
        expression(text, "constraint")
    constraint = all_of(options.constraints)
    exprs = [expression(text, "af") for text in options.attrs]
    view = status_format.VIEWS[options.ad_type]
    projection: list[str] = []  # everything, for -long and -json
    if options.style == "af":
        # The attributes the expressions read, and the sort keys, are all that travel.
        projection = sorted({*ad_format.references(exprs), *status_format.SORT_ATTRS},
                            key=str.lower)
    elif options.style == "table":
        projection = view.attrs(options.totals_only)
    with Collector(options.pool) as collector:
        ads = collector.query(options.ad_type, constraint, projection, options.limit)
    ads = status_format.sort_ads(ads)
    if options.style == "af":
        return ad_format.autoformat(ads, exprs)
    if options.style == "long":
        return ad_format.long_form(ads)
    if options.style == "json":
        return ad_format.json_form(ads)
    return status_format.render(ads, view, terminal_width, options.totals_only)

