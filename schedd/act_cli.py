"""``roost rm``, ``hold``, ``release``, ``vacate``, ``suspend``, ``continue``, ``qedit`` and
``retry``: changing jobs in the queue (and, for vacate, suspend and continue, on the
machines that run them).

Jobs are named as condor_rm names them: ``CLUSTER``, ``CLUSTER.PROC``, a user name (all of
that user's jobs), ``-constraint EXPR`` or ``-all``; each name is one request, reported in
condor_rm's words ("Job 5.0 marked for removal", "All jobs in cluster 5 have been marked for
removal").  Only a job's owner or a queue administrator may change it.  The exit status is
1 if any name matched no job or any job could not be changed.
"""

from __future__ import annotations

import argparse
import re
import sys

from roost.errors import RoostError, UsageError

_ID = re.compile(r"\d+(\.\d+)?$")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]*$")

# verb -> (JobAction name, past participle as condor_rm prints it, default reason; None
# where the job keeps no reason, as condor_suspend and condor_continue take none)
_VERBS = {
    "rm": ("Remove", "marked for removal", "via roost rm"),
    "hold": ("Hold", "held", "via roost hold"),
    "release": ("Release", "released", "via roost release"),
    "vacate": ("Vacate", "vacated", "via roost vacate"),
    "suspend": ("Suspend", "suspended", None),
    "continue": ("Continue", "continued", None),
}
_HTCONDOR_NAMES = {"vacate": "condor_vacate_job"}


def _selection_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("jobs", nargs="*", metavar="CLUSTER[.PROC]|USER",
                        help="jobs by id, all jobs of a cluster, or all jobs of a user")
    parser.add_argument("-constraint", "--constraint", metavar="EXPR",
                        help="the jobs for which the ClassAd expression EXPR is true")
    parser.add_argument("-all", "--all", action="store_true",
                        help="all the jobs you may change")
    return parser


def _targets(args) -> list[tuple[str, str, str]]:
    """(kind, job spec for the client, words for the message) of each name."""
    targets = []
    for name in args.jobs:
        if _ID.match(name):
            kind = "job" if "." in name else "cluster"
            targets.append((kind, name, f"Job {name}" if kind == "job"
                            else f"All jobs in cluster {name}"))
        elif _USER.match(name):
            targets.append(("user", f"Owner == {_quote(name)}", f"All jobs of user {name}"))
        else:
            raise UsageError(f"not a job id or user name: {name!r}")
    if args.constraint:
        targets.append(("constraint", args.constraint,
                        f"All jobs matching constraint ({args.constraint})"))
    if args.all:
        targets.append(("all", "true", "All jobs"))
    if not targets:
        raise UsageError("name the jobs: CLUSTER, CLUSTER.PROC, USER, -constraint EXPR or -all")
    return targets


def _quote(text: str) -> str:
    import classad

    return classad.quote(text)


def act_main(verb: str, argv: list[str]) -> int:
    action_name, done, default_reason = _VERBS[verb]
    parser = _selection_parser(f"roost {verb}", f"{action_name} jobs, as "
                               f"{_HTCONDOR_NAMES.get(verb, f'condor_{verb}')} does.")
    if default_reason is not None:
        parser.add_argument("-reason", "--reason", metavar="TEXT",
                            help=f"why (default: '{default_reason}')")
    args = parser.parse_args(argv)
    reason = getattr(args, "reason", None) or default_reason or ""
    targets = _targets(args)

    from roost.client import JobAction, Schedd

    failed = False
    with Schedd() as schedd:
        for kind, spec, words in targets:
            result = schedd.act(JobAction[action_name], spec, reason)
            for error in result.eval("Errors"):
                print(error, file=sys.stderr)
                failed = True
            if not result.eval("TotalJobAds"):
                print(f"{words}: no such job" if kind == "job" else f"{words}: no jobs found",
                      file=sys.stderr)
                failed = True
            elif result.eval("TotalSuccess"):
                verb_words = "has been" if kind == "job" else "have been"
                print(f"{words} {verb_words} {done}" if kind != "job" else f"{words} {done}")
    return 1 if failed else 0


def rm_main(argv: list[str]) -> int:
    return act_main("rm", argv)


def hold_main(argv: list[str]) -> int:
    return act_main("hold", argv)


def release_main(argv: list[str]) -> int:
    return act_main("release", argv)


def vacate_main(argv: list[str]) -> int:
    return act_main("vacate", argv)


