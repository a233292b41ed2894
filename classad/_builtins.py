"""The registry of built-in functions, and the two ways a function is called.

HTCondor hands every function its arguments unevaluated, so each decides its own
strictness.  Most functions only need the values, so they are registered with
``@function`` and receive evaluated arguments as plain Python values (``Undefined`` and
``Error`` included, so they can still choose how to treat them).  The few that must see
unevaluated arguments (``ifThenElse``, ``eval``, ``unparse``, ...) use ``@lazy_function`` and
receive the evaluation state and the compiled argument closures.

A call with a number of arguments the function does not take is the value ``Error``;
so is a call of a name nobody registered.  Names are case-insensitive.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

# lower-case name -> (implementation, takes_state, min_args, max_args or None)
FUNCTIONS: dict[str, tuple[Callable, bool, int, int | None]] = {}


def _arity(fn: Callable, skip: int) -> tuple[int, int | None]:
    params = list(inspect.signature(fn).parameters.values())[skip:]
    low = sum(1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return low, None
    return low, sum(1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)


def function(*names: str) -> Callable[[Callable], Callable]:
    """Register ``fn(*values) -> value``; its signature gives the accepted argument counts."""

    def register(fn: Callable) -> Callable:
        low, high = _arity(fn, 0)
        for name in names:
            FUNCTIONS[name.lower()] = (fn, False, low, high)
        return fn

    return register


def lazy_function(*names: str, min_args: int = 0, max_args: int | None = None) -> Callable:
    """Register ``fn(state, args) -> value`` where ``args`` are compiled closures.

    Each closure is called as ``arg(state)`` to evaluate that argument where the call
    stands, and carries the argument's syntax tree as ``arg.node``.
    """

    def register(fn: Callable) -> Callable:
        for name in names:
            FUNCTIONS[name.lower()] = (fn, True, min_args, max_args)
        return fn

    return register
