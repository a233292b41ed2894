"""``roost classad eval``: evaluate ClassAd expressions, as HTCondor's ``classad_eval`` does.

Arguments take effect from left to right.  A whole ad (``'[ a = 1; b = 2 ]'``) or a list of
assignments (``'a = 1'``, ``'a = 1; b = 2'``) updates the context ad, which starts empty; any
other argument is an expression, evaluated with the context ad as MY and the target ad as
TARGET, and printed in ClassAd syntax (strings quoted, ``true``/``false``, ``undefined``,
``error``).  Unless ``-quiet`` came earlier, the context ad is printed on one line before the
first expression, and again before each expression that follows a change to it.

Two things differ from HTCondor's tool: an argument is an ad only if all of it is one
(``'[ a = 1 ].a'`` is an expression), and reading a ``-my`` file counts as a change to the
context ad, so it is printed before the next expression.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from roost.errors import RoostError, UsageError

if TYPE_CHECKING:
    import classad

PROG = "roost classad eval"
USAGE = f"usage: {PROG} [-quiet] [-my FILE] [-target FILE] AD|ASSIGNMENTS|EXPR..."
HELP = f"""{USAGE}

Evaluate ClassAd expressions, as HTCondor's classad_eval does.  Arguments take effect
from left to right: an ad ('[ a = 1; b = 2 ]') or assignments ('a = 1; b = 2') update
the context ad, which starts empty; any other argument is an expression, evaluated with
the context ad as MY and the target ad as TARGET and printed in ClassAd syntax.  The
context ad is printed before the first expression, and again after each change to it.

options, which may come between arguments:
  -my FILE      make the ad in FILE (old or new syntax; - is standard input) the
                context ad; also spelled -my-file and -file
  -target FILE  make the ad in FILE the target ad; also spelled -target-file
  -quiet        do not print the context ad before later expressions
  --            take every later argument as an ad, assignments or an expression
  -h, -help     show this help and exit"""

_MY_OPTIONS = ("-my", "-my-file", "-file")
_TARGET_OPTIONS = ("-target", "-target-file")
_HELP_OPTIONS = ("-h", "-help", "--help")


class Step(NamedTuple):
    """One thing the command line asks for, in the order it asks."""

    action: str  # "help", "quiet", "my", "target" or "argument"
    text: str = ""  # the file name of "my" and "target", the text of "argument"
    number: int = 0  # the position of an "argument" on the command line, from 1


def main(argv: Sequence[str]) -> int:
    """Run ``roost classad eval`` with the arguments ``argv``; return the exit status."""
    steps = parse_command_line(argv)
    if any(step.action == "help" for step in steps):
        print(HELP)
        return 0
    if not any(step.action == "argument" for step in steps):
        raise UsageError(f"nothing to evaluate (see '{PROG} -help')")
    return run(steps)


def parse_command_line(argv: Sequence[str]) -> list[Step]:
    """The steps of ``argv``; this needs no ClassAd, so ``-help`` stays instant."""
    steps: list[Step] = []
    numbered = enumerate(argv, start=1)
    options = True
    for number, arg in numbered:
        if options and arg == "--":
            options = False
        elif options and arg in _HELP_OPTIONS:
            steps.append(Step("help"))
        elif options and arg == "-quiet":
            steps.append(Step("quiet"))
        elif options and arg in _MY_OPTIONS + _TARGET_OPTIONS:
            _, path = next(numbered, (0, None))
            if path is None:
                raise UsageError(f"{arg} needs a FILE (see '{PROG} -help')")
            steps.append(Step("my" if arg in _MY_OPTIONS else "target", path))
        else:
            steps.append(Step("argument", arg, number))
    return steps


def run(steps: Sequence[Step]) -> int:
    """Carry out ``steps``, printing each expression's value to standard output.

    A syntax error stops the run: it is printed as ``SOURCE:LINE:COLUMN: message`` and
    the exit status is 1.
    """
    import classad

    try:
        evaluate(steps)
    except classad.ClassAdSyntaxError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def evaluate(steps: Sequence[Step]) -> None:
    """Carry out ``steps``; a syntax error raises, named after its source."""
    import classad

    context = classad.ClassAd()
    target = None
    quiet = False
    changed = True
    for step in steps:
        if step.action == "quiet":
            quiet = True
        elif step.action == "my":
            context = read_ad(step.text)
            changed = True
        elif step.action == "target":
            target = read_ad(step.text)
        else:
            parsed = parse_argument(step.text, step.number)
            if isinstance(parsed, classad.ClassAd):
                for name in parsed:
                    context[name] = parsed.lookup(name)
                changed = True
            else:
                if changed and not quiet:
                    print(repr(context))
                changed = False
                print(parsed.simplify(context, target))


def read_ad(path: str) -> classad.ClassAd:
    """The ad in the file ``path`` (``-`` is standard input), in old or new syntax."""
    import classad

    source = "<stdin>" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RoostError(f"cannot read {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise RoostError(f"cannot read {path}: it is not UTF-8 text") from error
    try:
        return classad.parse_one(text)
    except classad.ClassAdSyntaxError as error:
        raise error.located(source) from error


def parse_argument(text: str, number: int) -> classad.ClassAd | classad.ExprTree:
    """A command-line argument as a whole ad, as assignments (an ad), or as an expression.

    When it is none of them, the error reported is the one found further into the text:
    ``'x = 1 + * 2'`` fails as assignments at the ``*``, not as an expression at the ``=``.
    """
    import classad

    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        with contextlib.suppress(classad.ClassAdSyntaxError):
            return classad.parse_one(text)
    try:
        return classad.ExprTree(text)
    except classad.ClassAdSyntaxError as error:
        expression_error = error
    try:
        return classad.parse_one(f"[{text}]")
    except classad.ClassAdSyntaxError as error:
        assignments_error = error
    try:
        # Without the closing bracket, an error at the end of the text reads "unexpected
        # end of input" instead of naming a bracket that nobody typed.
        classad.parse_one(f"[{text}")
    except classad.ClassAdSyntaxError as error:
        assignments_error = error
    source = f"<argument {number}>"
    # The bracket put in front moved the first line one column to the right.  On a tie,
    # the expression's error is the one reported.
    errors = [
        expression_error.located(source),
        assignments_error.located(source, column_offset=-1),
    ]
    raise max(errors, key=lambda error: (error.line, error.column))
