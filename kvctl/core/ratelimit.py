"""A client-side limit on secret writes, so bulk work stays under the service's 300 / 10 s per vault.

The service counts requests in a sliding window. A token bucket refilled at 30/s with room for
300 would let ~570 through in one window (a full bucket, then the refill), so the limiter keeps
the same sliding window itself. The window is a little longer than the service's because the
service counts when a request arrives, and arrival times drift from send times by the network.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

SERVICE_WRITE_LIMIT = 300
SERVICE_WINDOW_SECONDS = 10.0
WINDOW_MARGIN_SECONDS = 1.0


class SlidingWindowLimiter:
    """At most `limit` acquisitions in any `window` seconds; `acquire` waits for a free slot."""

    def __init__(
        self,
        limit: int = SERVICE_WRITE_LIMIT,
        window: float = SERVICE_WINDOW_SECONDS + WINDOW_MARGIN_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be positive and window longer than zero")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a slot, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._stamps and self._stamps[0] + self.window <= now:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return waited
                # At least a microsecond: float rounding could leave the oldest stamp a hair inside
                # the window after sleeping exactly the difference, and the loop would never end.
                delay = max(self._stamps[0] + self.window - now, 1e-6)
            # Sleep outside the lock so other threads can look too; whoever wakes first wins.
            self._sleep(delay)
            waited += delay


class VaultWriteLimits:
    """One limiter per vault: the service's limit applies to each vault separately."""

    def __init__(self, make: Callable[[], SlidingWindowLimiter] = SlidingWindowLimiter) -> None:
        self._make = make
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self._lock = threading.Lock()

    def for_vault(self, vault_url: str) -> SlidingWindowLimiter:
        key = vault_url.lower()
        with self._lock:
            if key not in self._limiters:
                self._limiters[key] = self._make()
            return self._limiters[key]
