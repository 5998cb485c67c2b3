"""Kusto's text forms of datetime, timespan and other values: parsing literals and `to*` arguments,
and `tostring`."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from .kql_lexer import TIMESPAN_UNITS

UTC = dt.UTC
_DATETIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?")
_SPAN = re.compile(r"(-)?(\d+(?:\.\d+)?)\s*([A-Za-z]+)")


def parse_datetime(text: str) -> dt.datetime | None:
    """ISO 8601 (date only, or with time, fraction up to 7 digits, `Z` or an offset); naive means UTC."""
    m = _DATETIME.fullmatch(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0").ljust(7, "0")[:6])
    try:
        value = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=UTC
        )
        if zone and zone.upper() != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            value = value - sign * offset
    except (ValueError, OverflowError):
        return None
    return value


def parse_timespan(text: str) -> dt.timedelta | None:
    """`[-][d.]hh:mm[:ss[.fffffff]]` or a number with a unit (`2d`, `1.5h`)."""
    s = text.strip()
    try:
        m = _CLOCK.fullmatch(s)
        if m:
            neg, days, hours, minutes, seconds, frac = m.groups()
            value = dt.timedelta(
                days=int(days or 0),
                hours=int(hours),
                minutes=int(minutes),
                seconds=int(seconds or 0),
                microseconds=int((frac or "0").ljust(7, "0")[:6]),
            )
            return -value if neg else value
        m = _SPAN.fullmatch(s)
        if m and m.group(3).lower() in TIMESPAN_UNITS:
            value = dt.timedelta(seconds=float(m.group(2)) * TIMESPAN_UNITS[m.group(3).lower()])
            return -value if m.group(1) else value
    except (ValueError, OverflowError):
        return None
    return None


def format_datetime_iso(value: dt.datetime) -> str:
    value = value.astimezone(UTC)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        base += f".{value.microsecond:06d}0"
    return base + "Z"


def format_timespan(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.days:
        text = f"{value.days}.{text}"
    if value.microseconds:
        text += f".{value.microseconds:06d}0"
    return sign + text


def to_string(value: Any) -> str:
    """Kusto's tostring(): null is the empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return format_datetime_iso(value)
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=to_string, ensure_ascii=False)
