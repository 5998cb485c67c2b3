"""`kvctl check` against vaults seeded in every state: each finding appears exactly when it should."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.conftest import ROOT, EmulatorProcess, run_kvctl

CLOSED = {"bypass": "AzureServices", "defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}
HEALTHY = {"enablePurgeProtection": True, "networkAcls": CLOSED}
PURGER = "11111111-1111-1111-1111-111111111111"
# Private endpoints, audit logging, broad grants (the admin is Owner of the subscription) and content
# types hold for every vault here: tests/cli/test_check_posture.py covers them.
POSTURE = {"KV007", "KV008", "KV009", "KV014"}


def _seed() -> dict:
    good_secret = {"value": "v", "expires": "200d"}
    return {
        "_vaults": {
            "good": {"properties": HEALTHY, "secrets": {"fine": good_secret}},
            "nosoft": {"properties": {"enableSoftDelete": False, "networkAcls": CLOSED}},
            "short": {"properties": {**HEALTHY, "softDeleteRetentionInDays": 30}},
            "open": {"properties": {"enablePurgeProtection": True}},
            "policies": {"properties": HEALTHY, "secrets": {"fine": {"value": "v", "expires": "90d"}}},
            "hygiene": {
                "properties": HEALTHY,
                "secrets": {
                    "fine": good_secret,
                    "expired": {"value": "v", "expires": "-2d"},
                    "soon": {"value": "v", "expires": "10d"},
                    "forever": "v",
                    "off-expired": {"value": "v", "expires": "-9d", "enabled": False},
                    "old": {"value": "v", "expires": "300d", "created": "-400d"},
                },
            },
        }
    }


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    directory = tmp_path_factory.mktemp("check")
    seed = directory / "seed.json"
    seed.write_text(json.dumps(_seed()))
    process = EmulatorProcess(
        directory / "state", ["--seed", str(seed), "--vault", "good", "--identity", "app"]
    ).start()
    tenant = process.info["tenantId"]
    # The admin may do everything (KV005); another principal may purge (KV005).
    process.control(
        "PATCH",
        "vaults/policies",
        {
            "properties": {
                "enableRbacAuthorization": False,
                "accessPolicies": [
                    {
                        "tenantId": tenant,
                        "objectId": process.identity("admin")["objectId"],
                        "permissions": {"secrets": ["all"]},
                    },
                    {"tenantId": tenant, "objectId": PURGER, "permissions": {"secrets": ["get", "purge"]}},
                ],
            }
        },
    )
    yield process
    process.stop()


def check(emu, *args, env=None):
    return run_kvctl(["check", *args], emulator=emu, env=env)


def url(emu, name):
    return next(v["url"] for v in emu.info["vaults"] if v["name"] == name)


def findings(emu, vault, *args):
    result = check(emu, url(emu, vault), "-o", "json", *args)
    assert "Traceback" not in result.stderr
    return result, {(f["id"], f["resource"].rsplit("/", 1)[-1]) for f in result.json if f["id"] not in POSTURE}


def test_a_healthy_vault_has_no_findings_and_exits_0(emu):
    result, found = findings(emu, "good")
    assert found == set()
    assert result.exit_code == 0


def test_soft_delete_off(emu):
    result, found = findings(emu, "nosoft")
    assert {f for f, _ in found} == {"KV001", "KV002"}
    assert result.exit_code == 10


def test_short_retention_is_a_warning(emu):
    result, found = findings(emu, "short")
    assert {f for f, _ in found} == {"KV003"}
    assert result.exit_code == 0, "WARN is below the default --fail-on FAIL"
    assert check(emu, url(emu, "short"), "-o", "json", "--fail-on", "WARN").exit_code == 10


def test_open_network(emu):
    _, found = findings(emu, "open")
    assert {f for f, _ in found} == {"KV006"}


def test_access_policies(emu):
    _, found = findings(emu, "policies")
    admin = emu.identity("admin")["objectId"]
    assert found == {("KV004", "policies"), ("KV005", admin), ("KV005", PURGER)}


def test_secret_hygiene(emu):
    result, found = findings(emu, "hygiene", "--max-age", "365d")
    assert found == {("KV010", "expired"), ("KV012", "soon"), ("KV011", "forever"), ("KV013", "old")}
    assert result.exit_code == 10
    _, without_age = findings(emu, "hygiene")
    assert ("KV013", "old") not in without_age
    _, wider = findings(emu, "hygiene", "--expiring-within", "250d")
    assert ("KV012", "fine") in wider


def test_every_finding_has_the_documented_fields(emu):
    result = check(emu, url(emu, "hygiene"), "-o", "json", "--fail-on", "never")
    assert result.exit_code == 0
    for finding in result.json:
        assert set(finding) == {"id", "severity", "vault", "resource", "message", "remedy"}
        assert finding["severity"] in ("FAIL", "WARN", "INFO") and finding["remedy"]


def test_secrets_the_caller_cannot_list_are_reported(emu):
    app = emu.identity("app")
    run_kvctl(["access", "grant", "--assignee", app["objectId"], "--role", "Reader"], emulator=emu)
    result = run_kvctl(
        ["--auth", "managed-identity", "--client-id", app["clientId"], "check", url(emu, "good"), "-o", "json"],
        emulator=emu,
    )
    assert {f["id"] for f in result.json} - POSTURE == {"KV020"}
    assert result.exit_code == 0


def test_all_checks_every_vault_and_sarif_validates(emu):
    result = check(emu, "--all", "-o", "sarif", "--max-age", "365d")
    assert result.exit_code == 10
    sarif = result.json
    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    vaults = {r["properties"]["vault"] for r in results}
    assert vaults >= {"nosoft", "short", "open", "policies", "hygiene"}
    rules = [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in results)
    assert {r["level"] for r in results} <= {"error", "warning", "note"}


def test_usage_errors(emu):
    assert check(emu, "--all", url(emu, "good")).exit_code == 2
    assert check(emu, url(emu, "good"), "--retention", "90").exit_code == 2
    assert check(emu, url(emu, "good"), "--expiring-within", "soon").exit_code == 2
    missing = check(emu, "https://127.0.0.1:1")
    assert missing.exit_code == 3 and "no vault with URL" in missing.stderr


def test_fix_changes_exactly_what_it_says_and_a_second_check_passes(fresh_emulator, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "_vaults": {
                    "legacy": {
                        "properties": {
                            "enableSoftDelete": False,
                            "softDeleteRetentionInDays": 30,
                            "networkAcls": CLOSED,
                        }
                    }
                }
            }
        )
    )
    emulator = fresh_emulator("--seed", str(seed))
    target = next(v["url"] for v in emulator.info["vaults"] if v["name"] == "legacy")
    before = emulator.control("GET", "state")  # secrets untouched by fixes

    refused = run_kvctl(["check", target, "--fix"], emulator=emulator)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert run_kvctl(["check", target, "-o", "json"], emulator=emulator).exit_code == 10, "nothing was changed"

    fixed = run_kvctl(["check", target, "--fix", "--retention", "90", "--yes", "-o", "json"], emulator=emulator)
    assert fixed.exit_code == 0, fixed.stderr
    for change in (
        "enable soft delete on legacy",
        "enable purge protection on legacy",
        "raise soft-delete retention of legacy from 30 to 90 days",
    ):
        assert f"changed: {change}" in fixed.stderr
    assert [f for f in fixed.json if f["id"] not in POSTURE] == []
    props = _arm_vault(emulator, "legacy")["properties"]
    assert props["enableSoftDelete"] is True and props["enablePurgeProtection"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["networkAcls"] == CLOSED and props["enableRbacAuthorization"] is True, "nothing else changed"
    assert emulator.control("GET", "state")["vaults"] == before["vaults"]
    again = run_kvctl(["check", target, "-o", "json"], emulator=emulator)
    assert again.exit_code == 0 and [f for f in again.json if f["id"] not in POSTURE] == []


def test_fix_without_rights_exits_5_naming_the_role(fresh_emulator):
    emulator = fresh_emulator("--identity", "viewer")
    viewer = emulator.identity("viewer")
    run_kvctl(["access", "grant", "--assignee", viewer["objectId"], "--role", "Reader"], emulator=emulator)
    result = run_kvctl(
        ["--auth", "managed-identity", "--client-id", viewer["clientId"], "check", "--fix", "--yes"], emulator=emulator
    )
    assert result.exit_code == 5, result.stderr
    assert "Microsoft.KeyVault/vaults/write" in result.stderr and "Key Vault Contributor" in result.stderr


def _arm_vault(emulator, name):
    import urllib.request

    rg = emulator.info["resourceGroup"]
    request = urllib.request.Request(
        f"{emulator.info['armEndpoint']}/subscriptions/{emulator.info['subscriptionId']}/resourceGroups/{rg}"
        f"/providers/Microsoft.KeyVault/vaults/{name}?api-version=2026-05-15",
        headers={"Authorization": f"Bearer {emulator.token()}"},
    )
    with urllib.request.urlopen(request, context=emulator.ssl_context(), timeout=10) as response:
        return json.loads(response.read())


def test_raising_retention_is_irreversible_and_asks_first(fresh_emulator, tmp_path):
    """With purge protection on, --retention is the only fix: it still asks (Azure may not let the
    retention be lowered again), and without a terminal and without --yes nothing changes."""
    from tests.conftest import run_kvctl_subprocess

    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"_vaults": {"short": {"properties": {**HEALTHY, "softDeleteRetentionInDays": 30}}}}))
    emulator = fresh_emulator("--seed", str(seed))
    target = url(emulator, "short")

    refused = run_kvctl_subprocess(["check", target, "--fix", "--retention", "90"], emulator=emulator, cwd=tmp_path)
    assert refused.exit_code == 2, refused.stderr
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert "changed:" not in refused.stderr
    assert _arm_vault(emulator, "short")["properties"]["softDeleteRetentionInDays"] == 30

    fixed = run_kvctl_subprocess(
        ["check", target, "--fix", "--retention", "90", "--yes"], emulator=emulator, cwd=tmp_path
    )
    assert "changed: raise soft-delete retention of short from 30 to 90 days" in fixed.stderr
    assert _arm_vault(emulator, "short")["properties"]["softDeleteRetentionInDays"] == 90
