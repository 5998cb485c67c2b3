"""--throttle, --fault-rate, --drop-response-rate and --latency behave as documented."""

from __future__ import annotations

import concurrent.futures
import http.client
import ssl
from urllib.parse import urlsplit

import pytest

from tests.conftest import secret_client
from tests.emulator.test_wire import API, raw


def _attempt(emulator, method, path, body=None):
    """One raw request: its status, or 'reset' when the connection was cut."""
    try:
        return raw(emulator, method, path, body)[0]
    except (ConnectionError, http.client.HTTPException, ssl.SSLError, OSError):
        return "reset"


@pytest.fixture
def throttled(fresh_emulator):
    return fresh_emulator("--throttle")


def test_throttle_answers_429_after_300_writes_in_10_seconds(throttled, unique):
    token = throttled.token("https://vault.azure.net")
    prefix = unique("burst")

    def put(i: int) -> int:
        return raw(throttled, "PUT", f"/secrets/{prefix}-{i}?{API}", {"value": "x"}, token=token)[0]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(put, range(300)))
    assert statuses.count(200) == 300
    status, headers, body = raw(throttled, "PUT", f"/secrets/{prefix}-over?{API}", {"value": "x"}, token=token)
    assert status == 429
    assert body["error"]["code"] == "Throttled"
    assert "VaultRequestTypeLimitReached" in body["error"]["message"]
    assert "retry-after" not in headers  # as in the real capture
    # reads are a separate, larger budget
    assert raw(throttled, "GET", f"/secrets/{prefix}-1/?{API}", token=token)[0] == 200


@pytest.mark.slow
def test_sdk_retries_through_throttling(throttled, unique, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", throttled.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", throttled.info["identityHeader"])
    token = throttled.token("https://vault.azure.net")
    prefix = unique("fill")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: raw(throttled, "PUT", f"/secrets/{prefix}-{i}?{API}", {"value": "x"}, token=token), range(300)
            )
        )
    # azure-core retries a status only 3 times by default (about 5 s of backoff), less than the
    # 10-second window; a client that should ride out throttling raises retry_status.
    client = secret_client(throttled, retry_status=6)
    before = throttled.control("GET", "state")["counters"]["throttled"]
    assert client.set_secret(f"{prefix}-late", "made-it").value == "made-it"
    assert throttled.control("GET", "state")["counters"]["throttled"] > before, "the first attempts were throttled"


def test_fault_rate_one_fails_every_request_before_doing_the_work(fresh_emulator, unique):
    emulator = fresh_emulator("--fault-rate", "1")
    name = unique("fault")
    outcomes = {_attempt(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "x"}) for _ in range(12)}
    assert outcomes <= {503, "reset"} and outcomes
    assert emulator.state() == []
    counters = emulator.control("GET", "state")["counters"]
    assert counters["faults"] + counters["resets"] >= 12


def test_fault_rate_503_has_the_error_shape(fresh_emulator):
    emulator = fresh_emulator("--fault-rate", "1", "--random-seed", "7")
    for _ in range(20):
        try:
            status, _, body = raw(emulator, "GET", f"/secrets?{API}")
        except (ConnectionError, http.client.HTTPException, ssl.SSLError, OSError):
            continue
        assert status == 503 and body["error"]["code"] == "ServiceUnavailable"
        return
    pytest.fail("20 requests and never a 503")


def test_drop_response_does_the_write_then_resets(fresh_emulator, unique):
    emulator = fresh_emulator("--drop-response-rate", "1")
    name = unique("drop")
    assert _attempt(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "kept"}) == "reset"
    state = {s["name"]: s for s in emulator.state()}
    assert [v["value"] for v in state[name]["versions"]] == ["kept"]
    # reads are never dropped
    assert raw(emulator, "GET", f"/secrets/{name}/?{API}")[0] == 200


def test_sdk_reads_survive_a_fault_rate(fresh_emulator, unique, monkeypatch):
    emulator = fresh_emulator("--fault-rate", "0.3", "--random-seed", "3")
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emulator.info["identityHeader"])
    emulator.knobs(faultRate=0)
    name = unique("flaky")
    client = secret_client(emulator, retry_backoff_factor=0.05)
    client.set_secret(name, "steady")
    emulator.knobs(faultRate=0.3)
    assert all(client.get_secret(name).value == "steady" for _ in range(15))


def _list_within(emulator, seconds: float) -> bool:
    """Whether the emulator answers a list request before a client's read timeout of `seconds`."""
    token = emulator.token("https://vault.azure.net")
    parts = urlsplit(emulator.vault_url)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=emulator.ssl_context(), timeout=seconds)
    try:
        conn.request("GET", f"/secrets?{API}", headers={"Authorization": f"Bearer {token}"})
        return conn.getresponse().status == 200
    except TimeoutError:
        return False
    finally:
        conn.close()


def test_latency_delays_every_answer(fresh_emulator):
    """Seen as a client sees it: an answer delayed 3 s misses a 0.5 s read timeout, and makes a
    30 s one once the knob is off (no stopwatch in the test)."""
    emulator = fresh_emulator("--latency", "3000")
    assert not _list_within(emulator, 0.5)
    emulator.knobs(latencyMs=0)
    assert _list_within(emulator, 30)


def test_knobs_change_at_run_time_and_validate(fresh_emulator):
    emulator = fresh_emulator()
    assert emulator.knobs(faultRate=0.5)["faultRate"] == 0.5
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as info:
        emulator.knobs(faultRate=2)
    assert info.value.code == 400
