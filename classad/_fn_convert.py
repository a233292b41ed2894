"""How HTCondor's functions convert and compare values, C++ quirks included.

The built-in functions see values the way HTCondor's C++ library does, and several of its
results follow from C rather than from the ClassAd language: ``strtod`` reads the numbers
in strings, a double that does not fit a ``long long`` becomes INT64_MIN (what x86
produces), many arguments pass through a 32-bit ``int`` and wrap, and strings are byte
strings (sizes, offsets and case-folding count UTF-8 bytes, and only ASCII letters have
case).  This module holds those conversions, so that each function module states only its
own rules.

``operate`` mirrors ``Operation::Operate``, which promotes its operands in place: a
function that compares in a loop (``min``, ``member``, ``anyCompare``) keeps the promoted
operand for the next round, which is why ``min({true, 2})`` is the integer 1.
"""

from __future__ import annotations

import math
import re

from ._operators import comparison, identical
from ._unparse import format_value
from ._values import INT64_MIN, AbsTime, Error, RelTime, Undefined

_INT32_MIN = -(1 << 31)
_TWO63 = float(1 << 63)
_TWO31 = float(1 << 31)

# C's strtod: leading white space, then the longest prefix that is a decimal or
# hexadecimal number, an infinity or a NaN (with an optional payload).
_STRTOD = re.compile(
    r"""[ \t\n\v\f\r]*
    (?P<sign>[+-]?)
    (?:
        (?P<hex>0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)
      | (?P<dec>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)
      | (?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)
    )""",
    re.VERBOSE | re.ASCII,
)


def strtod(text: str) -> float | None:
    """The number ``strtod`` reads at the start of ``text``, or None if it reads nothing."""
    m = _STRTOD.match(text)
    if m is None:
        return None
    negative = m["sign"] == "-"
    if m["hex"] is not None:
        try:
            x = float.fromhex(m["hex"])
        except OverflowError:
            x = math.inf
    elif m["dec"] is not None:
        x = float(m["dec"])
    elif m["inf"] is not None:
        x = math.inf
    else:
        x = math.nan
    return -x if negative else x


def int64_from_double(x: float) -> int:
    """``(long long) x``: truncation, and INT64_MIN for NaN and out-of-range values."""
    if x != x or x >= _TWO63 or x < -_TWO63:
        return INT64_MIN
    return int(x)


def int32_from_double(x: float) -> int:
    """``(int) x``: truncation, and INT32_MIN for NaN and out-of-range values."""
    if x != x or x >= _TWO31 or x < -_TWO31:
        return _INT32_MIN
    return int(x)


def int32(n: int) -> int:
    """A 64-bit integer read into a C ``int`` (``Value::IsIntegerValue(int&)``): it wraps."""
    return ((n + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def c_div(a: int, b: int) -> int:
    """C integer division: the quotient truncated toward zero (``b`` is not zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def c_mod(a: int, b: int) -> int:
    """C's ``%``: the remainder takes the sign of the dividend (``b`` is not zero)."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def reltime_secs(t: RelTime) -> int:
    """A relative time read as ``time_t``, which the library does through an ``int``."""
    return int32_from_double(float(t.secs))


def utf8(s: str) -> bytes:
    """A string's bytes, as the C++ library holds them."""
    return s.encode("utf-8", "surrogateescape")


def text(b: bytes) -> str:
    """Bytes back to a string; bytes that are not UTF-8 survive the round trip."""
    return b.decode("utf-8", "surrogateescape")


def byte_len(s: str) -> int:
    """A string's length in bytes, which is what HTCondor counts."""
    return len(s) if s.isascii() else len(utf8(s))


_UPPERCASE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWERCASE = b"abcdefghijklmnopqrstuvwxyz"
_TO_LOWER = bytes.maketrans(_UPPERCASE, _LOWERCASE)
_TO_UPPER = bytes.maketrans(_LOWERCASE, _UPPERCASE)


def ascii_lower(s: str) -> str:
    """C's ``tolower`` over each byte in the C locale: only ASCII letters change."""
    return s.lower() if s.isascii() else text(utf8(s).translate(_TO_LOWER))


def ascii_upper(s: str) -> str:
    """C's ``toupper`` over each byte in the C locale."""
    return s.upper() if s.isascii() else text(utf8(s).translate(_TO_UPPER))


def c_strcmp(a: str, b: str) -> int:
    """``strcmp`` reduced to -1, 0 or 1 (code point order is UTF-8 byte order)."""
    if a.isascii() and b.isascii():
        return (a > b) - (a < b)
    x, y = utf8(a), utf8(b)
    return (x > y) - (x < y)


def c_strcasecmp(a: str, b: str) -> int:
    """``strcasecmp`` reduced to -1, 0 or 1: ASCII letters compare as lower case."""
    return c_strcmp(ascii_lower(a), ascii_lower(b))


# -- conversions (value.cpp convertValueTo*Value) -------------------------------------------


def is_number(v) -> bool:
    """``Value::IsNumber``: booleans count as numbers."""
    t = type(v)
    return t is int or t is float or t is bool


def to_string(v):
    """``string(v)``: a string as is, any other value as its text; Undefined and Error
    stay what they are."""
    if type(v) is str or v is Undefined or v is Error:
        return v
    return format_value(v)


def to_real(v):
    """``real(v)``: a float, or Undefined (for Undefined) or Error."""
    t = type(v)
    if t is float:
        return v
    if t is int or t is bool:
        return float(v)
    if t is str:
        x = strtod(v)
        return Error if x is None else x
    if t is AbsTime:
        return float(v.secs)
    if t is RelTime:
        return float(reltime_secs(v))
    return Undefined if v is Undefined else Error


def to_int(v):
    """``int(v)``: an int, or Undefined (for Undefined) or Error."""
    t = type(v)
    if t is int:
        return v
    if t is bool:
        return int(v)
    if t is float:
        return int64_from_double(v)
    if t is str:
        x = strtod(v)
        return Error if x is None else int64_from_double(x)
    if t is AbsTime:
        return int(v.secs)
    if t is RelTime:
        return reltime_secs(v)
    return Undefined if v is Undefined else Error


# -- the operators as functions call them ----------------------------------------------------


def _promote(a, b):
    """``Operation::coerceToNumber`` on two defined values: booleans become integers, and
    an integer meeting a real becomes a real; other types are left alone."""
    ta, tb = type(a), type(b)
    if ta not in (bool, int, float) or tb not in (bool, int, float):
        return a, b
    if ta is bool:
        a, ta = int(a), int
    if tb is bool:
        b, tb = int(b), int
    if ta is int and tb is float:
        a = float(a)
    elif ta is float and tb is int:
        b = float(b)
    return a, b


def operate(op: str, a, b):
    """A comparison as ``Operation::Operate`` does it for a function: returns the result
    and both operands as the operation leaves them (promoted, unless it stopped first at
    Error or Undefined, or is ``=?=``/``=!=``, which never promote)."""
    if op == "=?=":
        return _identical(a, b), a, b
    if op == "=!=":
        r = _identical(a, b)
        return (r if r is Error else not r), a, b
    if a is Error or b is Error or a is Undefined or b is Undefined:
        return comparison(op, a, b), a, b
    a, b = _promote(a, b)
    return comparison(op, a, b), a, b


def _identical(a, b):
    # HTCondor's =?= on absolute times also compares their zone offsets.
    if type(a) is AbsTime and type(b) is AbsTime:
        return a.secs == b.secs and a.offset == b.offset
    return identical(a, b)
