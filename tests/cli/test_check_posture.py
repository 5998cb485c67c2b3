"""`check`'s posture rules through the real CLI against the emulator: no private endpoint (KV007),
audit logging off (KV008), broad roles above the vault (KV009), secrets without a content type
(KV014) — found on seeded misconfigurations and absent on a vault set up well."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import EmulatorProcess, arm_call, run_kvctl

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
KV_ADMIN = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
DIAG = "providers/Microsoft.Insights/diagnosticSettings"
DIAG_API = "api-version=2021-05-01-preview"
CLOSED = {"bypass": "AzureServices", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}
POSTURE = {"KV007", "KV008", "KV009", "KV014"}


arm = arm_call  # the one ARM request helper (tests/conftest.py)


def assign(emu, scope, guid, principal):
    name = uuid.uuid4()
    body = {
        "properties": {
            "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "principalId": principal,
        }
    }
    status, created = arm(
        emu, "PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01", body
    )
    assert status in (200, 201), created
    return created["id"]


def audit_setting(
    workspace: str = "/subscriptions/x/resourceGroups/logs/providers/Microsoft.OperationalInsights/workspaces/w",
):
    return {"properties": {"workspaceId": workspace, "logs": [{"category": "AuditEvent", "enabled": True}]}}


def _make_good_vault(emu) -> str:
    sub = f"/subscriptions/{emu.info['subscriptionId']}"
    status, _ = arm(emu, "PUT", f"{sub}/resourceGroups/secure?api-version=2022-09-01", {"location": "westeurope"})
    assert status in (200, 201)
    vault_id = f"{sub}/resourceGroups/secure/providers/Microsoft.KeyVault/vaults/good"
    body = {
        "location": "westeurope",
        "properties": {
            "tenantId": emu.info["tenantId"],
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "enablePurgeProtection": True,
            "networkAcls": CLOSED,
        },
    }
    status, vault = arm(emu, "PUT", f"{vault_id}?api-version=2023-07-01", body)
    assert status in (200, 201), vault
    connection = {
        "id": f"{vault_id}/privateEndpointConnections/pe1",
        "properties": {"privateLinkServiceConnectionState": {"status": "Approved"}},
    }
    emu.control("PATCH", "vaults/good", {"properties": {"privateEndpointConnections": [connection]}})
    # The emulator's own workspace: a vault set up well sends its log where it can be read (KV015 then
    # finds no secret old enough to have gone unread).
    workspace = emu.info["logAnalyticsWorkspaces"][0]["resourceId"]
    status, _ = arm(emu, "PUT", f"{vault_id}/{DIAG}/audit?{DIAG_API}", audit_setting(workspace))
    assert status == 200
    return vault["properties"]["vaultUri"].rstrip("/")


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    directory = tmp_path_factory.mktemp("posture")
    seed = directory / "seed.json"
    untyped = {"value": "v", "expires": "200d"}
    seed.write_text(
        json.dumps(
            {"_vaults": {"bad": {"properties": {"enablePurgeProtection": True}, "secrets": {"untyped": untyped}}}}
        )
    )
    process = EmulatorProcess(
        directory / "state", ["--seed", str(seed), "--vault", "bad", "--identity", "dev", "--identity", "auditor"]
    ).start()
    good = _make_good_vault(process)
    run = run_kvctl(
        ["set", "typed", "--value", "v", "--content-type", "text/plain", "--expires", "200d", "--vault", good],
        emulator=process,
    )
    assert run.exit_code == 0, run.stderr
    sub = f"/subscriptions/{process.info['subscriptionId']}"
    bad_group = f"{sub}/resourceGroups/{process.info['resourceGroup']}"
    contributor = assign(process, bad_group, CONTRIBUTOR, process.identity("dev")["objectId"])
    auditor = process.identity("auditor")["objectId"]
    assign(process, sub, READER, auditor)
    assign(process, f"{sub}/resourceGroups/secure/providers/Microsoft.KeyVault/vaults/good", SECRETS_OFFICER, auditor)
    assign(process, f"{bad_group}/providers/Microsoft.KeyVault/vaults/bad", SECRETS_OFFICER, auditor)
    # The emulator's admin holds Owner and Key Vault Administrator at the subscription: exactly
    # the broad grants KV009 reports. Take them away (the admin keeps its control switches).
    admin = process.identity("admin")["objectId"]
    _, listed = arm(process, "GET", f"{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01")
    mine = [a for a in listed["value"] if a["properties"]["principalId"] == admin and a["properties"]["scope"] == sub]
    subscription_grants = sorted(mine, key=lambda a: a["properties"]["roleDefinitionId"].endswith(OWNER))
    process.info["_removed"] = [a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for a in subscription_grants]
    process.info["_contributor"] = contributor
    process.info["_good"] = good
    for assignment in subscription_grants:  # Owner last: it is what allows the deletes
        status, _ = arm(process, "DELETE", f"{assignment['id']}?api-version=2022-04-01")
        assert status in (200, 204)
    yield process
    process.stop()


def dev(emu) -> str:
    """A token of `dev`, Contributor on the bad vault's resource group (the admin no longer holds Owner)."""
    return emu.token(identity="dev")


