"""Built-in functions on values: type tests, lists, conversions, numbers and time values.

Each follows HTCondor's C++ function of the same name (``src/classad/fnCall.cpp``), whose
code and documentation disagree in places; the code is followed.  The main departures
from the documentation: ``int``, ``real``, ``string``, ``size`` and friends give Undefined
for Undefined (not Error); ``sum({})`` and ``avg({})`` are 0; ``isBoolean(1)`` is false.
"""

from __future__ import annotations

import math
import random as _random

from ._builtins import function
from ._classad import ClassAd
from ._fn_convert import (
    byte_len,
    c_div,
    int32,
    int32_from_double,
    int64_from_double,
    is_number,
    operate,
    reltime_secs,
    to_int,
    to_real,
    to_string,
)
from ._fn_time import now_abstime
from ._operators import arithmetic
from ._timeparse import local_offset
from ._values import INT64_MAX, INT64_MIN, AbsTime, Error, RelTime, Undefined, wrap_int

# -- type predicates: never Undefined or Error ----------------------------------------------

_PREDICATES = {
    "isUndefined": lambda v: v is Undefined,
    "isError": lambda v: v is Error,
    "isString": lambda v: type(v) is str,
    "isInteger": lambda v: type(v) is int,
    "isReal": lambda v: type(v) is float,
    "isList": lambda v: type(v) is list,
    "isClassAd": lambda v: isinstance(v, ClassAd),
    "isBoolean": lambda v: type(v) is bool,
    "isAbstime": lambda v: type(v) is AbsTime,
    "isReltime": lambda v: type(v) is RelTime,
}
for _name, _test in _PREDICATES.items():
    function(_name)(_test)


# -- lists ----------------------------------------------------------------------------------


def _member(m, items, op: str):
    # HTCondor's testMember: an Undefined list, or (for ==) an Undefined m, is Undefined;
    # then the list must be a list and m a scalar.
    if items is Undefined or (op == "==" and m is Undefined):
        return Undefined
    if type(items) is not list or type(m) is list or isinstance(m, ClassAd):
        return Error
    if op == "==" and m is Error:
        return Error
    for item in items:
        found, _, m = operate(op, item, m)
        if found is True:
            return True
    return False


@function("member")
def member(m, items):
    return _member(m, items, "==")


@function("identicalMember")
def identical_member(m, items):
    return _member(m, items, "=?=")


_LIST_COMPARE_OPS = {
    "<": "<",
    "<=": "<=",
    "==": "==",
    "!=": "!=",
    ">": ">",
    ">=": ">=",
    "is": "=?=",
    "isnt": "=!=",
}


def _list_compare(op, items, v, need_all: bool):
    if op is Undefined:
        return Undefined
    if type(op) is not str or op not in _LIST_COMPARE_OPS:
        return Error
    if items is Undefined:
        return Undefined
    if type(items) is not list:
        return Error
    op = _LIST_COMPARE_OPS[op]
    for item in items:
        r, _, v = operate(op, item, v)
        if type(r) is not bool:
            # An undefined comparison stops the scan with false, for both functions.
            return False if r is Undefined else Error
        if r is not need_all:
            return r
    return need_all


@function("anyCompare")
def any_compare(op, items, v):
    return _list_compare(op, items, v, need_all=False)


@function("allCompare")
def all_compare(op, items, v):
    return _list_compare(op, items, v, need_all=True)


@function("size")
def size(v):
    t = type(v)
    if t is str:
        return byte_len(v)
    if t is list or isinstance(v, ClassAd):
        return len(v)
    return Undefined if v is Undefined else Error


def _sum(items):
    """The sum and the count of the defined elements, or (Error, 0)."""
    total = 0
    count = 0
    for item in items:
        if item is Undefined:
            continue
        if not is_number(item):
            return Error, 0
        # The first element is taken as it is: sum({true}) is true.
        total = item if count == 0 else arithmetic("+", total, item)
        count += 1
    return total, count


@function("sum")
def sum_(items):
    if type(items) is not list:
        return Undefined if items is Undefined else Error
    return _sum(items)[0]


@function("avg")
def avg(items):
    if type(items) is not list:
        return Undefined if items is Undefined else Error
    total, count = _sum(items)
    if count == 0:
        return total
    return arithmetic("/", total, float(count))


def _bound(items, op: str):
    if type(items) is not list:
        return Undefined if items is Undefined else Error
    best = Undefined
    first = True
    for item in items:
        if item is Undefined:
            continue
        if not is_number(item):
            return Error
        if first:
            best = item
            first = False
        else:
            better, item, best = operate(op, item, best)
            if better is True:
                best = item
    return best


@function("min")
def min_(items):
    return _bound(items, "<")


@function("max")
def max_(items):
    return _bound(items, ">")


# -- conversions ----------------------------------------------------------------------------


@function("int")
def int_(v):
    return to_int(v)


@function("real")
def real(v):
    return to_real(v)


