"""``roost q`` and ``roost history``: the jobs in the queue and those that have left it, as
HTCondor's ``condor_q`` and ``condor_history`` show them.

Options are theirs, with one leading dash or two, and may be shortened as far as they allow
(``-nob``, ``-const``, ``-l``, ``-tot``): the grammars below give each option's shortest
form.  Arguments name jobs as condor_q's do: ``12`` is cluster 12, ``12.3`` one job, and any
other word an owner.  They are OR-ed together, and AND-ed with every ``-constraint``, into
one constraint that the schedd evaluates, so only the jobs shown travel; and only the
attributes shown, since each view sends its projection.  Without arguments or
``-allusers``, ``roost q`` shows the jobs of the user its token names.  The batch view asks
the schedd for counts only (``Schedd.summarize``): no job ad travels for it.

Parsing the command line needs neither gRPC nor the ClassAd language, so ``roost q -help``
imports neither.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roost import cli_options
from roost.cli_options import Grammar, all_of, any_of, count, expression
from roost.errors import UsageError

if TYPE_CHECKING:
    from roost.client import Schedd

Q_PROG = "roost q"
HISTORY_PROG = "roost history"

Q_HELP = f"""usage: {Q_PROG} [-nobatch | -dag | -hold | -run | -totals] [-allusers]
       {' ' * len(Q_PROG)} [-constraint EXPR]... [-long | -json | -af ATTR...] [-limit N]
       {' ' * len(Q_PROG)} [CLUSTER | CLUSTER.PROC | OWNER]...

Show the jobs in the queue, as condor_q does: by default your own jobs, a line per batch
(a cluster, or the clusters you gave one batch name), with their done, running, idle, held
and total jobs, then the totals of the query, of yours and of all users.

which jobs:
  CLUSTER, CLUSTER.PROC  the jobs of a cluster, or one job
  OWNER              the jobs of this user
  -allusers          everyone's jobs (the default when jobs or owners are named)
  -constraint EXPR   only jobs for which the ClassAd expression EXPR is true; given more
                     than once, all must be
  -limit N           at most N jobs (not in the batch view)

how to show them:
  -nobatch           a line per job: ID OWNER SUBMITTED RUN_TIME ST PRI SIZE CMD
  -dag               a line per job, a DAG's nodes together, each named ' |-NODE'
  -hold              held jobs only, with when and why they were held
  -run               running jobs only, with where they run
  -totals            only the totals
  -long              whole job ads, a 'Name = expression' line per attribute
  -json              whole job ads as a JSON array
  -af ATTR...        the values of these attributes or expressions, separated by spaces,
                     a line per job (also -autoformat); the list ends at the next option
  -better-analyze    why the jobs do or do not run (as 'roost analyze'; also -analyze)
  -help              show this help and exit

Options take one dash or two and may be shortened (-nob, -ho, -r, -al, -tot, -c, -l)."""

HISTORY_HELP = f"""usage: {HISTORY_PROG} [-constraint EXPR]... [-limit N]
       {' ' * len(HISTORY_PROG)} [-attempts | -long | -json | -af ATTR...]
       {' ' * len(HISTORY_PROG)} [CLUSTER | CLUSTER.PROC | OWNER]...

Show the jobs that have completed or been removed, newest first, as condor_history does:
ID OWNER SUBMITTED RUN_TIME ST COMPLETED CMD.

which jobs:
  CLUSTER, CLUSTER.PROC  the jobs of a cluster, or one job
  OWNER              the jobs of this user
  -constraint EXPR   only jobs for which the ClassAd expression EXPR is true; given more
                     than once, all must be
  -limit N           at most N jobs (also -match N)

how to show them:
  -attempts          a line per run of each job: where and when it ran, how it ended
  -long              whole job ads, a 'Name = expression' line per attribute
  -json              whole job ads as a JSON array
  -af ATTR...        the values of these attributes or expressions, separated by spaces,
                     a line per job (also -autoformat); the list ends at the next option
  -help              show this help and exit

