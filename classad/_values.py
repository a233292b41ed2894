"""The value types of the ClassAd language that Python has no type for.

Booleans, integers, reals, strings and lists are plain Python values (``bool`` is tested
before ``int`` everywhere, since ``bool`` subclasses ``int``).  A ClassAd value is a
``classad.ClassAd``.  What remains are the two special values and the two time types.
"""

from __future__ import annotations

import datetime
import enum

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class Value(enum.Enum):
    """The special values; their numbers match HTCondor's bindings (``classad2.Value``)."""

    Error = 1
    Undefined = 2

    def __repr__(self) -> str:
        return f"Value.{self.name}"


Undefined = Value.Undefined
Error = Value.Error


def wrap_int(n: int) -> int:
    """Wrap a Python int to a signed 64-bit integer, as C++ arithmetic does in practice."""
    if INT64_MIN <= n <= INT64_MAX:
        return n
    return ((n - INT64_MIN) & 0xFFFFFFFFFFFFFFFF) + INT64_MIN


def c_int(x: float) -> int:
    """A real converted to a C ``int`` as x86-64 converts it: truncated toward zero, and
    INT_MIN when it does not fit (NaN and the infinities included)."""
    if x != x or not -2147483649.0 < x < 2147483648.0:
        return -2147483648
    return int(x)


def c_time(x: float) -> int:
    """A real converted to a C ``time_t`` (64 bits) the same way."""
    if x != x or not -9223372036854775808.0 <= x < 9223372036854775808.0:
        return INT64_MIN
    return int(x)


class AbsTime:
    """An absolute time: seconds since the epoch, and the zone offset it is shown in."""

    __slots__ = ("secs", "offset")

    def __init__(self, secs: int | float, offset: int = 0) -> None:
        self.secs = secs
        self.offset = offset

    def __eq__(self, other: object) -> bool:
        # Identity (=?=) and tree equality include the zone; "==" compares ``secs``.
        return isinstance(other, AbsTime) and (self.secs, self.offset) == (other.secs, other.offset)

    def __hash__(self) -> int:
        return hash(("abstime", self.secs, self.offset))

    def __repr__(self) -> str:
        return f"AbsTime({self.secs!r}, {self.offset!r})"

    def to_datetime(self) -> datetime.datetime:
        """The time as an aware UTC datetime, as HTCondor's Python bindings return it."""
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        return epoch + datetime.timedelta(seconds=self.secs)


class RelTime:
    """A relative time (a duration) in seconds."""

    __slots__ = ("secs",)

    def __init__(self, secs: int | float) -> None:
        self.secs = secs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RelTime) and self.secs == other.secs

    def __hash__(self) -> int:
        return hash(("reltime", self.secs))

    def __repr__(self) -> str:
        return f"RelTime({self.secs!r})"
