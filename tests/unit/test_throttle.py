"""Client-side throttling: the gate shared by one vault's requests, and the bulk fetch's second,
one-at-a-time try for values that stayed throttled."""

from __future__ import annotations

import pytest

from kvctl.core.bulk import fetch_bulk
from kvctl.core.errors import NotFoundError, PartialFailure, UnavailableError
from kvctl.core.refs import SecretRef
from kvctl.core.throttle import BASE_DELAY, MAX_DELAY, ThrottleGate
from tests.fakes import FakeVault


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def gate(clock: Clock, jitter: float = 0.5) -> ThrottleGate:
    return ThrottleGate(clock=clock, sleep=clock.sleep, jitter=lambda: jitter)


def test_no_throttling_no_waiting():
    clock = Clock()
    assert gate(clock).wait() == 0 and clock.slept == []


def test_a_429_pauses_every_request_and_pauses_grow_while_throttling_goes_on():
    clock = Clock()
    g = gate(clock)  # jitter 0.5: delays exactly as computed, waiters add half the spread
    g.throttled()
    assert g.wait() == pytest.approx(BASE_DELAY + BASE_DELAY / 2 * 0.5)
    g.throttled()
    first_pause = clock.now
    assert g.wait() == pytest.approx(2 * BASE_DELAY * 1.25)
    assert clock.now > first_pause
    for _ in range(10):
        g.throttled()
        clock.now += MAX_DELAY * 2
    g.throttled()
    assert g.wait() == pytest.approx(MAX_DELAY * 1.25), "capped"


def test_answers_to_requests_sent_before_the_pause_do_not_extend_it():
    clock = Clock()
    g = gate(clock)
    g.throttled()
    for _ in range(15):  # the other requests in flight come back 429 too
        g.throttled()
    assert g.pauses == 1
    g.wait()
    g.throttled()
    assert g.pauses == 2


def test_a_success_resets_the_growth_and_retry_after_is_honoured():
    clock = Clock()
    g = gate(clock)
    for _ in range(3):
        g.throttled()
        g.wait()
    g.succeeded()
    g.throttled()
    assert g.wait() == pytest.approx(BASE_DELAY * 1.25), "the growth restarted after the success"
    g.throttled(retry_after=3)
    assert g.wait() == pytest.approx(3 + 1.5 * 0.5)


class FlakyVault(FakeVault):
    """Answers 'throttled' (after the SDK's retries) for the names in `flaky`, `times` times each."""

    def __init__(self, flaky: set[str], times: int = 1) -> None:
        super().__init__()
        self.left = dict.fromkeys(flaky, times)

    def get(self, name, version=None):
        if self.left.get(name, 0) > 0:
            self.left[name] -= 1
            self.calls.append(("throttled", name))
            raise UnavailableError(f"secret '{name}': throttled")
        return super().get(name, version)


def _refs(vault, names):
    return [SecretRef(vault.vault_url, n) for n in names]


def test_values_throttled_in_the_crowd_get_one_more_try_each():
    names = [f"s-{i}" for i in range(10)]
    vault = FlakyVault({"s-2", "s-7"})
    for name in names:
        vault.set(name, f"v-{name}")
    result = fetch_bulk(lambda url: vault, _refs(vault, names), concurrency=4)
    assert [s.value for s in result.referenced] == [f"v-{n}" for n in names]
    assert [c for c in vault.calls if c[0] == "throttled"] == [("throttled", "s-2"), ("throttled", "s-7")]


def test_a_vault_that_stays_unavailable_is_not_retried_name_by_name():
    names = [f"s-{i}" for i in range(6)]
    vault = FlakyVault(set(names), times=99)
    for name in names:
        vault.set(name, "v")
    with pytest.raises(PartialFailure) as info:
        fetch_bulk(lambda url: vault, _refs(vault, names), concurrency=3)
    assert len(info.value.failures) == 6 and info.value.exit_code == UnavailableError.exit_code
    assert len([c for c in vault.calls if c[0] == "throttled"]) == 7, "six in the crowd, then one more"


def test_other_failures_are_not_retried():
    vault = FakeVault()
    vault.set("a", "v")
    with pytest.raises(NotFoundError):
        fetch_bulk(lambda url: vault, _refs(vault, ["a", "gone"]), concurrency=2)
    assert [c for c in vault.calls if c[0] == "getSecret"].count(("getSecret", "gone")) == 1
