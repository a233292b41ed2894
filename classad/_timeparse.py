"""Reading and writing the two time types the way HTCondor's ClassAd library does.

Absolute times are ISO 8601 (extended ``2020-01-01T10:00:00+01:00`` or basic
``20200101T100000Z``, seconds and time optional, a missing zone meaning local time);
relative times are ``[-][D+]HH:MM:SS``, shorter ``MM:SS``/``SS`` forms, or unit forms
such as ``1d2h3m4s``.
"""

from __future__ import annotations

import datetime
import math
import re
import time

from ._values import AbsTime, RelTime

_ABS = re.compile(
    r"\s*(?P<y>\d{4})-?(?P<mo>\d{2})-?(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):?(?P<mi>\d{2})(?::?(?P<s>\d{2}))?)?"
    r"\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_CLOCK = re.compile(r"(?:(?P<d>\d+)\+)?(?P<rest>(?:\d+:){0,2}\d+(?:\.\d*)?)?$")
_UNITS = re.compile(r"(?:\s*\d+(?:\.\d*)?\s*[dhms])+\s*", re.IGNORECASE)
_UNIT = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([dhms])", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def local_offset(secs: float) -> int:
    """The local zone's offset from UTC, in seconds east, at a moment."""
    return time.localtime(secs).tm_gmtoff


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Out-of-range months and days roll over, as mktime/timegm do (2020-13-01 is 2021-01-01).
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime.date(year, month, 1).toordinal() - _EPOCH_ORDINAL + day - 1


def parse_abstime(text: str) -> AbsTime | None:
    m = _ABS.match(text)
    if not m:
        return None
    try:
        days = _days_from_civil(int(m["y"]), int(m["mo"]), int(m["d"]))
    except ValueError:
        return None
    secs = days * 86400 + int(m["h"] or 0) * 3600 + int(m["mi"] or 0) * 60 + int(m["s"] or 0)
    zone = m["z"]
    if zone is None:
        offset = local_offset(secs)
        offset = local_offset(secs - offset)
    elif zone == "Z":
        offset = 0
    else:
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60
        if zone[0] == "-":
            offset = -offset
    return AbsTime(secs - offset, offset)


def parse_reltime(text: str) -> RelTime | None:
    s = text.strip()
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:].lstrip()
    if not s:
        return None
    m = _CLOCK.match(s)
    if m and (m["d"] is not None or m["rest"] is not None):
        total = float(int(m["d"] or 0) * 86400)
        if m["rest"]:
            parts = m["rest"].split(":")
            total += sum(float(p) * 60**i for i, p in enumerate(reversed(parts)))
        return RelTime(sign * total)
    if _UNITS.fullmatch(s):
        total = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in _UNIT.findall(s))
        return RelTime(sign * total)
    return None


def format_abstime(t: AbsTime) -> str:
    local = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=t.secs + t.offset)
    sign = "+" if t.offset > 0 else "-"
    off = abs(t.offset)
    return f"{local:%Y-%m-%dT%H:%M:%S}{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"


def format_reltime(secs: float, fraction: bool = True) -> str:
    """``[-][D+]HH:MM:SS`` with leading zero fields left out.  A fraction of a second is
    printed (``%g``) for a time written in an expression and dropped (``fraction=False``)
    for a computed value, as HTCondor's two printers do."""
    out = ""
    if secs < 0:
        out = "-"
        secs = -secs
    part = secs - math.floor(secs)
    whole = int(secs)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    sec = f"{seconds:02d}" if part == 0 or not fraction else f"{seconds + part:g}"
    if days:
        return f"{out}{days}+{hours:02d}:{minutes:02d}:{sec}"
    if hours:
        return f"{out}{hours:02d}:{minutes:02d}:{sec}"
    if minutes:
        return f"{out}{minutes:02d}:{sec}"
    return out + sec
