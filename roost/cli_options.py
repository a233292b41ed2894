"""Command lines spelled as HTCondor's tools spell them.

An option takes one leading dash or two and may be shortened down to the shortest prefix the
HTCondor tool accepts (its ``is_dash_arg_prefix(arg, name, shortest)``), so ``-const``,
``-l`` and ``--json`` all work.  ``-af ATTR...`` (or ``-autoformat``) takes the attributes
up to the next option or a lone ``-``.  What each option means is the command's business: a
``Grammar`` lists its options and where their values go.

Nothing here needs gRPC; the ClassAd language is imported only to check an expression, so a
command's ``-help`` stays instant.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost.errors import RoostError, UsageError

if TYPE_CHECKING:
    from classad import ExprTree

# -af's two spellings and their shortest prefixes.
AUTOFORMAT = (("af", 2), ("autoformat", 5))

Flag = tuple[str, int, dict[str, Any]]  # name, shortest prefix, the attributes it sets
Valued = tuple[str, int]  # name and shortest prefix of an option that takes a value


def matches(word: str, name: str, shortest: int) -> bool:
    """Whether ``word`` (an option without its dashes) is ``name`` shortened no further
    than ``shortest`` characters."""
    return len(word) >= shortest and name.startswith(word)


def option_word(arg: str) -> str | None:
    """The option's name without its one or two dashes; None if ``arg`` is no option."""
    if not arg.startswith("-") or arg in ("-", "--"):
        return None
    return arg[2:] if arg.startswith("--") else arg[1:]


@dataclass(frozen=True)
class Grammar:
    """A command's options.  ``parse`` fills an options object: a flag sets its
    attributes, ``-af`` sets ``style`` to "af" and ``attrs`` to its list, and the value of
    any other option goes to ``set_value(options, name, value)``; an argument that is no
    option goes to ``positional(options, arg)`` (a UsageError if there is none)."""

    prog: str
    flags: tuple[Flag, ...]
    valued: tuple[Valued, ...]
    autoformat: bool = True  # whether -af is an option

    def parse(self, argv: Sequence[str], options: Any,
              set_value: Callable[[Any, str, str], None],
              positional: Callable[[Any, str], None] | None = None) -> Any:
        """Fill ``options`` from ``argv`` and return it; a UsageError for anything else."""
        args = list(argv)
        see = f"(see '{self.prog} -help')"
        i = 0
        while i < len(args):
            arg = args[i]
            word = option_word(arg)
            i += 1
            if word is None:
                if positional is None:
                    raise UsageError(f"unexpected argument {arg!r} {see}")
                positional(options, arg)
                continue
            flag = next((sets for name, n, sets in self.flags if matches(word, name, n)), None)
            if flag is not None:
                for key, value in flag.items():
                    setattr(options, key, value)
                continue
            if self.autoformat and any(matches(word, name, n) for name, n in AUTOFORMAT):
                options.style = "af"
                options.attrs, i = _autoformat_list(args, i, arg, see)
                continue
            if self.autoformat and any(word.startswith(f"{name}:") for name, _ in AUTOFORMAT):
                raise UsageError(f"{arg}: autoformat qualifiers are not supported")
            name = next((name for name, n in self.valued if matches(word, name, n)), None)
            if name is None:
                raise UsageError(f"unknown option {arg!r} {see}")
            if i >= len(args):
                raise UsageError(f"{arg} needs a value {see}")
            set_value(options, name, args[i])
            i += 1
        return options


def _autoformat_list(args: list[str], i: int, arg: str, see: str) -> tuple[list[str], int]:
    """The attributes after ``-af`` (up to the next option, or a lone '-', which is
    dropped), and where the next option starts."""
    start = i
    while i < len(args) and not args[i].startswith("-"):
        i += 1
    if i == start:
        raise UsageError(f"{arg} needs at least one attribute {see}")
    return args[start:i], i + 1 if i < len(args) and args[i] == "-" else i


def count(option: str, value: str, noun: str) -> int:
    """The value of an option such as ``-limit`` as a whole number, 0 or more."""
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{option} needs a whole number, not {value!r}") from None
    if number < 0:
        raise UsageError(f"{option} needs a number of {noun}, not {value}")
    return number


def all_of(texts: Sequence[str]) -> str:
    """One ClassAd constraint for which all of ``texts`` must hold ('' for none)."""
    return texts[0] if len(texts) == 1 else " && ".join(f"({text})" for text in texts)


def any_of(texts: Sequence[str]) -> str:
    """One ClassAd constraint for which one of ``texts`` must hold ('' for none)."""
    return texts[0] if len(texts) == 1 else " || ".join(f"({text})" for text in texts)


def expression(text: str, what: str) -> ExprTree:
    """``text`` as an ExprTree; if it is no ClassAd expression, one line naming where it
    goes wrong, as the daemon would (``constraint:1:7: ...``), without asking it."""
    from classad import ClassAdSyntaxError, ExprTree

    try:
        return ExprTree(text)
    except ClassAdSyntaxError as error:
        raise RoostError(f"{what}:{error.line}:{error.column}: {error.message}") from None


def run_command(options: Any, help_text: str, run: Callable[[Any, int], str]) -> int:
    """A command's ``main`` once its options are parsed: the help if they ask for it,
    else what ``run(options, terminal_width())`` returns; exit status 0."""
    if options.help:
        print(help_text)
        return 0
    sys.stdout.write(run(options, terminal_width()))
    return 0


def terminal_width() -> int:
    """The width of the terminal standard output is, 0 if it is a file or a pipe (where
    HTCondor's tools cut no lines)."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else 0
    except (OSError, ValueError):
        return 0