def check_as_auditor(emu, *args):
    client_id = emu.identity("auditor")["clientId"]
    return run_kvctl(
        ["--auth", "managed-identity", "--client-id", client_id, "check", *args, "-o", "json"], emulator=emu
    )


def test_the_admin_grants_were_there_and_are_gone(emu):
    assert sorted(emu.info["_removed"]) == sorted([KV_ADMIN, OWNER])


def test_a_vault_set_up_well_has_none_of_the_posture_findings(emu):
    result = check_as_auditor(emu, emu.info["_good"])
    assert result.exit_code == 0, result.stderr
    # The only note: its audit log began minutes ago, inside KV015's 90-day window (not checked).
    assert [(f["id"], f["severity"]) for f in result.json] in ([], [("KV022", "INFO")]), result.json
    assert all("begins at" in f["message"] for f in result.json)


def test_the_misconfigured_vault_has_each_posture_finding(emu):
    result = check_as_auditor(emu, next(v["url"] for v in emu.info["vaults"] if v["name"] == "bad"))
    assert result.exit_code == 0, result.stderr  # all WARN or INFO: below the default --fail-on FAIL
    found = {(f["id"], f["resource"].rsplit("/", 1)[-1]) for f in result.json}
    assert {f for f in found if f[0] in POSTURE} == {
        ("KV007", "bad"),
        ("KV008", "bad"),
        ("KV009", emu.info["_contributor"].rsplit("/", 1)[-1]),
        ("KV014", "untyped"),
    }
    by_id = {f["id"]: f for f in result.json}
    assert "Contributor" in by_id["KV009"]["message"] and "resourceGroup" in by_id["KV009"]["message"]
    remedy = by_id["KV009"]["remedy"]
    assert remedy.startswith("kvctl access grant --assignee ") and "--role 'Key Vault Secrets User'" in remedy
    assert remedy.endswith(f"&& az role assignment delete --ids {by_id['KV009']['resource']}")
    assert "kvctl update untyped --content-type" in by_id["KV014"]["remedy"]
    assert '"categoryGroup":"audit"' in by_id["KV008"]["remedy"] and by_id["KV008"]["severity"] == "WARN"
    assert "--name kvctl-audit" in by_id["KV008"]["remedy"], "the same command `kvctl audit` gives"


def test_audit_logging_that_sends_nothing_or_other_logs_does_not_count(emu):
    bad = next(v for v in emu.info["vaults"] if v["name"] == "bad")["resourceId"]
    off = {"properties": {"workspaceId": "/w", "logs": [{"category": "AuditEvent", "enabled": False}]}}
    assert arm(emu, "PUT", f"{bad}/{DIAG}/off?{DIAG_API}", off, token=dev(emu))[0] == 200
    other = {
        "properties": {
            "storageAccountId": "/s",
            "logs": [{"category": "AzurePolicyEvaluationDetails", "enabled": True}],
        }
    }
    assert arm(emu, "PUT", f"{bad}/{DIAG}/other?{DIAG_API}", other, token=dev(emu))[0] == 200
    url = next(v["url"] for v in emu.info["vaults"] if v["name"] == "bad")
    assert "KV008" in {f["id"] for f in check_as_auditor(emu, url).json}
    group = {"properties": {"workspaceId": "/w", "logs": [{"categoryGroup": "audit", "enabled": True}]}}
    assert arm(emu, "PUT", f"{bad}/{DIAG}/group?{DIAG_API}", group, token=dev(emu))[0] == 200
    assert "KV008" not in {f["id"] for f in check_as_auditor(emu, url).json}
    assert arm(emu, "DELETE", f"{bad}/{DIAG}/group?{DIAG_API}", token=dev(emu))[0] == 200
    assert "KV008" in {f["id"] for f in check_as_auditor(emu, url).json}


