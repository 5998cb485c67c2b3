"""Values kvctl must never print: every secret value it reads or writes, and every token.

Any text that leaves the process other than the data the user asked for (log lines, error
messages, --debug output) goes through `redact`, as a last line of defence behind code that
already keeps values out of messages.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
MIN_LENGTH = 4  # shorter values are not masked: they would mask noise (and show the value by where)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_\.=]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*")

_lock = threading.Lock()
_values: set[str] = set()


def register(value: str | None) -> None:
    """Remember a sensitive value so `redact` masks it (very short values would mask noise)."""
    if value and len(value) >= MIN_LENGTH:
        with _lock:
            _values.add(value)
            stripped = value.strip()
            if len(stripped) >= MIN_LENGTH:
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


class StreamRedactor:
    """Masks secret values in text that arrives in pieces (a command's output, line by line).

    `redact` on each line alone misses a value that spans lines (a PEM key): its lines arrive one
    at a time. So text that could be the start of a registered value is held back until it is
    either the whole value (masked) or can no longer be one; `close` lets go of the rest, masked.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        """Take the next piece; return what can safely be shown now (already masked)."""
        self._pending += text
        with _lock:
            values = [v for v in _values if "\n" in v or "\r" in v]
        cut = _safe_cut(self._pending, values)
        shown, self._pending = self._pending[:cut], self._pending[cut:]
        return redact(shown) if shown else ""

    def close(self) -> str:
        rest, self._pending = self._pending, ""
        return redact(rest) if rest else ""


def _safe_cut(text: str, values: list[str]) -> int:
    """The longest head of `text` that neither ends inside a value nor holds the start of one that
    may still be completed by text yet to come."""
    cut = len(text)
    for value in values:
        for start in range(len(text)):
            tail = text[start:]
            if len(tail) < len(value) and value.startswith(tail):
                cut = min(cut, start)
                break
    changed = True
    while changed:  # a whole value must not be split by the cut either
        changed = False
        for value in values:
            start = text.find(value)
            while start != -1:
                if start < cut < start + len(value):
                    cut, changed = start, True
                start = text.find(value, start + 1)
    return cut
