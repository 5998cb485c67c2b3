"""`access who` through the real CLI against the emulator: role assignments at the secret, vault,
resource group and subscription, a nested group expanded to its members through Graph, an
access-policy vault, and a caller with read rights only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid

import pytest

from tests.conftest import EmulatorProcess, run_kvctl

ROLES = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
}


def arm(emu: EmulatorProcess, method: str, path: str, body: object = None) -> dict:
    """A raw ARM call with the admin's token: the setup an administrator would do with az."""
    request = urllib.request.Request(
        f"{emu.info['armEndpoint']}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {emu.token()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10, context=emu.ssl_context()) as response:
        return json.loads(response.read() or b"{}")


def assign(emu: EmulatorProcess, scope: str, role: str, principal: str) -> None:
    guid = ROLES[role]
    body = {
        "properties": {
            "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "principalId": principal,
        }
    }
    arm(
        emu,
        "PUT",
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01",
        body,
    )


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    process = EmulatorProcess(
        tmp_path_factory.mktemp("who"),
        [
            *("--identity", "app", "--identity", "other", "--identity", "rgadmin", "--identity", "subowner"),
            *("--identity", "reader", "--identity", "looker", "--identity", "nobody"),
            *("--user", "alice", "--user", "bob"),
            *("--group", "inner=alice", "--group", "outer=inner,bob"),
        ],
    ).start()
    yield process
    process.stop()


def oid(emu, name):
    found = [i for i in emu.info["identities"] if i["name"] == name] + [
        u for u in emu.info["users"] if u["name"] == name
    ]
    return found[0]["objectId"]


@pytest.fixture(scope="module")
def seeded(emu):
    def kv(*args):
        result = run_kvctl(list(args), emulator=emu)
        assert result.exit_code == 0, result.stderr
        return result

    kv("set", "db", "--value", "v1")
    kv("set", "cache", "--value", "v2")
    kv("access", "grant", "--assignee", "app", "--secret", "db")
    kv("access", "grant", "--assignee", "other", "--secret", "cache")
    kv("access", "grant", "--assignee", "outer", "--role", "Key Vault Secrets Officer")
    kv("access", "grant", "--assignee", "looker", "--role", "Key Vault Reader")
    subscription = f"/subscriptions/{emu.info['subscriptionId']}"
    group = f"{subscription}/resourceGroups/{emu.info['resourceGroup']}"
    assign(emu, group, "Key Vault Administrator", oid(emu, "rgadmin"))
    assign(emu, subscription, "Owner", oid(emu, "subowner"))
    assign(emu, subscription, "Reader", oid(emu, "reader"))
    return emu


def who(emu, *args, env=None):
    return run_kvctl(["access", "who", *args], emulator=emu, env=env)


def by_principal(rows):
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["principalId"], []).append(row)
    return out


