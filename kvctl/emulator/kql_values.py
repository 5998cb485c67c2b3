"""Kusto's text forms of datetime, timespan and other values: parsing literals and `to*` arguments,
and `tostring`."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from .kql_lexer import TIMESPAN_UNITS
from .kql_model import MAX_STRING_CHARS, check_size

UTC = dt.UTC
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE | re.ASCII,
)
_CLOCK = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?", re.ASCII)
_SPAN = re.compile(r"(-)?(\d+(?:\.\d+)?)\s*([A-Za-z]+)", re.ASCII)


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
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))  # Kusto writes real(403) as "403"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    check_size(text_size(value, MAX_STRING_CHARS), MAX_STRING_CHARS, "tostring() of a dynamic value")
    text = json.dumps(value, separators=(",", ":"), default=to_string, ensure_ascii=False)
    check_size(len(text), MAX_STRING_CHARS, "tostring() of a dynamic value")  # escapes add a little
    return text


def text_size(value: Any, limit: int) -> int:
    """About how many characters `value` takes as JSON text (at least that many), counted without
    building it; the count stops once it passes `limit`. A list may hold one long string many times."""
    size = 0
    pending = [value]
    while pending and size <= limit:
        item = pending.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, list):
            size += len(item) + 1
            pending.extend(item)
        elif isinstance(item, dict):
            size += 2 * len(item) + 1
            for key, inner in item.items():
                size += len(str(key)) + 2
                pending.append(inner)
        else:
            size += 30 if isinstance(item, dt.datetime | dt.timedelta) else 8
    return size


def to_long(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v if -(2**63) <= v < 2**63 else None
    if isinstance(v, float):
        return int(v) if math.isfinite(v) and -(2**63) <= v < 2**63 else None
    if isinstance(v, str):
        try:
            return to_long(int(v.strip()))
        except ValueError:
            real = to_real(v)
            return int(real) if real is not None and math.isfinite(real) else None
    return None


def to_real(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def to_bool(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str):
        return {"true": True, "false": False, "1": True, "0": False}.get(v.strip().lower())
    return None


def to_datetime(v: Any) -> dt.datetime | None:
    if isinstance(v, dt.datetime):
        return v
    return parse_datetime(v) if isinstance(v, str) else None


def to_timespan(v: Any) -> dt.timedelta | None:
    if isinstance(v, dt.timedelta):
        return v
    return parse_timespan(v) if isinstance(v, str) else None


def is_empty(v: Any) -> bool:
    return v is None or v == ""


MAX_DYNAMIC_DEPTH = 100


def parse_json(v: Any) -> Any:
    """parse_json()/todynamic(): a string holding JSON becomes that value (null if it is not JSON,
    or nested deeper than the engine walks); a dynamic value stays as it is."""
    if not isinstance(v, str):
        return v
    if _nesting(v) > MAX_DYNAMIC_DEPTH:
        return None
    try:
        return json.loads(v)
    except ValueError:
        return None


def _nesting(text: str) -> int:
    # An upper bound of JSON nesting from the brackets outside strings, without recursion.
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def json_cell(value: Any, type_: str) -> Any:
    """A result cell as JSON: datetime and timespan become Kusto's text forms (datetime
    `2026-12-01T10:00:00Z`, timespan `1.02:03:04`); everything else is already JSON-ready."""
    if value is None:
        return None
    if type_ in ("datetime", "timespan"):
        return to_string(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return to_string(value)
    return value


def wrap64(value: int) -> int:
    """Kusto's long arithmetic wraps around at 64 bits (it does not grow like Python's int)."""
    return ((value + 2**63) % 2**64) - 2**63
