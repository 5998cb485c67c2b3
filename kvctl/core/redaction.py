"""Values kvctl must never print: every secret value it reads or writes, and every token.

Any text that leaves the process other than the data the user asked for (log lines, error
messages, --debug output) goes through `redact`, as a last line of defence behind code that
already keeps values out of messages.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
_MIN_LENGTH = 4
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_\.=]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*")

_lock = threading.Lock()
_values: set[str] = set()


def register(value: str | None) -> None:
    """Remember a sensitive value so `redact` masks it (very short values would mask noise)."""
    if value and len(value) >= _MIN_LENGTH:
        with _lock:
            _values.add(value)
            stripped = value.strip()
            if len(stripped) >= _MIN_LENGTH:
                _values.add(stripped)


def redact(text: str) -> str:
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _JWT.sub(MASK, text)


def forget_all() -> None:
    with _lock:
        _values.clear()
