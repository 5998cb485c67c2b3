"""ARM writes through the real azure-mgmt-keyvault (begin_create_or_update polls like against
Azure), and what the Azure CLI sends raw: resource groups, `$filter`, metadata, operations."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.emulator.test_arm import arm  # noqa: F401  (fixture)
from tests.emulator.test_wire import raw

MGMT = "api-version=2022-09-01"


def _params(emulator, **props):
    return {
        "location": "eastus",
        "properties": {"tenantId": emulator.info["tenantId"], "sku": {"family": "A", "name": "standard"}, **props},
    }


def _arm(emulator, method, path, body=None, token=None):
    return raw(emulator, method, path, body, url=emulator.info["armEndpoint"], token=token or emulator.token())


def _secret_client(emulator, url):
    from azure.identity import ManagedIdentityCredential
    from azure.keyvault.secrets import SecretClient

    return SecretClient(
        url, ManagedIdentityCredential(), verify_challenge_resource=False, connection_verify=emulator.info["caFile"]
    )


def test_create_serves_the_vault_at_once_and_lists_it_in_emulator_json(arm):  # noqa: F811
    emulator, kv, _ = arm
    rg = emulator.info["resourceGroup"]
    seen = []
    poller = kv.vaults.begin_create_or_update(
        rg, "made-by-arm", _params(emulator), raw_response_hook=lambda r: seen.append(r.http_request.method)
    )
    vault = poller.result()
    assert seen == ["PUT", "GET"], "the SDK polls the vault until it has Succeeded"
    props = vault.properties
    assert vault.id.endswith(f"/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/made-by-arm")
    assert props.provisioning_state == "Succeeded"
    assert (props.enable_soft_delete, props.soft_delete_retention_in_days) == (True, 90)
    assert props.enable_rbac_authorization is True and not props.enable_purge_protection
    assert props.public_network_access == "Enabled"
    info = json.loads((emulator.state_dir / "emulator.json").read_text())
    entry = next(v for v in info["vaults"] if v["name"] == "made-by-arm")
    assert entry["url"] == props.vault_uri.rstrip("/") and entry["resourceId"] == vault.id
    assert (emulator.state_dir / "emulator.json").stat().st_mode & 0o777 == 0o600
    client = _secret_client(emulator, props.vault_uri)
    client.set_secret("hello", "world")
    assert client.get_secret("hello").value == "world"
    with pytest.raises(ResourceNotFoundError) as missing:
        kv.vaults.begin_create_or_update("other-group-missing", "made-by-arm", _params(emulator)).result()
    assert missing.value.error.code == "ResourceGroupNotFound"


def test_update_follows_the_services_rules(arm):  # noqa: F811
    emulator, kv, _ = arm
    rg = emulator.info["resourceGroup"]
    updated = kv.vaults.begin_create_or_update(
        rg, "main", _params(emulator, enablePurgeProtection=True, softDeleteRetentionInDays=30)
    ).result()
    assert updated.properties.enable_purge_protection is True
    assert updated.properties.soft_delete_retention_in_days == 30
    assert updated.properties.vault_uri.rstrip("/") == emulator.info["vaults"][0]["url"]
    for bad in (
        {"enablePurgeProtection": False},
        {"enableSoftDelete": False},
        {"softDeleteRetentionInDays": 6},
        {"softDeleteRetentionInDays": 91},
    ):
        with pytest.raises(HttpResponseError) as info:
            kv.vaults.begin_create_or_update(rg, "main", _params(emulator, **bad)).result()
        assert info.value.status_code == 400, bad
    status, _, body = _arm(
        emulator,
        "PUT",
        f"/subscriptions/{emulator.info['subscriptionId']}/resourceGroups/{rg}/providers/Microsoft.KeyVault"
        f"/vaults/main?{MGMT}",
        {**_params(emulator), "properties": {**_params(emulator)["properties"], "softDeleteRetentionInDays": "x"}},
    )
    assert status == 400 and "softDeleteRetentionInDays" in body["error"]["message"]
    with pytest.raises(HttpResponseError) as info:
        kv.vaults.begin_create_or_update(rg, "no", _params(emulator)).result()
    assert info.value.error.code == "VaultNameNotValid"
    with pytest.raises(HttpResponseError):
        kv.vaults.begin_create_or_update(rg, "fresh", _params(emulator, enableSoftDelete=False)).result()
    assert kv.vaults.get(rg, "main").properties.enable_purge_protection is True


def test_delete_recover_and_purge(arm):  # noqa: F811
    emulator, kv, _ = arm
    rg = emulator.info["resourceGroup"]
    vault = kv.vaults.begin_create_or_update(rg, "doomed", _params(emulator)).result()
    _secret_client(emulator, vault.properties.vault_uri).set_secret("kept", "v1")
    kv.vaults.delete(rg, "doomed")
    with pytest.raises(ResourceNotFoundError):
        kv.vaults.get(rg, "doomed")
    info = json.loads((emulator.state_dir / "emulator.json").read_text())
    assert "doomed" not in {v["name"] for v in info["vaults"]}
    deleted = kv.vaults.get_deleted("doomed", "eastus")
    assert deleted.properties.vault_id == vault.id and deleted.properties.purge_protection_enabled is False
    assert "doomed" in {d.name for d in kv.vaults.list_deleted()}
    with pytest.raises(HttpResponseError) as conflict:
        kv.vaults.begin_create_or_update(rg, "doomed", _params(emulator)).result()
    assert conflict.value.status_code == 409 and "deleted state" in str(conflict.value)
    recovered = kv.vaults.begin_create_or_update(
        rg, "doomed", {"location": "eastus", "properties": {**_params(emulator)["properties"], "createMode": "recover"}}
    ).result()
    assert _secret_client(emulator, recovered.properties.vault_uri).get_secret("kept").value == "v1"
    kv.vaults.delete(rg, "doomed")
    kv.vaults.begin_purge_deleted("doomed", "eastus").result()
    with pytest.raises(ResourceNotFoundError):
        kv.vaults.get_deleted("doomed", "eastus")
    fresh = kv.vaults.begin_create_or_update(rg, "doomed", _params(emulator)).result()
    assert list(_secret_client(emulator, fresh.properties.vault_uri).list_properties_of_secrets()) == []
    # purge protection holds a deleted vault until its date
    kv.vaults.begin_create_or_update(rg, "doomed", _params(emulator, enablePurgeProtection=True)).result()
    kv.vaults.delete(rg, "doomed")
    with pytest.raises(HttpResponseError) as held:
        kv.vaults.begin_purge_deleted("doomed", "eastus").result()
    assert held.value.status_code == 409
    assert kv.vaults.get_deleted("doomed", "eastus").properties.purge_protection_enabled is True


def test_resource_groups_and_vaults_in_them(arm):  # noqa: F811
    emulator, kv, _ = arm
    sub = emulator.info["subscriptionId"]
    base = f"/subscriptions/{sub}/resourcegroups"
    status, _, body = _arm(emulator, "PUT", f"{base}/team-a?{MGMT}", {"location": "East US", "tags": {"t": "1"}})
    assert status == 201 and body["location"] == "eastus" and body["properties"]["provisioningState"] == "Succeeded"
    assert _arm(emulator, "PUT", f"{base}/team-a?{MGMT}", {"location": "eastus"})[0] == 200
    assert _arm(emulator, "HEAD", f"{base}/team-a?{MGMT}")[0] == 204
    assert _arm(emulator, "HEAD", f"{base}/nope?{MGMT}")[0] == 404
    status, _, body = _arm(emulator, "GET", f"{base}?{MGMT}")
    assert {g["name"] for g in body["value"]} == {emulator.info["resourceGroup"], "team-a"}
    vault = kv.vaults.begin_create_or_update("team-a", "team-vault", _params(emulator)).result()
    assert "/resourceGroups/team-a/" in vault.id
    assert [v.name for v in kv.vaults.list_by_resource_group("team-a")] == ["team-vault"]
    with pytest.raises(ResourceNotFoundError):
        kv.vaults.get(emulator.info["resourceGroup"], "team-vault")
    with pytest.raises(HttpResponseError) as taken:
        kv.vaults.begin_create_or_update(emulator.info["resourceGroup"], "team-vault", _params(emulator)).result()
    assert taken.value.error.code == "VaultAlreadyExists"
    status, _, body = _arm(emulator, "GET", f"{base}/missing/providers/Microsoft.KeyVault/vaults?{MGMT}")
    assert status == 404 and body["error"]["code"] == "ResourceGroupNotFound"
    assert _arm(emulator, "DELETE", f"{base}/team-a?{MGMT}")[0] == 200
    assert _arm(emulator, "GET", f"{base}/team-a?{MGMT}")[0] == 404
    assert "team-vault" in {d.name for d in kv.vaults.list_deleted()}, "the group's vaults are soft-deleted"
    status, _, body = _arm(emulator, "DELETE", f"{base}/{emulator.info['resourceGroup']}?{MGMT}")
    assert status == 409


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("resourceType eq 'Microsoft.KeyVault/vaults' and name eq 'main'", {"main"}),
        ("name eq 'MAIN' and resourceType eq 'microsoft.keyvault/vaults'", {"main"}),
        ("resourceType eq 'Microsoft.KeyVault/vaults'", {"main", "other"}),
        ("resourceGroup eq '{rg}' and name eq 'other'", {"other"}),
        ("resourceType eq 'Microsoft.Storage/storageAccounts'", set()),
        ("name eq 'it''s'", set()),
    ],
)
def test_resource_filter_accepts_and_clauses(arm, expression, names):  # noqa: F811
    emulator, _, _ = arm
    text = expression.format(rg=emulator.info["resourceGroup"])
    query = urllib.parse.quote(text)
    status, _, body = _arm(
        emulator, "GET", f"/subscriptions/{emulator.info['subscriptionId']}/resources?$filter={query}&{MGMT}"
    )
    assert status == 200, body
    assert {r["name"] for r in body["value"]} == names
    assert all(r["type"] == "Microsoft.KeyVault/vaults" for r in body["value"])


@pytest.mark.parametrize(
    "expression",
    [
        "location eq 'eastus'",
        "name eq 'main' or name eq 'other'",
        "name eq 'main' and",
        "name eq main",
        "name ne 'main'",
        "name eq 'main' and name eq 'other'",
        "substringof('ma', name)",
    ],
)
def test_other_filters_are_refused_as_arm_refuses_them(arm, expression):  # noqa: F811
    emulator, _, _ = arm
    query = urllib.parse.quote(expression)
    status, _, body = _arm(
        emulator, "GET", f"/subscriptions/{emulator.info['subscriptionId']}/resources?$filter={query}&{MGMT}"
    )
    assert status == 400 and body["error"]["code"] == "InvalidFilterInQueryString"


def test_metadata_endpoints_need_no_token_and_operations_are_listed(arm):  # noqa: F811
    emulator, kv, _ = arm
    arm_url = emulator.info["armEndpoint"]
    status, _, cloud = raw(emulator, "GET", "/metadata/endpoints?api-version=2022-09-01", url=arm_url, token=None)
    assert status == 200
    assert cloud["resourceManager"] == arm_url + "/"
    assert "https://management.core.windows.net/" in cloud["authentication"]["audiences"]
    assert cloud["authentication"]["loginEndpoint"].startswith(arm_url)
    status, _, clouds = raw(emulator, "GET", "/metadata/endpoints?api-version=2019-05-01", url=arm_url, token=None)
    assert status == 200 and clouds[0]["resourceManager"] == arm_url + "/"
    status, _, legacy = raw(emulator, "GET", "/metadata/endpoints?api-version=2015-01-01", url=arm_url, token=None)
    assert status == 200 and legacy["authentication"]["loginEndpoint"].startswith(arm_url)
    names = {op.name for op in kv.operations.list()}
    assert {"Microsoft.KeyVault/vaults/read", "Microsoft.KeyVault/vaults/write"} <= names
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in names


def test_extra_subscriptions_are_listed_empty_and_kvctl_will_not_guess(fresh_emulator, tmp_path):
    from tests.conftest import run_kvctl

    emulator = fresh_emulator("--subscription", "Production", "--subscription", "Sandbox")
    listed = {s["name"]: s["subscriptionId"] for s in emulator.info["subscriptions"]}
    assert list(listed) == ["Production", "Sandbox"]
    assert listed["Production"] == emulator.info["subscriptionId"]
    status, _, body = _arm(emulator, "GET", "/subscriptions?api-version=2022-12-01")
    assert status == 200
    assert {s["displayName"]: s["subscriptionId"] for s in body["value"]} == listed
    sandbox = listed["Sandbox"]
    assert _arm(emulator, "GET", f"/subscriptions/{sandbox}/resources?{MGMT}")[2] == {"value": []}
    status, _, body = _arm(emulator, "GET", f"/subscriptions/{sandbox}/resourcegroups/x?{MGMT}")
    assert status == 404 and body["error"]["code"] == "ResourceGroupNotFound"
    result = run_kvctl(
        ["access", "list"], emulator=emulator, env={"AZURE_SUBSCRIPTION_ID": None, "HOME": str(tmp_path)}
    )
    assert result.exit_code == 2 and "2 subscriptions are visible" in result.stderr
    assert run_kvctl(["access", "list"], emulator=emulator, env={"HOME": str(tmp_path)}).exit_code == 0


def test_a_deleted_vaults_port_stops_answering_even_on_kept_alive_connections(arm):  # noqa: F811
    import http.client
    from urllib.parse import urlsplit

    emulator, kv, _ = arm
    rg = emulator.info["resourceGroup"]
    vault = kv.vaults.begin_create_or_update(rg, "short-lived", _params(emulator)).result()
    parts = urlsplit(vault.properties.vault_uri)
    token = emulator.token("https://vault.azure.net")
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=emulator.ssl_context(), timeout=10)
    conn.request("GET", "/secrets?api-version=2025-07-01", headers={"Authorization": f"Bearer {token}"})
    first = conn.getresponse()
    first.read()
    assert first.status == 200
    kv.vaults.delete(rg, "short-lived")
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/secrets?api-version=2025-07-01", headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
    conn.close()
    fresh = http.client.HTTPSConnection(parts.hostname, parts.port, context=emulator.ssl_context(), timeout=10)
    with pytest.raises(OSError):
        fresh.request("GET", "/secrets?api-version=2025-07-01")
        fresh.getresponse()
    fresh.close()


def test_vaults_and_groups_made_through_arm_survive_a_restart(tmp_path):
    from tests.conftest import EmulatorProcess

    state = tmp_path / "state"
    first = EmulatorProcess(state, []).start()
    try:
        sub = first.info["subscriptionId"]
        assert _arm(first, "PUT", f"/subscriptions/{sub}/resourcegroups/keep?{MGMT}", {"location": "eastus"})[0] == 201
        status, _, made = _arm(
            first,
            "PUT",
            f"/subscriptions/{sub}/resourceGroups/keep/providers/Microsoft.KeyVault/vaults/kept-vault?{MGMT}",
            _params(first),
        )
        assert status == 200
        raw(first, "PUT", "/secrets/s?api-version=2025-07-01", {"value": "v"}, url=made["properties"]["vaultUri"])
    finally:
        first.stop()
    second = EmulatorProcess(state, []).start()
    try:
        entry = next(v for v in second.info["vaults"] if v["name"] == "kept-vault")
        assert entry["resourceId"] == made["id"]
        status, _, body = raw(second, "GET", "/secrets/s?api-version=2025-07-01", url=entry["url"])
        assert status == 200 and body["value"] == "v"
    finally:
        second.stop()
