"""The ``roost`` command: one dispatcher and one error boundary.

A verb names the function that runs it as a ``"package.module:function"`` string, and its
module is imported only when that verb runs (as pip does), so ``roost --help`` and
``roost VERB --help`` never pay for the imports of the others.  The function is
``main(argv) -> int``: it takes the arguments after the verb and returns the exit status.

The error boundary turns an expected failure (a ``RoostError``, or a ClassAd syntax error)
into one line ``roost: <message>`` and exit status 1 (2 for a usage error), Ctrl-C into 130,
and anything else into 3, with the traceback appended to ``$ROOST_HOME/log/cli.log``.
"""

from __future__ import annotations

import datetime
import importlib
import os
import shlex
import sys
import traceback
from collections.abc import Sequence
from typing import NamedTuple

from roost import __version__
from roost.errors import RoostError, UsageError
from roost.home import roost_home


class Verb(NamedTuple):
    target: str  # "package.module:function", imported when the verb runs
    summary: str  # one line for `roost --help`


# The verbs, keyed by their words separated by single spaces.
VERBS: dict[str, Verb] = {
    "classad eval": Verb(
        "roost.classad_eval:main", "evaluate ClassAd expressions in the context of ads"
    ),
    "config": Verb(
        "roost.config_cli:main", "show the effective configuration and where it came from"
    ),
    "token": Verb("roost.token_cli:main", "create and show the tokens that authenticate calls"),
    "status": Verb("matchmaker.status_cli:main", "show the pool's slots, schedds and submitters"),
    "matchmaker": Verb("matchmaker.cli:main", "run the collector daemon"),
    "schedd": Verb("schedd.cli:main", "run the job queue daemon"),
    "startd": Verb("startd.cli:main", "run the machine daemon (also as a glide-in)"),
    "pool": Verb("roost.pool_cli:main", "bring a personal pool up, show it, take it down"),
    "glidein submit": Verb("startd.glidein.cli:submit_main",
                           "submit a pilot that runs startds inside a batch allocation"),
    "glidein status": Verb("startd.glidein.cli:status_main",
                           "show pilots as the batch system and the pool see them"),
    "glidein cancel": Verb("startd.glidein.cli:cancel_main", "cancel pilots"),
    "glidein factory": Verb("startd.glidein.factory_cli:main",
                            "submit and cancel pilots so that capacity follows demand"),
    "analyze": Verb("roost.analyze_cli:main", "say why jobs do or do not run"),
    "userprio": Verb("roost.userprio_cli:main", "show or set users' priorities"),
    "submit": Verb("schedd.submit_cli:main", "queue jobs from a job ClassAd or submit file"),
    "q": Verb("schedd.q_cli:main", "show the jobs in the queue"),
    "wait": Verb("schedd.wait_cli:main", "follow jobs until they finish, with a progress line"),
    "history": Verb("schedd.q_cli:history_main", "show jobs that have left the queue"),
    "rm": Verb("schedd.act_cli:rm_main", "remove jobs"),
    "hold": Verb("schedd.act_cli:hold_main", "hold jobs"),
    "release": Verb("schedd.act_cli:release_main", "release held jobs"),
    "vacate": Verb("schedd.act_cli:vacate_main",
                   "stop running jobs and put them back to idle, to run again later"),
    "suspend": Verb("schedd.act_cli:suspend_main", "stop running jobs where they run"),
    "continue": Verb("schedd.act_cli:continue_main", "continue suspended jobs"),
    "qedit": Verb("schedd.act_cli:qedit_main", "change attributes of idle or held jobs"),
    "retry": Verb("schedd.act_cli:retry_main",
                  "re-queue the failed jobs of a finished cluster, or one failed job"),
    "dag submit": Verb("schedd.dag_cli:submit_main", "queue the nodes of a DAGMan file"),
    "dag status": Verb("schedd.dag_cli:status_main",
                       "show a DAG's nodes by state, and what failed and why"),
    "dag rm": Verb("schedd.dag_cli:rm_main", "stop a DAG and remove its jobs"),
    "rerun": Verb("schedd.act_cli:rerun_main",
                  "run finished jobs again, by constraint or id (qdo's rerun)"),
}

USAGE = "usage: roost [--help] [--version] VERB [ARGS...]"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``roost`` command line ``argv`` (default: ``sys.argv[1:]``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("roost: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``roost status | head``): nothing more to say to it.
        # Point stdout at /dev/null so that flushing at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if isinstance(exc, RoostError):
            print(f"roost: {exc}", file=sys.stderr)
            return exc.exit_code
        if _is_classad_syntax_error(exc):
            print(f"roost: {exc}", file=sys.stderr)
            return 1
        return _report_unexpected(exc, args)


def _dispatch(args: list[str]) -> int:
    if not args:
        print(USAGE, file=sys.stderr)
        return 2
    first = args[0]
    if first in ("-h", "--help"):
        print(_help())
        return 0
    if first == "--version":
        print(f"roost {__version__}")
        return 0
    if first.startswith("-"):
        raise UsageError(f"unknown option {first!r} (see 'roost --help')")
    name, rest = _find_verb(args)
    module_name, _, function_name = VERBS[name].target.partition(":")
    verb_main = getattr(importlib.import_module(module_name), function_name)
    return verb_main(rest)


def _find_verb(args: list[str]) -> tuple[str, list[str]]:
    """The longest verb that ``args`` start with, and the arguments after it."""
    for name in sorted(VERBS, key=lambda name: name.count(" "), reverse=True):
        words = name.split(" ")
        if args[: len(words)] == words:
            return name, args[len(words) :]
    for depth in range(len(args), 0, -1):
        group = " ".join(args[:depth])
        subverbs = [name[len(group) + 1 :] for name in VERBS if name.startswith(group + " ")]
        if subverbs:
            choices = ", ".join(sorted(subverbs))
            if depth == len(args):
                raise UsageError(f"'roost {group}' needs one of: {choices}")
            raise UsageError(f"unknown verb 'roost {group} {args[depth]}' (choose from: {choices})")
    raise UsageError(f"unknown verb {args[0]!r} (see 'roost --help')")


def _help() -> str:
    width = max(len(name) for name in VERBS)
    verbs = "\n".join(f"  {name:<{width}}  {verb.summary}" for name, verb in VERBS.items())
    return (
        f"{USAGE}\n\n"
        "roost, a Condor-style high-throughput scheduler.\n\n"
        f"verbs:\n{verbs}\n\n"
        "options:\n"
        "  -h, --help  show this help and exit\n"
        "  --version   show roost's version and exit\n\n"
        "Run 'roost VERB --help' for the options of a verb."
    )


def _is_classad_syntax_error(exc: Exception) -> bool:
    # Only a verb that imported classad can have raised its syntax error, so the check
    # never imports classad itself.
    syntax_error = getattr(sys.modules.get("classad"), "ClassAdSyntaxError", None)
    return syntax_error is not None and isinstance(exc, syntax_error)


def _report_unexpected(exc: Exception, args: list[str]) -> int:
    log = roost_home() / "log" / "cli.log"
    details = "".join(traceback.format_exception(exc))
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as stream:
            stream.write(f"{stamp} roost {shlex.join(args)}\n{details}\n")
    except OSError as log_error:
        sys.stderr.write(details)
        print(
            f"roost: unexpected error; could not write the log {log}: {log_error.strerror}",
            file=sys.stderr,
        )
        return 3
    print(
        f"roost: unexpected error ({type(exc).__name__}: {exc}); traceback in {log}",
        file=sys.stderr,
    )
    return 3
