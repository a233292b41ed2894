"""Built-in time functions: the clock, the parts of times, and formatting.

They follow HTCondor's ``src/classad/fnCall.cpp``.  Integers and reals given where a time
is wanted are seconds since the epoch in the local zone; an absolute time carries its own
zone offset, which ``splitTime`` and ``formatTime`` honour and the ``get*`` functions
ignore (they use the local zone, as HTCondor does).
"""

from __future__ import annotations

import time

from ._builtins import function
from ._classad import ClassAd
from ._fn_convert import (
    byte_len,
    c_div,
    c_mod,
    int32,
    int32_from_double,
    reltime_secs,
    text,
    to_int,
    utf8,
)
from ._timeparse import local_offset
from ._values import AbsTime, Error, RelTime, Undefined


def now_abstime() -> AbsTime:
    """The current time, shown in the local zone."""
    now = int(time.time())
    return AbsTime(now, local_offset(now))


@function("time")
def time_():
    return int(time.time())


@function("currentTime")
def current_time():
    return now_abstime()


@function("timeZoneOffset")
def time_zone_offset():
    return RelTime(local_offset(time.time()))


@function("dayTime")
def day_time():
    now = time.localtime()
    return RelTime(now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)


@function("interval")
def interval(seconds):
    n = to_int(seconds)
    if type(n) is not int:
        return Error
    n = int32(n)
    days = c_div(n, 86400)
    n = c_mod(n, 86400)
    hours = c_div(n, 3600)
    n = c_mod(n, 3600)
    minutes = c_div(n, 60)
    secs = c_mod(n, 60)
    # Leading zero fields are left out; the sign shows on the first field printed.
    if days:
        return f"{days}+{abs(hours):02d}:{abs(minutes):02d}:{abs(secs):02d}"
    if hours:
        return f"{hours}:{abs(minutes):02d}:{abs(secs):02d}"
    if minutes:
        return f"{minutes}:{abs(secs):02d}"
    return str(secs)


# -- the parts of a time --------------------------------------------------------------------


def _as_abstime(t) -> AbsTime | None:
    """An integer or real read as seconds in the local zone (doSplitTime), or None."""
    tt = type(t)
    if tt is AbsTime:
        return t
    if tt is int or tt is float:
        secs = t if tt is int else int32_from_double(t)
        try:
            return AbsTime(secs, local_offset(secs))
        except (OverflowError, OSError, ValueError):
            return None  # beyond the C library's calendar
    return None


def _civil(t: AbsTime) -> time.struct_time | None:
    """Year, month, day, hours... of an absolute time, in its own zone."""
    try:
        return time.gmtime(t.secs + t.offset)
    except (OverflowError, OSError, ValueError):
        return None


def _split_relative(secs: float) -> ClassAd:
    negative = secs < 0
    if negative:
        secs = -secs
    whole = int32_from_double(secs)
    days = c_div(whole, 86400)
    hours = c_div(c_mod(whole, 86400), 3600)
    minutes = c_div(c_mod(whole, 3600), 60)
    seconds = c_mod(whole, 60) + (secs - int(secs))
    # A negative time shows its sign on the first field that is not zero.
    if negative:
        if days > 0:
            days = -days
        elif hours > 0:
            hours = -hours
        elif minutes > 0:
            minutes = -minutes
        else:
            seconds = -seconds
    return ClassAd(
        {
            "Type": "RelativeTime",
            "Days": days,
            "Hours": hours,
            "Minutes": minutes,
            "Seconds": float(seconds),
        }
    )


@function("splitTime")
def split_time(t):
    if t is Undefined:
        return Undefined
    if type(t) is RelTime:
        return _split_relative(float(t.secs))
    a = _as_abstime(t)
    parts = _civil(a) if a is not None else None
    if parts is None:
        return Error
    return ClassAd(
        {
            "Type": "AbsoluteTime",
            "Year": parts.tm_year,
            "Month": parts.tm_mon,
            "Day": parts.tm_mday,
            "Hours": parts.tm_hour,
            "Minutes": parts.tm_min,
            "Seconds": parts.tm_sec,
            "Offset": a.offset,
        }
    )


def _local_parts(t: AbsTime) -> time.struct_time | None:
    try:
        return time.localtime(t.secs)
    except (OverflowError, OSError, ValueError):
        return None


