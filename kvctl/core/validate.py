"""Validation of everything a user types, before any request is sent.

Each function raises `UsageError` (exit 2) with a message that says what was wrong and what
would be right.
"""

from __future__ import annotations

import datetime as dt
import re

from .errors import UsageError

SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}\Z")
VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]\Z")
VERSION = re.compile(r"^[0-9a-fA-F]{32}\Z")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_VALUE_BYTES = 25 * 1024
MAX_CONTENT_TYPE = 255
MAX_TAGS = 15
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256

_DURATION_PART = re.compile(r"(\d+)([smhdwy])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def secret_name(name: str) -> str:
    if not SECRET_NAME.match(name):
        raise UsageError(
            f"invalid secret name {name!r}",
            hint="secret names are 1-127 characters: letters, digits and '-'",
        )
    return name


def vault_name(name: str) -> str:
    if not VAULT_NAME.match(name):
        raise UsageError(
            f"invalid vault name {name!r}",
            hint="vault names are 3-24 characters: letters, digits and single '-', starting with a letter",
        )
    return name


def version(text: str) -> str:
    if not VERSION.match(text):
        raise UsageError(f"invalid secret version {text!r}", hint="a version is 32 hexadecimal characters")
    return text.lower()


def guid(text: str, what: str = "id") -> str:
    if not GUID.match(text):
        raise UsageError(f"invalid {what} {text!r}", hint="expected a GUID like 00000000-0000-0000-0000-000000000000")
    return text.lower()


def duration(text: str) -> dt.timedelta:
    """`90d`, `12h`, `1w2d`, `30m`, `1y`: whole units, largest first or in any order."""
    cleaned = text.strip().lower()
    parts = _DURATION_PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise UsageError(f"invalid duration {text!r}", hint="use a number and a unit: 30d, 12h, 90m, 2w, 1y (or 1d12h)")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds > 100 * 365 * 86400:
        raise UsageError(f"duration {text!r} is too long", hint="at most 100 years")
    return dt.timedelta(seconds=seconds)


def instant(text: str, now: dt.datetime) -> dt.datetime:
    """A duration from now (`90d`) or a date/time (`2026-01-31`, `2026-01-31T12:00:00Z`), in UTC."""
    cleaned = text.strip()
    if re.fullmatch(r"(\d+[smhdwy])+", cleaned.lower()):
        return now + duration(cleaned)
    try:
        parsed = dt.datetime.fromisoformat(cleaned.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"invalid date or duration {text!r}",
            hint="use a duration from now (90d, 12h) or a date (2026-01-31, 2026-01-31T12:00:00Z)",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if not dt.datetime(1970, 1, 2, tzinfo=dt.UTC) <= parsed <= dt.datetime(9999, 1, 1, tzinfo=dt.UTC):
        raise UsageError(f"date {text!r} is out of range")
    return parsed.astimezone(dt.UTC)


def tag(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"invalid tag {text!r}", hint="tags are NAME=VALUE, e.g. --tag env=prod")
    name = name.strip()
    if len(name) > MAX_TAG_NAME or len(value) > MAX_TAG_VALUE:
        raise UsageError(
            f"tag {name[:40]!r} is too long",
            hint=f"tag names are at most {MAX_TAG_NAME} characters, values at most {MAX_TAG_VALUE}",
        )
    return name, value


def tags(texts: tuple[str, ...] | list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in texts:
        name, value = tag(text)
        if name in out and out[name] != value:
            raise UsageError(f"tag {name!r} is given twice with different values")
        out[name] = value
    if len(out) > MAX_TAGS:
        raise UsageError(f"too many tags ({len(out)})", hint=f"a secret can have at most {MAX_TAGS} tags")
    return out


def secret_value(value: str) -> str:
    size = len(value.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise UsageError(
            f"the value is {size} bytes; Key Vault allows at most {MAX_VALUE_BYTES} bytes (25 KiB)",
            hint="store large data elsewhere (e.g. a storage account) and keep its key in Key Vault",
        )
    return value


def content_type(text: str) -> str:
    if len(text) > MAX_CONTENT_TYPE:
        raise UsageError(f"content type is longer than {MAX_CONTENT_TYPE} characters")
    return text


def env_var_name(text: str) -> str:
    if not ENV_VAR.match(text):
        raise UsageError(
            f"invalid environment variable name {text!r}",
            hint="use letters, digits and '_', not starting with a digit",
        )
    return text