def suspend_main(argv: list[str]) -> int:
    return act_main("suspend", argv)


def continue_main(argv: list[str]) -> int:
    return act_main("continue", argv)


def qedit_main(argv: list[str]) -> int:
    """``roost qedit JOBS... ATTR VALUE [ATTR VALUE...]`` as condor_qedit: the jobs come
    first (ids, a user, or -constraint), then attribute and expression pairs."""
    parser = argparse.ArgumentParser(
        prog="roost qedit",
        description="Set attributes of idle or held jobs: roost qedit CLUSTER[.PROC]|USER "
        "ATTR VALUE..., or roost qedit -constraint EXPR ATTR VALUE...")
    parser.add_argument("words", nargs="+", metavar="JOBS ATTR VALUE")
    parser.add_argument("-constraint", "--constraint", metavar="EXPR")
    args = parser.parse_args(argv)
    words = list(args.words)
    names = []
    if not args.constraint:
        if not words:
            raise UsageError("name the jobs to edit")
        names.append(words.pop(0))
        while words and _ID.match(words[0]) and len(words) % 2 == 1:
            names.append(words.pop(0))
    if not words or len(words) % 2:
        raise UsageError("give attributes and values in pairs: ATTR VALUE [ATTR VALUE...]")
    attrs = dict(zip(words[::2], words[1::2], strict=True))
    if args.constraint:
        spec: str | list[str] = args.constraint
    elif all(_ID.match(name) for name in names):
        spec = names
    elif len(names) == 1 and _USER.match(names[0]):
        spec = f"Owner == {_quote(names[0])}"
    else:
        raise UsageError(f"not a job id or user name: {names[0]!r}")

    from roost.client import Schedd

    with Schedd() as schedd:
        changed = schedd.edit_many(spec, attrs)
    for name in attrs:
        print(f'Set attribute "{name}" for {changed} matching jobs.')
    if not changed:
        raise RoostError("no matching jobs")
    return 0


def retry_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="roost retry",
        description="Re-queue the failed jobs (removed, blocked, signalled, or with a non-zero "
        "exit) of a cluster whose jobs have all finished, or one failed job; those that "
        "succeeded stay done.  Jobs blocked behind them wait for them again.")
    parser.add_argument("job", metavar="CLUSTER[.PROC]")
    parser.add_argument("-reason", "--reason", metavar="TEXT", default="via roost retry")
    args = parser.parse_args(argv)
    if not _ID.match(args.job):
        raise UsageError(f"not a cluster or job id: {args.job!r}")

    from roost.client import Schedd

    with Schedd() as schedd:
        count = schedd.retry(args.job, args.reason)
    what = f"job {args.job}" if "." in args.job else f"cluster {args.job}"
    print(f"{count} failed job(s) of {what} re-queued.")
    return 0


def rerun_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="roost rerun",
        description="Run again the finished jobs (those that have left the queue, whatever "
        "their end) that the constraint or the ids name, as qdo's rerun does; jobs blocked "
        "behind them wait for them again.  The constraint is evaluated against each job's "
        "last ad in the history.")
    parser.add_argument("jobs", nargs="*", metavar="CLUSTER[.PROC]")
    parser.add_argument("-constraint", "--constraint", metavar="EXPR", default="")
    parser.add_argument("-reason", "--reason", metavar="TEXT", default="via roost rerun")
    args = parser.parse_args(argv)
    for name in args.jobs:
        if not _ID.match(name):
            raise UsageError(f"not a cluster or job id: {name!r}")
    if not args.jobs and not args.constraint:
        raise UsageError("name the jobs to run again: CLUSTER[.PROC]... or -constraint EXPR")

    from roost.client import JobAction, Schedd

    spec: str | list[str] = args.jobs or args.constraint
    if args.jobs and args.constraint:
        named = " || ".join(f"ClusterId == {c}" + (f" && ProcId == {p}" if p else "")
                            for c, _, p in (name.partition(".") for name in args.jobs))
        spec = f"({args.constraint}) && ({named})"
    with Schedd() as schedd:
        result = schedd.act(JobAction.Rerun, spec, args.reason)
    for error in result.eval("Errors"):
        print(error, file=sys.stderr)
    count = result.eval("TotalSuccess")
    if not result.eval("TotalJobAds"):
        raise RoostError("no finished jobs match")
    print(f"{count} finished job(s) re-queued.")
    return 1 if result.eval("Errors") else 0
