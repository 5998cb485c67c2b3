"""Asynchrony like the service's (`--lifecycle-delay`): delete, recover, purge and restore take
effect at once in the store but become visible only after a delay, as the recordings show.

- after a delete: the secret is gone at once; `GET /deletedsecrets/N` is 404 (and the deleted list
  leaves it out) until the delay has passed; recover and purge answer 409 "currently being deleted";
- after a recover or a restore: the secret reads as 404 (and lists leave it out) until then; writes
  to the name answer 409 "currently being recovered";
- after a purge: the deleted secret is gone at once, but the name cannot be reused (409 "currently
  being deleted") until then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .http import ApiError

DELETING = "delete"
PURGING = "purge"
RECOVERING = "recover"
RESTORING = "restore"


class Lifecycle:
    def __init__(self, delay: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self._delay = delay
        self._clock = clock
        self._pending: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def start(self, vault: str, name: str, kind: str) -> None:
        delay = self._delay()
        with self._lock:
            if delay > 0:
                self._pending[(vault, name.lower())] = (kind, self._clock() + delay)
            else:
                self._pending.pop((vault, name.lower()), None)

    def pending(self, vault: str, name: str) -> str | None:
        """The operation on this name that is still becoming visible, if any."""
        key = (vault, name.lower())
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[1]:
                del self._pending[key]
                return None
            return entry[0]

    def hidden(self, vault: str, kinds: tuple[str, ...]) -> set[str]:
        """Lower-cased names whose pending operation is one of `kinds` (for lists)."""
        now = self._clock()
        with self._lock:
            return {n for (v, n), (k, until) in self._pending.items() if v == vault and k in kinds and now < until}

    def refuse_write(self, vault: str, name: str) -> None:
        """409 while an earlier operation on the name is still running."""
        kind = self.pending(vault, name)
        if kind in (DELETING, PURGING):
            raise ApiError(409, "Conflict", f"Secret {name} is currently being deleted.")
        if kind in (RECOVERING, RESTORING):
            raise ApiError(409, "Conflict", f"Secret {name} is currently being recovered.")