def test_every_scope_and_the_nested_group_for_one_secret(seeded):
    emu = seeded
    result = who(emu, "db", "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = by_principal(result.json)
    app = rows[oid(emu, "app")]
    assert [(r["level"], r["role"], r["readValues"], r["write"], r["manage"]) for r in app] == [
        ("secret", "Key Vault Secrets User", True, False, False)
    ]
    assert app[0]["principalName"] == "app" and app[0]["principalType"] == "ServicePrincipal"
    assert app[0]["scope"].endswith("/secrets/db") and app[0]["assignmentId"]
    assert oid(emu, "other") not in rows, "a grant on another secret does not reach this one"
    rg = rows[oid(emu, "rgadmin")][0]
    assert (rg["level"], rg["role"], rg["readValues"], rg["write"]) == (
        "resourceGroup",
        "Key Vault Administrator",
        True,
        True,
    )
    owner = rows[oid(emu, "subowner")][0]
    assert (owner["level"], owner["role"], owner["readValues"], owner["manage"]) == (
        "subscription",
        "Owner",
        False,
        True,
    )
    assert oid(emu, "reader") not in rows, "Reader reaches no secret"
    looker = rows[oid(emu, "looker")][0]
    assert (looker["readValues"], looker["readMetadata"]) == (False, True)
    # The group itself, and both its direct member and the member of its nested group.
    outer = next(g for g in emu.info["groups"] if g["name"] == "outer")["objectId"]
    assert rows[outer][0]["principalType"] == "Group" and rows[outer][0]["membersExpanded"] is True
    for member in ("alice", "bob"):
        entry = rows[oid(emu, member)][0]
        assert (entry["viaGroupId"], entry["viaGroupName"], entry["principalType"]) == (outer, "outer", "User")
        assert entry["role"] == "Key Vault Secrets Officer" and entry["readValues"] and entry["write"]
        assert entry["level"] == "vault"
    inner = next(g for g in emu.info["groups"] if g["name"] == "inner")["objectId"]
    assert inner not in rows, "a nested group is shown through its members, not as a grantee"


def test_the_whole_vault_shows_grants_on_single_secrets(seeded):
    result = who(seeded, "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = by_principal(result.json)
    other = rows[oid(seeded, "other")][0]
    assert other["level"] == "secret" and other["scope"].endswith("/secrets/cache")


def test_a_caller_with_reader_only_gets_the_same_answer(seeded):
    admin_view = who(seeded, "db", "-o", "json").json
    client_id = next(i for i in seeded.info["identities"] if i["name"] == "reader")["clientId"]
    result = run_kvctl(
        ["--auth", "managed-identity", "--client-id", client_id, "access", "who", "db", "-o", "json"], emulator=seeded
    )
    assert result.exit_code == 0, result.stderr
    assert result.json == admin_view


def test_a_caller_without_reader_is_refused_with_exit_5(seeded):
    client_id = next(i for i in seeded.info["identities"] if i["name"] == "nobody")["clientId"]
    result = run_kvctl(["--auth", "managed-identity", "--client-id", client_id, "access", "who"], emulator=seeded)
    assert result.exit_code in (3, 5), result.stderr  # ARM hides vaults from who may not read them
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr


def test_an_access_policy_vault(seeded):
    emu = seeded
    app, alice = oid(emu, "app"), oid(emu, "alice")
    group = emu.info["resourceGroup"]
    path = (
        f"/subscriptions/{emu.info['subscriptionId']}/resourceGroups/{group}"
        "/providers/Microsoft.KeyVault/vaults/legacy?api-version=2023-07-01"
    )
    policies = [
        {"tenantId": emu.info["tenantId"], "objectId": app, "permissions": {"secrets": ["get", "list"]}},
        {"tenantId": emu.info["tenantId"], "objectId": alice, "permissions": {"secrets": ["set", "delete"]}},
    ]
    body = {
        "location": "westeurope",
        "properties": {
            "tenantId": emu.info["tenantId"],
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": False,
            "accessPolicies": policies,
        },
    }
    created = arm(emu, "PUT", path, body)
    url = created["properties"]["vaultUri"].rstrip("/")
    result = who(emu, "--vault", url, "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = by_principal(result.json)
    got = rows[app][0]
    assert (got["source"], got["level"], got["secretPermissions"], got["readValues"], got["write"]) == (
        "accessPolicy",
        "accessPolicy",
        ["get", "list"],
        True,
        False,
    )
    assert (rows[alice][0]["readValues"], rows[alice][0]["write"]) == (False, True)
    # Data roles do not apply to a policy vault; the Owner above it may still edit its policies.
    assert oid(emu, "rgadmin") not in rows
    owner = rows[oid(emu, "subowner")][0]
    assert (owner["readValues"], owner["manage"]) == (False, True)


def test_the_table_fits_80_columns_and_keeps_ids_whole(seeded):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KVCTL_", "AZURE_"))}
    env.update(seeded.env)
    env.update({"COLUMNS": "80", "KVCTL_NO_PROGRESS": "1", "NO_COLOR": "1"})
    done = subprocess.run(
        [sys.executable, "-m", "kvctl", "access", "who", "db", "-o", "table"],
        capture_output=True,
        text=True,
        env=env,
        cwd=seeded.state_dir,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, done.stdout
    for name in ("app", "rgadmin", "subowner", "alice", "bob"):
        assert oid(seeded, name) in done.stdout
    assert "via" in done.stdout and "group outer" in done.stdout
    assert "left out for width: Name, Type" in done.stdout, "the footer says what a wider terminal shows"


def test_plain_and_tsv_and_errors(seeded):
    plain = who(seeded, "db", "-o", "plain")
    assert oid(seeded, "app") in plain.stdout.split()
    tsv = who(seeded, "db", "-o", "tsv")
    assert f"{oid(seeded, 'app')}\tread\tKey Vault Secrets User\tsecret db" in tsv.stdout
    versioned = who(seeded, "akv://x/db/0123456789abcdef0123456789abcdef")
    assert versioned.exit_code == 2 and "Traceback" not in versioned.stderr
    missing_vault = who(seeded, "--vault", "https://127.0.0.1:1")
    assert missing_vault.exit_code == 3, missing_vault.stderr
    bad = who(seeded, "not a name")
    assert bad.exit_code == 2


def test_a_secret_that_does_not_exist_is_exit_3(seeded):
    result = who(seeded, "no-such-secret")
    assert result.exit_code == 3, result.stderr
    assert "no-such-secret" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_without_graph_rights_ids_are_shown_and_the_caller_is_told(seeded):
    reader = next(i for i in seeded.info["identities"] if i["name"] == "reader")
    seeded.knobs(graphDenied=[reader["objectId"]])
    try:
        result = run_kvctl(
            ["--auth", "managed-identity", "--client-id", reader["clientId"], "access", "who", "db", "-o", "json"],
            emulator=seeded,
        )
    finally:
        seeded.knobs(graphDenied=[])
    assert result.exit_code == 0, result.stderr
    assert "Microsoft Graph could not be read" in result.stderr and "403" in result.stderr
    assert "by object id" in result.stderr and "Traceback" not in result.stderr
    rows = by_principal(result.json)
    assert all(r["principalName"] is None for r in result.json)
    assert rows[oid(seeded, "app")][0]["readValues"] is True, "the grants are still all there"
    outer = next(g for g in seeded.info["groups"] if g["name"] == "outer")["objectId"]
    assert rows[outer][0]["membersExpanded"] is False
    assert oid(seeded, "alice") not in rows, "members are not guessed"
