"""`kvctl emulator` as a process: what it prints and writes, persistence, clean stops, identities."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import EmulatorProcess, run_kvctl, secret_client
from tests.emulator.test_wire import API, raw

CONTRACT_KEYS = {
    "vaults",
    "armEndpoint",
    "subscriptionId",
    "resourceGroup",
    "tenantId",
    "caFile",
    "identityEndpoint",
    "identityHeader",
    "imdsEndpoint",
    "identities",
}


def test_emulator_json_and_env_follow_the_contract(emulator):
    info = emulator.info
    assert set(info) >= CONTRACT_KEYS
    assert [v["name"] for v in info["vaults"]] == ["emulator", "second"]
    for vault in info["vaults"]:
        assert vault["url"].startswith("https://127.0.0.1:")
        assert vault["resourceId"] == (
            f"/subscriptions/{info['subscriptionId']}/resourceGroups/{info['resourceGroup']}"
            f"/providers/Microsoft.KeyVault/vaults/{vault['name']}"
        )
    assert info["identities"][0]["name"] == "admin"
    assert {i["name"] for i in info["identities"]} >= {"admin", "app", "reader"}
    assert all(set(i) >= {"name", "clientId", "objectId"} for i in info["identities"])
    assert set(emulator.env) == {
        "KVCTL_VAULT",
        "KVCTL_CA_BUNDLE",
        "KVCTL_ARM_ENDPOINT",
        "AZURE_SUBSCRIPTION_ID",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
    }
    assert emulator.env["KVCTL_VAULT"] == info["vaults"][0]["url"]
    mode = (emulator.state_dir / "emulator.env").stat().st_mode & 0o777
    assert mode == 0o600


def test_prints_the_same_and_stops_cleanly_on_sigterm_and_sigint(tmp_path):
    for sig in (signal.SIGTERM, signal.SIGINT):
        state = tmp_path / sig.name
        process = subprocess.Popen(
            [sys.executable, "-m", "kvctl", "emulator", "--state-dir", str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not (state / "emulator.json").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        info = json.loads((state / "emulator.json").read_text())
        process.send_signal(sig)
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0
        assert json.loads(out[: out.index("\nexport ") + 1]) == info
        assert f"export KVCTL_VAULT={info['vaults'][0]['url']}" in out
        assert "Traceback" not in err
        assert not (state / "emulator.json").exists(), "stale endpoints are removed on stop"


def test_restart_keeps_every_secret_version_and_deleted_secret(tmp_path, monkeypatch, unique):
    state = tmp_path / "persist"
    first = EmulatorProcess(state, ["--identity", "app"]).start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", first.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", first.info["identityHeader"])
    client = secret_client(first)
    versions = [client.set_secret("kept", f"v{i}").properties.version for i in range(3)]
    client.set_secret("gone", "x")
    client.begin_delete_secret("gone").wait()
    ca_before = (state / "ca.pem").read_bytes()
    identities_before = first.info["identities"]
    assert first.stop() == 0

    second = EmulatorProcess(state, ["--identity", "app"]).start()
    try:
        monkeypatch.setenv("IDENTITY_ENDPOINT", second.info["identityEndpoint"])
        monkeypatch.setenv("IDENTITY_HEADER", second.info["identityHeader"])
        client = secret_client(second)
        assert client.get_secret("kept").value == "v2"
        assert sorted(v.version for v in client.list_properties_of_secret_versions("kept")) == sorted(versions)
        assert client.get_deleted_secret("gone").name == "gone"
        assert (state / "ca.pem").read_bytes() == ca_before
        assert [(i["clientId"], i["objectId"]) for i in second.info["identities"]] == [
            (i["clientId"], i["objectId"]) for i in identities_before
        ]
    finally:
        second.stop()


def test_seed_loads_secrets_once(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "plain": "p",
                "rich": {"value": "r", "contentType": "text/plain", "tags": {"a": "b"}, "expires": "-1d"},
                "_vaults": {"legacy": {"properties": {"enableSoftDelete": False}, "secrets": {"old": "o"}}},
            }
        )
    )
    state = tmp_path / "seeded"
    for _ in range(2):  # a restart with the same seed adds nothing
        emulator = EmulatorProcess(state, ["--seed", str(seed)]).start()
        try:
            secrets = {s["name"]: s for s in emulator.state()}
            assert [v["value"] for v in secrets["plain"]["versions"]] == ["p"]
            rich = secrets["rich"]["versions"][0]
            assert rich["contentType"] == "text/plain" and rich["tags"] == {"a": "b"} and rich["exp"] < time.time()
            assert [s["name"] for s in emulator.state("legacy")] == ["old"]
            _, _, body = raw(emulator, "GET", f"/secrets/old/?{API}", url=emulator.info["vaults"][1]["url"])
            assert body["attributes"]["recoveryLevel"] == "Purgeable" and "recoverableDays" not in body["attributes"]
        finally:
            emulator.stop()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"bad_name": "x"}', "not a valid secret name"),
        ('{"x": {"value": 1}}', "string 'value'"),
    ],
)
def test_bad_seed_is_a_usage_error(tmp_path, content, message):
    seed = tmp_path / "seed.json"
    seed.write_text(content)
    result = run_kvctl(["emulator", "--state-dir", str(tmp_path / "s"), "--seed", str(seed)])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_app_service_endpoint_selects_identities(emulator):
    def token_claims(query: str, header: str | None = None) -> dict:
        request = urllib.request.Request(
            f"{emulator.info['identityEndpoint']}?api-version=2019-08-01&resource=https://vault.azure.net{query}",
            headers={"X-IDENTITY-HEADER": header or emulator.info["identityHeader"]},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        from kvctl.azure.credentials import token_claims as claims_of

        assert int(body["expires_on"]) > time.time() and body["token_type"] == "Bearer"
        return claims_of(body["access_token"])

    app = emulator.identity("app")
    by_client = token_claims(f"&client_id={app['clientId']}")
    by_object = token_claims(f"&object_id={app['objectId']}")
    admin = token_claims("")
    assert by_client["oid"] == by_object["oid"] == app["objectId"]
    assert by_client["appid"] == app["clientId"]
    assert admin["oid"] == emulator.identity("admin")["objectId"]
    assert admin["tid"] == emulator.info["tenantId"] and admin["aud"] == "https://vault.azure.net"
    assert admin["exp"] > time.time()
    with pytest.raises(urllib.error.HTTPError) as info:
        token_claims("", header="wrong")
    assert info.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as info:
        token_claims("&client_id=00000000-0000-0000-0000-000000000000")
    assert info.value.code == 400


def test_imds_endpoint_needs_the_metadata_header(emulator):
    url = f"{emulator.info['imdsEndpoint']}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=10)
    assert info.value.code == 400
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Metadata": "true"}), timeout=10) as response:
        body = json.loads(response.read())
    assert int(body["expires_in"]) > 0 and body["access_token"]


def test_workload_identity_federation_through_the_emulator(emulator, monkeypatch, unique):
    from azure.identity import WorkloadIdentityCredential
    from azure.keyvault.secrets import SecretClient

    app = emulator.identity("app")
    credential = WorkloadIdentityCredential(
        tenant_id=emulator.info["tenantId"],
        client_id=app["clientId"],
        token_file_path=app["federatedTokenFile"],
        authority=emulator.info["authorityHost"],
        connection_verify=emulator.info["caFile"],
    )
    token = credential.get_token("https://vault.azure.net/.default")
    from kvctl.azure.credentials import token_claims

    assert token_claims(token.token)["oid"] == app["objectId"]
    client = SecretClient(
        emulator.vault_url, credential, verify_challenge_resource=False, connection_verify=emulator.info["caFile"]
    )
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as info:
        client.get_secret(unique("wi"))
    assert info.value.status_code == 403, "authenticated as app, which holds no role"


def test_state_is_private_even_in_an_existing_open_directory(tmp_path):
    import os
    import stat

    state = tmp_path / "open"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    emulator = EmulatorProcess(state).start()
    try:
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        for name in ("state.db", "state.db-wal", "state.db-shm", "server-key.pem", "emulator.env", "emulator.json"):
            path = state / name
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    finally:
        emulator.stop()
