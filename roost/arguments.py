"""argparse for verbs, reporting through the ``roost`` error boundary (``roost.cli``).

A usage error becomes a ``UsageError`` (one line, exit status 2) instead of argparse's own
exit, and ``--help`` ends the verb with status 0 instead of ``sys.exit``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from roost.errors import UsageError


class _Exit(Exception):
    """argparse finished the command itself (``--help``), with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            print(message, file=sys.stderr, end="")
        raise _Exit(status)


def parse(parser: Parser, argv: Sequence[str]) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status when argparse finished the verb itself."""
    try:
        return parser.parse_args(list(argv))
    except _Exit as done:
        return done.status
