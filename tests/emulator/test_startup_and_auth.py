"""Start-up that fails says so in one line and exits 2 (never hangs); the token endpoints, the
control API and the bearer-token check refuse what the service refuses."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import CONTROL_RESOURCE, run_kvctl_process
from tests.emulator.test_wire import API, raw


def _taken_port_pair() -> tuple[int, socket.socket]:
    """A free port P and a socket holding P+1."""
    for _ in range(50):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", taken - 1))
        except OSError:
            holder.close()
            continue
        finally:
            probe.close()
        holder.listen()
        return taken - 1, holder
    pytest.skip("no two adjacent loopback ports")


def _one_error_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, text  # the error and at most a hint
    return lines[0]


def test_a_taken_port_after_the_first_is_one_line_and_exit_2(tmp_path):
    first, holder = _taken_port_pair()
    try:
        result = run_kvctl_process(["emulator", "--state-dir", str(tmp_path / "s"), "--port", str(first)])
    finally:
        holder.close()
    assert result.returncode == 2
    assert str(first + 1) in _one_error_line(result.stderr)
    assert not (tmp_path / "s" / "emulator.json").exists()


@pytest.mark.parametrize(
    "seed",
    [
        '{"x": {"value": "v", "expires": 99999999999999999999}}',
        '{"x": {"value": "v", "expires": 1e400}}',
        '{"x": {"value": "v", "tags": {' + ", ".join(f'"t{i}": "v"' for i in range(16)) + "}}}",
        '{"_vaults": {"ab": {}}}',
        '{"_vaults": {"good": {"properties": {"softDeleteRetentionInDays": "x"}}}}',
        "[" * 100000,
    ],
)
def test_a_bad_seed_is_one_line_and_exit_2(tmp_path, seed):
    path = tmp_path / "seed.json"
    path.write_text(seed)
    result = run_kvctl_process(["emulator", "--state-dir", str(tmp_path / "s"), "--seed", str(path)])
    assert result.returncode == 2
    assert "--seed" in _one_error_line(result.stderr)


def test_nan_knobs_are_usage_errors(tmp_path):
    result = run_kvctl_process(["emulator", "--state-dir", str(tmp_path / "s"), "--token-latency", "nan"])
    assert result.returncode == 2
    _one_error_line(result.stderr)


def test_sigterm_during_start_up_stops_it(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({f"s{i}": "v" for i in range(3000)}))  # start-up takes a while
    state = tmp_path / "s"
    process = subprocess.Popen(
        [sys.executable, "-m", "kvctl", "emulator", "--state-dir", str(state), "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while not (state / "state.db").exists() and process.poll() is None:
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    assert code in (0, -signal.SIGTERM)
    assert not (state / "emulator.json").exists()


def _identity_get(emulator, path: str, host: str | None = None) -> tuple[int, dict]:
    base = emulator.info["imdsEndpoint"]
    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Metadata": "true"}
    if host is not None:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
    else:
        conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, body


def test_imds_path_with_a_trailing_slash_and_loopback_host_only(emulator):
    query = "?api-version=2018-02-01&resource=https://vault.azure.net"
    for path in ("/metadata/identity/oauth2/token", "/metadata/identity/oauth2/token/"):
        status, body = _identity_get(emulator, path + query)
        assert status == 200 and body["access_token"]
    for host in ("localhost", f"127.0.0.1:{emulator.info['imdsEndpoint'].rsplit(':', 1)[1]}", "[::1]:80"):
        assert _identity_get(emulator, "/metadata/identity/oauth2/token" + query, host)[0] == 200
    for host in ("evil.example", "127.0.0.1.evil.example", "169.254.169.254", "localhost:x", ""):
        status, body = _identity_get(emulator, "/metadata/identity/oauth2/token" + query, host)
        assert status == 403 and "access_token" not in body, host


@pytest.mark.parametrize(
    "token",
    ["é.e30.c2ln", "not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.!!!.sig", "a.\xff\xfe.c", "x" * 9000],
)
def test_malformed_bearer_tokens_are_401_everywhere(emulator, token):
    status, _, _ = raw(emulator, "GET", f"/secrets?{API}", token=token)
    assert status == 401
    status, _, _ = raw(
        emulator, "GET", "/subscriptions?api-version=2022-12-01", url=emulator.info["armEndpoint"], token=token
    )
    assert status == 401
    status, _, _ = raw(emulator, "GET", "/_emulator/state", url=emulator.info["armEndpoint"], token=token)
    assert status == 401


def test_control_api_takes_only_the_admins_emulator_audience_token(emulator):
    arm = emulator.info["armEndpoint"]
    for resource in ("https://management.azure.com", "https://vault.azure.net", "https://graph.microsoft.com"):
        status, _, _ = raw(emulator, "GET", "/_emulator/state", url=arm, token=emulator.token(resource))
        assert status == 401, resource
    status, _, _ = raw(
        emulator, "GET", "/_emulator/state", url=arm, token=emulator.token(CONTROL_RESOURCE, identity="app")
    )
    assert status == 403
    status, _, body = raw(emulator, "GET", "/_emulator/state", url=arm, token=emulator.token(CONTROL_RESOURCE))
    assert status == 200 and "vaults" in body


def test_rbac_propagation_delay_holds_changes_back(fresh_emulator, unique):
    emulator = fresh_emulator("--identity", "late", "--rbac-propagation-delay", "3")
    sub = emulator.info["subscriptionId"]
    vault_id = emulator.info["vaults"][0]["resourceId"]
    raw(emulator, "PUT", f"/secrets/{unique('p')}?{API}", {"value": "v"})
    late = emulator.identity("late")
    assignment = f"{vault_id}/providers/Microsoft.Authorization/roleAssignments/"
    name = "3f1a5f1e-0000-4000-8000-000000000001"
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
            "21090545-7ca7-4776-b22c-e363652d74d2",
            "principalId": late["objectId"],
            "principalType": "ServicePrincipal",
        }
    }
    status, _, created = raw(
        emulator,
        "PUT",
        f"{assignment}{name}?api-version=2022-04-01",
        body,
        url=emulator.info["armEndpoint"],
        token=emulator.token(),
    )
    assert status == 201, created
    token = emulator.token("https://vault.azure.net", identity="late")
    first = raw(emulator, "GET", f"/secrets?{API}", token=token)[0]
    assert first == 403, "a new role assignment is not visible at once"
    for _ in range(100):
        if raw(emulator, "GET", f"/secrets?{API}", token=token)[0] == 200:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the role assignment never reached the data plane")
    status, _, _ = raw(
        emulator,
        "DELETE",
        f"{assignment}{name}?api-version=2022-04-01",
        url=emulator.info["armEndpoint"],
        token=emulator.token(),
    )
    assert status == 200
    assert raw(emulator, "GET", f"/secrets?{API}", token=token)[0] == 200, "a removal is not visible at once either"


def test_token_latency_delays_every_token_endpoint(fresh_emulator):
    emulator = fresh_emulator("--token-latency", "1200")
    started = time.monotonic()
    emulator.token()
    assert time.monotonic() - started >= 1.2
    request = urllib.request.Request(
        f"{emulator.info['imdsEndpoint']}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
        headers={"Metadata": "true"},
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    assert time.monotonic() - started >= 1.2
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{emulator.info['imdsEndpoint']}/nothing", timeout=30)
