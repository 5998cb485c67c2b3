"""A client-side throttle gate shared by every request to one vault.

The SDK retries a 429 with its own backoff, but each of kvctl's concurrent requests does so on its
own: sixteen threads keep knocking on a vault that has just said "too many". When one request is
throttled, the gate holds back every request to that vault for a while (the service's
Retry-After if it gave one, else a delay that doubles while throttling goes on), so the vault
sees a pause rather than a stampede and the retries that follow are likely to get through.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

BASE_DELAY = 0.5
MAX_DELAY = 8.0


# The longest pause kvctl takes because a service asked for it (Retry-After), here and in the
# SDK's retry policy (azure/pipeline.sane_retry_after).
LONGEST_ASKED_PAUSE = 60


class ThrottleGate:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._lock = threading.Lock()
        self._pause_until = 0.0
        self._spread = 0.0  # waiters resume spread over this much time, not all at once
        self._streak = 0  # throttled pauses in a row, without a success in between
        self.pauses = 0

    def wait(self) -> float:
        """Before each request: sleep out any pause in force, plus a random share of the spread so
        that waiting requests do not all resume at the same instant. Returns the time slept."""
        slept = 0.0
        while True:
            with self._lock:
                remaining = self._pause_until - self._clock()
                spread = self._spread
            if remaining <= 0:
                return slept
            pause = remaining + spread * self._jitter()
            self._sleep(pause)
            slept += pause

    def throttled(self, retry_after: float | None = None) -> None:
        """A request was answered 429. Requests already in flight during a pause are answered
        429 too; only the first after a pause ends makes the next pause longer."""
        with self._lock:
            now = self._clock()
            if now < self._pause_until:
                return
            if retry_after is not None and retry_after > 0:
                delay = min(retry_after, LONGEST_ASKED_PAUSE)
            else:
                delay = min(MAX_DELAY, BASE_DELAY * 2**self._streak) * (0.75 + self._jitter() / 2)
            self._streak += 1
            self.pauses += 1
            self._pause_until = now + delay
            self._spread = delay / 2

    def succeeded(self) -> None:
        with self._lock:
            self._streak = 0