def test_the_emulators_diagnostic_settings_api(emu):
    bad = next(v for v in emu.info["vaults"] if v["name"] == "bad")["resourceId"]
    status, body = arm(
        emu,
        "PUT",
        f"{bad}/{DIAG}/nowhere?{DIAG_API}",
        {"properties": {"logs": [{"category": "AuditEvent", "enabled": True}]}},
        token=dev(emu),
    )
    assert status == 400 and body["error"]["code"] == "BadRequest" and "must be specified" in body["error"]["message"]
    status, body = arm(
        emu,
        "PUT",
        f"{bad}/{DIAG}/x?{DIAG_API}",
        {"properties": {"workspaceId": "/w", "logs": [{"category": "Nope", "enabled": True}]}},
        token=dev(emu),
    )
    assert status == 400 and "Nope" in body["error"]["message"]
    status, body = arm(emu, "GET", f"{bad}/{DIAG}?api-version=2016-09-01")
    assert status == 400 and body["error"]["code"] == "NoRegisteredProviderFound"
    status, body = arm(emu, "GET", f"{bad}/{DIAG}/missing?{DIAG_API}", token=dev(emu))
    assert status == 404
    assert arm(emu, "PUT", f"{bad}/{DIAG}/shape?{DIAG_API}", audit_setting(), token=dev(emu))[0] == 200
    status, body = arm(emu, "GET", f"{bad}/{DIAG}/shape?{DIAG_API}", token=dev(emu))
    assert status == 200 and body["name"] == "shape" and body["type"] == "Microsoft.Insights/diagnosticSettings"
    assert body["id"].lower() == f"{bad}/providers/microsoft.insights/diagnosticSettings/shape".lower()
    assert body["properties"]["logs"][0] == {
        "category": "AuditEvent",
        "categoryGroup": None,
        "enabled": True,
        "retentionPolicy": {"enabled": False, "days": 0},
    }
    status, listed = arm(emu, "GET", f"{bad}/{DIAG}?{DIAG_API}", token=dev(emu))
    assert status == 200 and "shape" in {s["name"] for s in listed["value"]}
    # Writing needs diagnosticSettings/write: the auditor (Reader) may read but not write.
    token = emu.token(identity="auditor")
    assert arm(emu, "GET", f"{bad}/{DIAG}?{DIAG_API}", token=token)[0] == 200
    status, body = arm(emu, "PUT", f"{bad}/{DIAG}/mine?{DIAG_API}", audit_setting(), token=token)
    assert status == 403 and body["error"]["code"] == "AuthorizationFailed"
    arm(emu, "DELETE", f"{bad}/{DIAG}/shape?{DIAG_API}", token=dev(emu))


def test_subscription_owner_is_reported_on_every_vault(fresh_emulator):
    emulator = fresh_emulator()
    result = run_kvctl(["check", "-o", "json"], emulator=emulator)
    kv009 = [f for f in result.json if f["id"] == "KV009"]
    roles = {f["message"].split(" for ")[0] for f in kv009}
    assert roles == {"Owner", "Key Vault Administrator"}, kv009
    assert all("subscription scope" in f["message"] for f in kv009)
    assert all("kvctl set" not in f["remedy"] and "rotate" not in f["remedy"] for f in result.json)


def test_a_caller_who_may_not_read_settings_is_told_so(fresh_emulator):
    emulator = fresh_emulator("--identity", "narrow")
    narrow = emulator.identity("narrow")
    vault_id = emulator.info["vaults"][0]["resourceId"]
    # Key Vault Contributor reads the vault and its role assignments, not its diagnostic settings.
    assign(emulator, vault_id, "f25e0fa2-a7c8-4377-a976-54943a77a395", narrow["objectId"])
    result = run_kvctl(
        ["--auth", "managed-identity", "--client-id", narrow["clientId"], "check", "--fail-on", "never", "-o", "json"],
        emulator=emulator,
    )
    assert result.exit_code == 0, result.stderr
    kv021 = [f for f in result.json if f["id"] == "KV021"]
    assert kv021 and "diagnostic settings" in kv021[0]["message"], result.json
    assert "role assignments" not in kv021[0]["message"]
    assert "KV008" not in {f["id"] for f in result.json}, "unknown is not reported as off"
