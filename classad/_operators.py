"""The operators of the ClassAd language on values, as HTCondor's operators.cpp has them.

Each function takes already-evaluated operands (except the short-circuit operators, which
the compiler handles itself) and never raises.  The rules, which the tests pin against
HTCondor's own library:

- Strict operators give Error if any operand is Error, else Undefined if any is Undefined,
  and only then look at types; so ``"a" + undefined`` is Undefined, not Error.
- Booleans are promoted to 0/1 by arithmetic and comparison, not by bitwise operators.
- Integer arithmetic wraps at 64 bits, divides toward zero, and ``x / 0`` is Error; real
  ``%`` is always Error, and a real result of +inf is Error (-inf and NaN are not), the
  sign of a zero divisor counting as IEEE 754 has it (``1 / -0.0`` is -inf).
- Shifts behave as HTCondor's compiled code does on x86-64, count taken modulo 64 (see
  ``_shift``).
- Strings compare only with strings, ignoring ASCII case; ``=?=`` is exact and never
  promotes types.
- Relative and absolute times take part in ``+ - * /`` and comparisons as HTCondor allows.
"""

from __future__ import annotations

import math

from ._classad import ClassAd
from ._values import INT64_MAX, INT64_MIN, AbsTime, Error, RelTime, Undefined, c_int, wrap_int

_INF = math.inf
_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(s: str) -> str:
    """ASCII-only lower-casing, as C's strcasecmp does (non-ASCII letters keep their case)."""
    return s.lower() if s.isascii() else s.translate(_UPPER)


def _number(v):
    """A bool/int/float as a Python number, or None for anything else."""
    t = type(v)
    if t is int or t is float:
        return v
    if t is bool:
        return int(v)
    return None


def _real_result(r: float):
    return Error if r == _INF else r


def _divide(x: float, y: float) -> float:
    """``x / y`` as C++ divides doubles (IEEE 754), where Python raises for a zero divisor:
    the sign of a zero counts, and 0/0 is NaN."""
    if y == 0.0:
        if x == 0.0 or x != x:
            return math.nan
        return math.copysign(_INF, x) * math.copysign(1.0, y)
    return x / y


def _int_div(a: int, b: int):
    if b == 0:
        return Error
    if a == INT64_MIN and b == -1:
        return wrap_int(-a - 1)
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _int_mod(a: int, b: int):
    if b == 0:
        return Error
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _special(a, b):
    """Error or Undefined if a strict binary operator must give it, else None."""
    if a is Error or b is Error:
        return Error
    if a is Undefined or b is Undefined:
        return Undefined
    return None


def _time_arith(op: str, a, b):
    # doTimeArithmetic: an absolute time moves by the relative time converted to a C int;
    # relative-time results are not checked, so they may be inf or NaN.
    ta, tb = type(a), type(b)
    if op == "+":
        if ta is AbsTime and tb is RelTime:
            return AbsTime(a.secs + c_int(b.secs), a.offset)
        if ta is RelTime and tb is AbsTime:
            return AbsTime(b.secs + c_int(a.secs), b.offset)
        if ta is RelTime and tb is RelTime:
            return RelTime(a.secs + b.secs)
    elif op == "-":
        if ta is AbsTime and tb is AbsTime:
            return RelTime(a.secs - b.secs)
        if ta is AbsTime and tb is RelTime:
            return AbsTime(a.secs - c_int(b.secs), a.offset)
        if ta is RelTime and tb is RelTime:
            return RelTime(a.secs - b.secs)
    elif op == "*":
        if ta is RelTime and tb in (int, float):
            return RelTime(a.secs * b)
        if tb is RelTime and ta in (int, float):
            return RelTime(a * b.secs)
    elif op == "/" and ta is RelTime and tb in (int, float):
        return RelTime(_divide(float(a.secs), float(b)))
    return Error


def arithmetic(op: str, a, b):
    """``+ - * / %``."""
    x = _number(a)
    y = _number(b)
    if x is None or y is None:
        special = _special(a, b)
        if special is not None:
            return special
        return _time_arith(op, a, b)
    if type(x) is int and type(y) is int:
        if op == "+":
            return wrap_int(x + y)
        if op == "-":
            return wrap_int(x - y)
        if op == "*":
            return wrap_int(x * y)
        if op == "/":
            return _int_div(x, y)
        return _int_mod(x, y)
    x = float(x)
    y = float(y)
    if op == "+":
        return _real_result(x + y)
    if op == "-":
        return _real_result(x - y)
    if op == "*":
        return _real_result(x * y)
    if op == "/":
        return _real_result(_divide(x, y))
    return Error


def comparison(op: str, a, b):
    """``< <= > >= == !=``: strict, numbers promoted, strings without regard to case."""
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        x, y = fold(a), fold(b)
    else:
        x = _number(a)
        y = _number(b)
        if x is None or y is None:
            special = _special(a, b)
            if special is not None:
                return special
            if (ta is AbsTime and tb is AbsTime) or (ta is RelTime and tb is RelTime):
                x, y = a.secs, b.secs
            else:
                return Error
    if op == "==":
        return x == y
    if op == "!=":
        return x != y
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def identical(a, b):
    """``=?=``: same type and same value, strings case-sensitively; lists and ads are Error."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is list or isinstance(a, ClassAd):
        return Error
    return a == b


def not_identical(a, b):
    r = identical(a, b)
    return r if r is Error else not r


def bitwise(op: str, a, b):
    """``& | ^ << >> >>>``: integers only (booleans are Error)."""
    special = _special(a, b)
    if special is not None:
        return special
    if type(a) is not int or type(b) is not int:
        return Error
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    return _shift(op, a, b)


def _shift(op: str, a: int, b: int) -> int:
    """Shifts as doBitwise runs on x86-64, where a hardware shift takes its count modulo
    64: ``>>`` on a negative number shifts one bit at a time ``min(64, b)`` times (so a
    count below 1 leaves it alone and 64 or more gives -1), and ``>>>`` on a negative
    number clears the sign bit after one shift, then shifts by ``(b - 1) % 64``."""
    if op == "<<":
        return wrap_int(a << (b & 63))
    if a >= 0:
        return a >> (b & 63)
    if op == ">>":
        return a >> min(b, 64) if b > 0 else a
    return ((a >> 1) & INT64_MAX) >> ((b - 1) & 63)


def truth(v):
    """A value as a condition: True/False, or Undefined/Error (strings, lists... are Error)."""
    t = type(v)
    if t is bool:
        return v
    if t is int or t is float:
        return v != 0
    if v is Undefined:
        return Undefined
    return Error


def unary(op: str, v):
    if v is Error or v is Undefined:
        return v
    t = type(v)
    if op == "-":
        if t is int:
            return wrap_int(-v)
        if t is float:
            return -v
        if t is RelTime:
            return RelTime(-v.secs)
        return Error
    if op == "+":
        return v if t in (int, float, RelTime) else Error
    if op == "!":
        if t is bool:
            return not v
        if t is int or t is float:
            return v == 0
        return Error
    return ~v if t is int else Error