_ABS_FIELDS = {
    "getYear": lambda p: p.tm_year,
    "getMonth": lambda p: p.tm_mon,
    "getDayOfYear": lambda p: p.tm_yday - 1,  # 0-based, as C's tm_yday
    "getDayOfMonth": lambda p: p.tm_mday,
    "getDayOfWeek": lambda p: (p.tm_wday + 1) % 7,  # Sunday is 0
    "getHours": lambda p: p.tm_hour,
    "getMinutes": lambda p: p.tm_min,
    "getSeconds": lambda p: p.tm_sec,
}
_REL_FIELDS = {
    "getDays": lambda s: c_div(s, 86400),
    "getHours": lambda s: c_div(c_mod(s, 86400), 3600),
    "getMinutes": lambda s: c_div(c_mod(s, 3600), 60),
    "getSeconds": lambda s: c_mod(s, 60),
}


def _field_getter(name: str):
    of_abs = _ABS_FIELDS.get(name)
    of_rel = _REL_FIELDS.get(name)

    def get_field(t):
        if type(t) is AbsTime and of_abs is not None:
            parts = _local_parts(t)
            return Error if parts is None else of_abs(parts)
        if type(t) is RelTime and of_rel is not None:
            return of_rel(reltime_secs(t))
        return Error

    return get_field


for _name in (*_ABS_FIELDS, "getDays"):
    function(_name)(_field_getter(_name))


# -- formatTime -----------------------------------------------------------------------------


def _is_leap(year: int) -> bool:
    return c_mod(year, 4) == 0 and c_mod(year, 400) not in (100, 200, 300)


def _fixed_from_gregorian(year: int, month: int, day: int) -> int:
    adjust = 0 if month <= 2 else (-1 if _is_leap(year) else -2)
    y = year - 1
    return (
        365 * y
        + c_div(y, 4)
        - c_div(y, 100)
        + c_div(y, 400)
        + c_div(367 * month - 362, 12)
        + adjust
        + day
    )


def _day_numbers(year: int, month: int, day: int) -> tuple[int, int]:
    """Weekday (Sunday 0) and day of the year (0-based), by HTCondor's own calendar
    arithmetic, which also answers for out-of-range fields."""
    fixed = _fixed_from_gregorian(year, month, day)
    return c_mod(fixed, 7), fixed - _fixed_from_gregorian(year, 1, 1)


def _ad_int(ad: ClassAd, name: str, default: int) -> int:
    v = ad.eval(name)
    return v if type(v) is int else default


def _format_fields(t):
    """(year, month, day, hours, minutes, seconds) for formatTime, or None."""
    if isinstance(t, ClassAd):
        # A hand-made split time: a field that is missing or not an integer is zero in
        # C's struct tm, which is the year 1900, January, day 0.
        return (
            _ad_int(t, "Year", 1900),
            _ad_int(t, "Month", 1),
            _ad_int(t, "Day", 0),
            _ad_int(t, "Hours", 0),
            _ad_int(t, "Minutes", 0),
            _ad_int(t, "Seconds", 0),
        )
    a = _as_abstime(t)
    parts = _civil(a) if a is not None else None
    if parts is None:
        return None
    return parts[:6]


@function("formatTime")
def format_time(t=None, fmt=None):
    if t is None:
        return _strftime("%c", time.localtime())
    fields = _format_fields(t)
    if fields is None:
        return Error
    if fmt is None:
        fmt = "%c"
    elif type(fmt) is not str:
        return Error
    year, month, day, hours, minutes, seconds = fields
    weekday, yearday = _day_numbers(year, month, day)
    # time.strftime takes Monday as weekday 0 and a 1-based day of the year.
    return _strftime(
        fmt, (year, month, day, hours, minutes, seconds, (weekday + 6) % 7, yearday + 1, 0)
    )


_STRFTIME_LIMIT = 1022


def _strftime(fmt: str, parts) -> str:
    try:
        out = time.strftime(fmt, parts)
    except (ValueError, OverflowError, UnicodeError):
        # Fields out of range (only a hand-made split time has them): C's strftime
        # prints them anyway; Python's refuses.
        return Error
    # HTCondor formats into a 1024-byte buffer; longer text is cut at 1022 bytes.
    if len(out) > _STRFTIME_LIMIT // 4 and byte_len(out) > _STRFTIME_LIMIT:
        out = text(utf8(out)[:_STRFTIME_LIMIT])
    return out
