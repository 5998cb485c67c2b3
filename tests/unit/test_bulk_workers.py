"""How bulk reads size their pool: the first request alone, then as many in flight as its wait
can use (kvctl.core.bulk.useful_workers), never more than KVCTL_CONCURRENCY."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core.bulk import REQUEST_CPU, fetch_bulk, fetch_values, useful_workers
from kvctl.core.errors import PartialFailure
from kvctl.core.refs import SecretRef
from tests.fakes import FakeVault

_SECONDS = st.floats(min_value=0, max_value=120, allow_nan=False)


@given(wall=_SECONDS, cpu=_SECONDS, limit=st.integers(min_value=1, max_value=64))
def test_workers_stay_within_one_and_the_limit(wall, cpu, limit):
    workers = useful_workers(wall, cpu, limit)
    assert 1 <= workers <= limit
    assert workers >= min(2, limit)  # two in flight always overlap something


@given(cpu=st.floats(min_value=0, max_value=1), wait=_SECONDS, more=_SECONDS, limit=st.integers(1, 64))
def test_a_longer_wait_never_means_fewer_workers(cpu, wait, more, limit):
    assert useful_workers(cpu + wait + more, cpu, limit) >= useful_workers(cpu + wait, cpu, limit)


def test_next_to_the_vault_few_across_a_network_all():
    assert useful_workers(0.030, 0.026, 16) == 3  # 4 ms of wait (the emulator on loopback)
    assert useful_workers(0.090, 0.030, 16) == 16  # 60 ms of wait (a handshake and a request away)
    assert useful_workers(0.030 + 9.5 * REQUEST_CPU, 0.030, 64) == 11  # ceil(9.5) + 1


class _Counting(FakeVault):
    """A vault whose reads take `wait` seconds of waiting, recording how many were in flight."""

    def __init__(self, wait: float) -> None:
        super().__init__()
        self.wait = wait
        self.in_flight = 0
        self.most = 0
        self.first_alone: bool | None = None
        self._lock = threading.Lock()

    def get(self, name, version=None):
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.first_alone is None:
                self.first_alone = self.in_flight == 1
        time.sleep(self.wait)
        with self._lock:
            self.in_flight -= 1
        return super().get(name, version)


def _refs(vault: FakeVault, count: int) -> list[SecretRef]:
    for i in range(count):
        vault.set(f"s{i}", f"v{i}")
    return [SecretRef(vault.vault_url, f"s{i}") for i in range(count)]


@pytest.mark.parametrize("fetch", ["values", "bulk"])
def test_a_slow_first_answer_opens_the_pool_never_beyond_the_limit(fetch):
    for wait, concurrency in ((0.05, 16), (0.05, 3)):
        vault = _Counting(wait)
        refs = _refs(vault, 20)
        if fetch == "values":
            got = fetch_values(lambda url, vault=vault: vault, refs, concurrency=concurrency)
        else:
            got = fetch_bulk(lambda url, vault=vault: vault, refs, concurrency=concurrency).referenced
        assert [s.value for s in got] == [f"v{i}" for i in range(20)]
        assert vault.first_alone is True
        assert vault.most <= concurrency
        if concurrency == 16:
            assert vault.most > 8, "50 ms of waiting per read should have been overlapped"


def test_a_failing_first_read_is_reported_with_the_others():
    vault = _Counting(0)
    refs = [SecretRef(vault.vault_url, "missing-first"), *_refs(vault, 3), SecretRef(vault.vault_url, "missing-last")]
    with pytest.raises(PartialFailure) as info:
        fetch_values(lambda url: vault, refs, concurrency=4)
    assert "missing-first" in info.value.message and "missing-last" in info.value.message