@function("string")
def string(v):
    return to_string(v)


@function("bool")
def bool_(v):
    t = type(v)
    if t is bool:
        return v
    if t is int or t is float:
        return v != 0
    if t is str:
        folded = v.lower() if v.isascii() else None
        if folded == "true":
            return True
        if folded == "false":
            return False
        return Undefined
    if t is RelTime:
        return reltime_secs(v) != 0
    return Undefined if v is Undefined else Error


# -- numbers --------------------------------------------------------------------------------


def _to_long_long(x: float, how) -> int:
    """``(long long) how(x)`` for floor, ceil and rint."""
    if not math.isfinite(x):
        return INT64_MIN
    n = how(x)
    return n if INT64_MIN <= n <= INT64_MAX else INT64_MIN


def _rounding(how):
    def rounding(v):
        if type(v) is int:
            return v
        x = to_real(v)
        if type(x) is not float:
            return Error
        return _to_long_long(x, how)

    return rounding


function("floor")(_rounding(math.floor))
function("ceiling", "ceil")(_rounding(math.ceil))
# Python's round() rounds halves to even, as rint() does in the default rounding mode.
function("round")(_rounding(round))


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def _c_pow(x: float, y: float) -> float:
    """C's pow(): where Python raises, C returns an infinity or NaN."""
    try:
        return math.pow(x, y)
    except OverflowError:
        return -math.inf if x < 0 and _is_odd_integer(y) else math.inf
    except ValueError:
        if x == 0.0:  # a pole: zero to a negative power
            negative = math.copysign(1.0, x) < 0 and _is_odd_integer(y)
            return -math.inf if negative else math.inf
        return math.nan


@function("pow")
def pow_(base, exponent):
    if type(base) is int and type(exponent) is int and exponent >= 0:
        # HTCondor computes in doubles and adds 0.5 before truncating, so pow(-3, 3) is
        # -26 and results past 2**63 are INT64_MIN.
        return int64_from_double(_c_pow(float(base), float(exponent)) + 0.5)
    x = to_real(base)
    y = to_real(exponent)
    if type(x) is not float or type(y) is not float:
        return Error
    return _c_pow(x, y)


def _ceil(x: float) -> float:
    """C's ceil: a result of zero keeps the sign of x (ceil(-0.4) is -0.0)."""
    if not math.isfinite(x):
        return x
    return math.copysign(float(math.ceil(x)), x)


@function("quantize")
def quantize(a, b):
    x = to_real(a)
    if type(x) is not float:
        return Error
    if type(b) is list:
        # The first element not below a; past them all, multiples of the last element;
        # an empty list means no quantizing.
        base = 0.0
        step = 0.0
        for item in b:
            base = item
            step = to_real(item)
            if type(step) is not float:
                return Error
            if step >= x:
                return item
        b = base
    else:
        step = to_real(b)
        if type(step) is not float:
            return Error
    if type(b) is int:
        if b == 0:
            return a
        if type(a) is int:
            return wrap_int(c_div(wrap_int(a + b - 1), b) * b)
        return _ceil(x / b) * b
    if -1e-8 <= step <= 1e-8:
        return a
    return _ceil(x / step) * step


@function("random")
def random_(limit=1.0):
    if type(limit) is int:
        # The limit is read as a C int, so 2**32 + 1 behaves as 1.
        n = int32(limit)
        return _random.randrange(n) if n > 0 else Error
    if type(limit) is float:
        return limit * _random.random() if limit > 0 else Error
    return Error


# -- time values ----------------------------------------------------------------------------


@function("absTime")
def abs_time(t=None, zone=None):
    if t is None:
        return now_abstime()
    offset = None
    if zone is not None:
        tz = type(zone)
        if tz is int:
            offset = int32(zone)
        elif tz is float:
            offset = int32_from_double(zone)
        elif tz is RelTime:
            offset = reltime_secs(zone)
        else:
            return Error
    tt = type(t)
    if tt is int or tt is float or tt is RelTime:
        if tt is int:
            secs = int32(t)
        elif tt is float:
            secs = int32_from_double(t)
        else:
            secs = reltime_secs(t)
        if offset is None:
            offset = local_offset(secs)
        elif offset == -1 and tt is int:
            # HTCondor takes an offset of -1 for "illegal" and fails the evaluation.
            return Error
        return AbsTime(secs, offset)
    if tt is AbsTime or tt is str:
        # A string that was not a literal (those are parsed in the parser) falls through
        # HTCondor's switch and comes back unchanged.
        return t
    return Undefined if t is Undefined else Error


@function("relTime")
def rel_time(t):
    tt = type(t)
    if tt is int:
        return RelTime(int32(t))
    if tt is float:
        return RelTime(t)
    if tt is RelTime:
        return t
    if tt is AbsTime:
        return RelTime(t.secs)
    if tt is str:
        # As for absTime(): HTCondor's switch falls through and reads no time at all.
        return RelTime(0)
    return Undefined if t is Undefined else Error
