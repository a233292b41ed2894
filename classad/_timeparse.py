"""Reading and writing the two time types the way HTCondor's ClassAd library does.

``absTime("...")`` and ``relTime("...")`` literals are read as literals.cpp reads them,
leniencies and all: an absolute time is four digits of year and then up to five pairs of
digits (month, day, hour, minute, second) separated by anything that is not a digit,
with an optional ``Z``, ``+HH:MM`` or ``+HHMM`` zone (a missing zone is local time), and
missing fields are zero (so ``"2020"`` is 2019-12-31, day zero of January); a relative
time is read from its end: ``[-][D+ or Dd][H: or Hh][M: or Mm][S[.S] or Ss]``.  Times
print as HTCondor prints them, C integer conversions included, so an infinite relative
time prints as HTCondor's does rather than failing.
"""

from __future__ import annotations

import math
import re
import time

from ._values import AbsTime, RelTime, c_int, c_time

_SPACE = frozenset(" \t\n\v\f\r")
_DIGIT = frozenset("0123456789")
_LEADING_DIGITS = re.compile(r"[0-9]*")


def local_offset(secs: float) -> int:
    """The local zone's offset from UTC, in seconds east, at a moment."""
    return time.localtime(secs).tm_gmtoff


def _atoi(text: str) -> int:
    """C ``atoi`` of a field that starts with a digit: its leading digits."""
    return int(_LEADING_DIGITS.match(text).group() or 0)


def _revint(digits: str) -> int:
    """literals.cpp ``revInt``: ``from_chars`` into an int, which leaves 0 on overflow."""
    n = int(digits or 0)
    return n if n <= 2147483647 else 0


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, for any year; a month outside
    1..12 or a day outside the month roll over, as mktime normalizes them."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468 + day - 1


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _zone(text: str) -> tuple[str, int | None]:
    """literals.cpp ``extractTimeZone``: a trailing ``+HHMM``/``-HHMM`` cut off, and its
    offset in seconds; the text unchanged and None if it has none."""
    zone = text[-5:]
    if zone[0] in "+-" and all(c in _DIGIT for c in zone[1:]):
        offset = int(zone[1:3]) * 3600 + int(zone[3:5]) * 60
        return text[:-5], -offset if zone[0] == "-" else offset
    return text, None


def parse_abstime(text: str) -> AbsTime | None:
    """``Literal::MakeAbsTime``; None for text it refuses."""
    s = text
    n = len(s)
    i = n - 1
    while i >= 0 and s[i] in _SPACE:
        i -= 1
    offset = None
    if i > 0 and s[i] in "zZ":
        offset = 0
        s = s[:i] + s[i + 1 :]
    elif n > 5 and s[n - 5] in "+-":
        s, offset = _zone(s)
    elif n > 6 and s[n - 6] in "+-" and s[n - 3] == ":":
        s, offset = _zone(s[: n - 3] + s[n - 2 :])
    n = len(s)
    # year, month, day, hour, minute, second: the month is January and the rest zero
    # when not given (tm is zeroed first, so a missing day is day 0 of the month).
    fields = [0, 1, 0, 0, 0, 0]
    i = _next_digit(s, 0)
    if i > n - 4:
        return None
    fields[0] = _atoi(s[i : i + 4])
    i += 4
    for f in range(1, 6):
        i = _next_digit(s, i)
        if i <= n - 2:
            fields[f] = _atoi(s[i : i + 2])
            i += 2
    if _next_digit(s, i) < n:
        return None
    year, month, day, hour, minute, second = fields
    utc = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    # mktime reads the fields as local standard time, and fails with -1.
    if utc + time.timezone == -1:
        return None
    if offset is None:
        offset = local_offset(utc + time.timezone)
    return AbsTime(utc - offset, offset)


def _next_digit(s: str, i: int) -> int:
    while i < len(s) and s[i] not in _DIGIT:
        i += 1
    return i


def parse_reltime(text: str) -> RelTime | None:
    """``Literal::MakeRelTime``, read from the end of the text; None for text it refuses."""
    s = text
    i = len(s) - 1

    def skip_space(i: int) -> int:
        while i >= 0 and s[i] in _SPACE:
            i -= 1
        return i

    def digits_before(i: int) -> tuple[str, int]:
        end = i
        while i >= 0 and s[i] in _DIGIT:
            i -= 1
        return s[i + 1 : end + 1], i

    secs = 0.0
    i = skip_space(i)
    if i >= 0 and (s[i] in "sS" or s[i] in _DIGIT):
        if s[i] in "sS":
            i = skip_space(i - 1)
        number, i = digits_before(i)
        if i >= 0 and s[i] == ".":
            whole, i = digits_before(i - 1)
            number = f"{whole}.{number}"
        secs = float(number) if number not in ("", ".") else 0.0
    parts = []
    for marks in ("mM:", "hH:", "dD+"):
        i = skip_space(i)
        value = 0
        if i >= 0 and s[i] in marks:
            number, i = digits_before(skip_space(i - 1))
            value = _revint(number)
        parts.append(value)
    minutes, hours, days = parts
    i = skip_space(i)
    negative = i >= 0 and s[i] == "-"
    if negative:
        i -= 1
    if skip_space(i) >= 0:
        return None
    # days*86400 + hrs*3600 + mins*60 is int arithmetic in C, wrapping at 32 bits.
    whole = (days * 86400 + hours * 3600 + minutes * 60 + 0x80000000) % 0x100000000
    total = whole - 0x80000000 + secs
    return RelTime(-total if negative else total)


def format_abstime(t: AbsTime, pad_year: bool = False) -> str:
    """``absTimeToString``: the time in its own zone, the year as C's ``%Y`` writes it
    (year 1 is "1"), or in four digits with ``pad_year``, so that it reads back."""
    local = math.floor(t.secs) + t.offset
    days, rest = divmod(local, 86400)
    year, month, day = _civil_from_days(days)
    sign = "+" if t.offset > 0 else "-"
    off = abs(t.offset)
    year_text = f"{year:04d}" if pad_year else str(year)
    return (
        f"{year_text}-{month:02d}-{day:02d}T{rest // 3600:02d}:{rest % 3600 // 60:02d}:"
        f"{rest % 60:02d}{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
    )


def _c_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def format_reltime(secs: float, fraction: bool = True) -> str:
    """``relTimeToString``: ``[-][D+]HH:MM:SS`` with leading zero fields left out.

    A time written in an expression keeps its fraction of a second (printed ``%g``); a
    computed value is first stored in a C ``time_t``, which drops it (``fraction=False``).
    The whole seconds go through a C ``int``, so a time too long for one prints as
    HTCondor's does (``-24855+-3:-14:-8``) instead of failing."""
    if not fraction:
        secs = float(c_time(secs))
    out = ""
    if secs < 0:
        out = "-"
        secs = -secs
    part = secs - math.floor(secs) if math.isfinite(secs) else math.nan
    whole = c_int(secs)
    hours = whole - _c_div(whole, 86400) * 86400
    minutes = hours - _c_div(hours, 3600) * 3600
    seconds = minutes - _c_div(minutes, 60) * 60
    days, hours, minutes = _c_div(whole, 86400), _c_div(hours, 3600), _c_div(minutes, 60)
    sec = f"{seconds:02d}" if part == 0 else f"{seconds + part:02g}"
    if days:
        return f"{out}{days}+{hours:02d}:{minutes:02d}:{sec}"
    if hours:
        return f"{out}{hours:02d}:{minutes:02d}:{sec}"
    if minutes:
        return f"{out}{minutes:02d}:{sec}"
    return out + sec
