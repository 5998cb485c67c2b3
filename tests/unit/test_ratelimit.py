"""The client-side write limiter, with a fake clock."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core.ratelimit import SlidingWindowLimiter, VaultWriteLimits


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_burst_up_to_the_limit_does_not_wait_and_the_next_waits_for_the_window():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(3)] == [0, 0, 0]
    clock.now += 4
    assert limiter.acquire() == pytest.approx(6.0)
    assert clock.now == pytest.approx(1010.0)


@given(st.lists(st.floats(0, 5), min_size=1, max_size=120), st.integers(1, 10), st.floats(0.5, 20))
def test_no_window_ever_holds_more_than_the_limit(gaps, limit, window):
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit, window, clock=clock, sleep=clock.sleep)
    stamps = []
    for gap in gaps:
        clock.now += gap
        limiter.acquire()
        stamps.append(clock.now)
    for i, start in enumerate(stamps):
        inside = [t for t in stamps[i:] if t < start + window]
        assert len(inside) <= limit


def test_float_rounding_cannot_make_it_wait_for_ever():
    # Sleeping exactly (oldest + window - now) lands a hair short of the window's end with these.
    clock = FakeClock()
    clock.now = 1015.5019177957421

    def sleep(seconds: float) -> None:
        assert len(clock.sleeps) < 5, "waiting in a loop"
        clock.sleep(seconds)

    limiter = SlidingWindowLimiter(1, 17.552264690697243, clock=clock, sleep=sleep)
    limiter.acquire()
    clock.now = 1019.9137372879434
    limiter.acquire()
    assert clock.now >= 1015.5019177957421 + 17.552264690697243


def test_the_default_is_the_services_write_limit_with_a_margin():
    limiter = SlidingWindowLimiter()
    assert limiter.limit == 300 and limiter.window > 10.0


def test_threads_share_the_limit():
    """12 threads at once, 5 slots per 60 s window, on a fake clock that the threads share (a
    sleeping thread moves it on for all): no 60 s ever holds more than 5 of the 12, so they span
    at least two more windows."""
    clock = FakeClock()
    lock = threading.Lock()
    seen = threading.local()

    def now() -> float:
        with lock:
            seen.value = clock.now
        return seen.value

    def sleep(seconds: float) -> None:
        with lock:
            clock.sleep(seconds)
        time.sleep(0)  # let the other threads look at the moved clock

    limiter = SlidingWindowLimiter(5, 60.0, clock=now, sleep=sleep)
    stamps: list[float] = []

    def take() -> None:
        limiter.acquire()
        stamps.append(seen.value)  # the clock reading the slot was taken at

    threads = [threading.Thread(target=take) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    stamps.sort()
    assert len(stamps) == 12
    assert all(stamps[i + 5] - stamps[i] >= 60.0 for i in range(len(stamps) - 5)), stamps
    assert stamps[-1] - stamps[0] >= 120.0, stamps


def test_each_vault_has_its_own_limiter():
    limits = VaultWriteLimits()
    assert limits.for_vault("https://A.vault.azure.net") is limits.for_vault("https://a.vault.azure.net")
    assert limits.for_vault("https://a.vault.azure.net") is not limits.for_vault("https://b.vault.azure.net")