Options take one dash or two and may be shortened (-c, -m, -l, -att)."""

# The states -hold and -run show, in schedd.job_status's numbers (spelled out, as above):
# held; running, transferring output or suspended.
_HELD = "JobStatus == 5"
_ON_A_MACHINE = "JobStatus == 2 || JobStatus == 6 || JobStatus == 7"


@dataclass
class Options:
    """What a ``roost q`` or ``roost history`` command line asks for."""

    style: str = "table"  # "table", "long", "json" or "af"
    batch: bool = True  # the batch view, unless -nobatch
    dag: bool = False  # -dag: the -nobatch view, a DAG's nodes together
    hold: bool = False
    run: bool = False
    attempts: bool = False  # roost history -attempts
    totals_only: bool = False
    all_users: bool = False
    constraints: list[str] = field(default_factory=list)
    attrs: list[str] = field(default_factory=list)  # the -af expressions
    limit: int = 0
    jobs: list[tuple[int, int | None]] = field(default_factory=list)  # (cluster, proc)
    owners: list[str] = field(default_factory=list)
    help: bool = False

    @property
    def view(self) -> str:
        """The table ``roost q`` shows: q_format's BATCH, NOBATCH, DAG, HOLD or RUN (spelled
        out here: importing q_format imports ClassAds)."""
        if self.run:
            return "run"
        if self.hold:
            return "hold"
        if self.dag:
            return "dag"
        return "batch" if self.batch else "nobatch"


# condor_q's options and the shortest prefixes src/condor_q.V6/queue.cpp accepts.
Q_GRAMMAR = Grammar(
    Q_PROG,
    flags=(
        ("help", 1, {"help": True}),
        ("long", 1, {"style": "long"}),
        ("json", 2, {"style": "json"}),
        ("nobatch", 3, {"batch": False}),
        ("dag", 3, {"dag": True}),
        ("batch", 2, {"batch": True}),
        ("hold", 2, {"hold": True}),
        ("held", 2, {"hold": True}),
        ("run", 1, {"run": True}),
        ("allusers", 2, {"all_users": True}),
        ("all-users", 2, {"all_users": True}),
        ("totals", 3, {"totals_only": True}),
        ("better-analyze", 2, {"style": "analyze"}),
        ("analyze", 2, {"style": "analyze"}),
    ),
    valued=(("constraint", 1), ("limit", 3)),
)

# condor_history's (src/condor_tools/history.cpp), and roost's -attempts.
HISTORY_GRAMMAR = Grammar(
    HISTORY_PROG,
    flags=(
        ("help", 1, {"help": True}),
        ("long", 1, {"style": "long"}),
        ("json", 4, {"style": "json"}),
        ("attempts", 3, {"attempts": True}),
    ),
    valued=(("constraint", 1), ("match", 1), ("limit", 3)),
)

_JOB_ID = re.compile(r"(\d+)(?:\.(\d+))?$")


def _set_value(options: Options, name: str, value: str) -> None:
    if name == "constraint":
        options.constraints.append(value)
    else:
        options.limit = count(f"-{name}", value, "jobs")


def _select(options: Options, arg: str) -> None:
    """An argument that is no option: a cluster, a job or an owner, as condor_q reads it."""
    match = _JOB_ID.match(arg)
    if match:
        options.jobs.append((int(match[1]), None if match[2] is None else int(match[2])))
    elif arg:
        options.owners.append(arg)
    else:
        raise UsageError("an empty argument is neither a job id nor a user")


def parse_q(argv: Sequence[str]) -> Options:
    """The options of a ``roost q`` command line; a UsageError for anything else."""
    options = Q_GRAMMAR.parse(argv, Options(), _set_value, _select)
    if options.run and options.hold:
        raise UsageError("-run and -hold are incompatible")
    if options.totals_only and options.style != "table":
        raise UsageError(f"-totals (the totals only) cannot go with -{options.style}")
    return options


def parse_history(argv: Sequence[str]) -> Options:
    """The options of a ``roost history`` command line; a UsageError for anything else."""
    options = HISTORY_GRAMMAR.parse(argv, Options(batch=False), _set_value, _select)
    if options.attempts and options.style != "table":
        raise UsageError(f"-attempts cannot go with -{options.style}")
    return options


def is_users_query(options: Options) -> bool:
    """Whether the query is the user's own jobs: condor_q's default, unless jobs or owners
    are named or -allusers is given."""
    return not (options.all_users or options.jobs or options.owners)


def build_constraint(options: Options, user: str | None) -> str:
    """The one constraint the schedd evaluates: every -constraint, the view's states and
    (when the query is ``user``'s) the user's jobs, AND-ed with the named jobs and owners
    OR-ed; '' for all jobs."""
    from classad import quote

    required = list(options.constraints)
    if options.hold:
        required.append(_HELD)
    if options.run:
        required.append(_ON_A_MACHINE)
    if user is not None and is_users_query(options):
        required.insert(0, f"Owner == {quote(user)}")
    named = [f"Owner == {quote(owner)}" for owner in options.owners]
    named += [f"ClusterId == {cluster}" if proc is None
              else f"ClusterId == {cluster} && ProcId == {proc}"
              for cluster, proc in options.jobs]
    if named:
        required.append(any_of(named))
    return all_of(required) if required else ""


def connect() -> Schedd:
    """The client the commands ask (tests put a fake one here)."""
    from roost.client import Schedd

    return Schedd()


def clock() -> int:
    """The time the title gives and running jobs' run times are reckoned to."""
    return int(time.time())


def main(argv: Sequence[str]) -> int:
    """Run ``roost q`` with the arguments ``argv``; return the exit status."""
    return cli_options.run_command(parse_q(argv), Q_HELP, run_q)


def history_main(argv: Sequence[str]) -> int:
    """Run ``roost history`` with the arguments ``argv``; return the exit status."""
    return cli_options.run_command(parse_history(argv), HISTORY_HELP, run_history)


_ANALYZED = 10  # jobs -better-analyze reports on unless -limit says otherwise


def _analyze(schedd, constraint: str, limit: int) -> str:
    import io

    from roost.analyze_cli import report

    ids = [f"{ad.eval('ClusterId')}.{ad.eval('ProcId')}" for ad in
           schedd.iter_query(constraint, ["ClusterId", "ProcId"], limit)]
    if not ids:
        return "No job matches.\n"
    out = io.StringIO()
    report(ids, out)
    return out.getvalue()


def _expressions(options: Options) -> list:
    """Every -constraint checked and the -af expressions parsed, before anything is sent."""
    for text in options.constraints:
        expression(text, "constraint")
    return [expression(text, "af") for text in options.attrs]


def _whole_ads(options: Options, ads, exprs) -> str:
    from roost import ad_format

    if options.style == "af":
        return ad_format.autoformat(ads, exprs)
    if options.style == "long":
        return ad_format.long_form(ads)
    return ad_format.json_form(ads)


def _whole_ads_projection(options: Options, exprs, always: Sequence[str]) -> list[str]:
    """-af fetches what its expressions read; -long and -json fetch everything."""
    from roost import ad_format

    if options.style != "af":
        return []
    return sorted({*ad_format.references(exprs), *always}, key=str.lower)


def run_q(options: Options, terminal_width: int = 0, now: int | None = None) -> str:
    """Ask the schedd and return what ``roost q`` prints."""
    from schedd import q_format

    exprs = _expressions(options)
    now = clock() if now is None else now
    with connect() as schedd:
        user = schedd.user
        constraint = build_constraint(options, user)
        if options.style == "analyze":
            return _analyze(schedd, constraint, options.limit or _ANALYZED)
        if options.style != "table":
            projection = _whole_ads_projection(options, exprs, q_format.JOB_ID_ATTRS)
            ads = q_format.sort_jobs(schedd.iter_query(constraint, projection, options.limit))
            return _whole_ads(options, ads, exprs)
        summary = schedd.summarize(constraint)
        view = options.view
        ads = []
        if view != q_format.BATCH and not options.totals_only:
            ads = list(schedd.iter_query(constraint, q_format.projection(view), options.limit))
    return q_format.queue_text(summary, view, ads, now=now,
                               user=user if is_users_query(options) else None,
                               terminal_width=terminal_width, totals_only=options.totals_only)


def run_history(options: Options, terminal_width: int = 0) -> str:
    """Ask the schedd and return what ``roost history`` prints."""
    from schedd import q_format

    exprs = _expressions(options)
    constraint = build_constraint(options, None)
    view = q_format.ATTEMPTS if options.attempts else q_format.HISTORY
    if options.style != "table":
        projection = _whole_ads_projection(options, exprs, ())
    else:
        projection = list(q_format.projection(view))
    with connect() as schedd:
        ads = list(schedd.history(constraint, projection, options.limit))
    if options.style != "table":
        return _whole_ads(options, ads, exprs)
    if options.attempts:
        return q_format.attempts_table(ads, terminal_width)
    return q_format.job_table(ads, q_format.HISTORY, 0, terminal_width)
