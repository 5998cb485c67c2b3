"""`kvctl access`: the CI story end to end, with the real CLI and the real SDKs against the emulator."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import EmulatorProcess, run_kvctl

ROLE = "Key Vault Secrets User"


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    process = EmulatorProcess(tmp_path_factory.mktemp("access"), ["--identity", "app", "--identity", "ci"]).start()
    yield process
    process.stop()


def admin(emu, *args, input=None, env=None):
    return run_kvctl(list(args), emulator=emu, input=input, env=env)


def as_identity(emu, name, *args, env=None):
    client_id = emu.identity(name)["clientId"]
    return run_kvctl(["--auth", "managed-identity", "--client-id", client_id, *args], emulator=emu, env=env)


def test_the_ci_story(emu):
    admin(emu, "set", "db-password", input="s3cret")
    app = emu.identity("app")["objectId"]

    refused = as_identity(emu, "app", "get", "db-password")
    assert refused.exit_code == 5
    assert ROLE in refused.stderr and app in refused.stderr

    granted = admin(emu, "access", "grant", "--assignee", app, "--assignee-type", "ServicePrincipal", "-o", "json")
    assert granted.exit_code == 0, granted.stderr
    assert granted.json["status"] == "granted" and granted.json["role"] == ROLE

    assert as_identity(emu, "app", "get", "db-password").stdout == "s3cret\n"

    again = admin(emu, "access", "grant", "--assignee", app, "--assignee-type", "ServicePrincipal", "-o", "json")
    assert again.exit_code == 0 and again.json["status"] == "already granted"
    assert again.json["assignmentIds"] == granted.json["assignmentIds"]

    listed = admin(emu, "access", "list", "-o", "json").json
    assert {"principalId": app, "role": ROLE, "level": "vault"}.items() <= next(
        e for e in listed if e["principalId"] == app
    ).items()

    revoked = admin(emu, "access", "revoke", "--assignee", app, "-o", "json")
    assert revoked.exit_code == 0 and revoked.json["status"] == "revoked"
    assert as_identity(emu, "app", "get", "db-password").exit_code == 5
    again = admin(emu, "access", "revoke", "--assignee", app, "-o", "json")
    assert again.exit_code == 0 and again.json["status"] == "not granted"


def test_a_secret_scoped_grant_allows_that_secret_only(emu):
    admin(emu, "set", "only-this", input="yes")
    admin(emu, "set", "not-that", input="no")
    ci = emu.identity("ci")["objectId"]
    result = admin(emu, "access", "grant", "--assignee", ci, "--secret", "only-this", "-o", "json")
    assert result.exit_code == 0 and result.json["scope"].endswith("/secrets/only-this")
    assert as_identity(emu, "ci", "get", "only-this").stdout == "yes\n"
    assert as_identity(emu, "ci", "get", "not-that").exit_code == 5
    assert as_identity(emu, "ci", "list").exit_code == 5, "listing needs a vault-wide role"
    listed = admin(emu, "access", "list", "-o", "json").json
    assert any(e["principalId"] == ci and e["level"] == "secret" and e["secret"] == "only-this" for e in listed)


def test_grant_waits_out_principal_replication(fresh_emulator):
    emulator = fresh_emulator("--principal-replication-delay", "3")
    fresh = emulator.control("POST", "identities", {"name": "just-created"})
    result = run_kvctl(["access", "grant", "--assignee", fresh["objectId"], "-o", "json"], emulator=emulator)
    assert result.exit_code == 0, result.stderr
    assert result.json["status"] == "granted"
    assert "not in the directory yet" in result.stderr and "retrying" in result.stderr

    other = emulator.control("POST", "identities", {"name": "typed"})
    typed = run_kvctl(
        ["access", "grant", "--assignee", other["objectId"], "--assignee-type", "ServicePrincipal"], emulator=emulator
    )
    assert typed.exit_code == 0, typed.stderr
    assert "not in the directory yet" not in typed.stderr and "retrying" not in typed.stderr, (
        "a principal type skips the lookup"
    )


def test_unknown_principal_gives_up_with_exit_3(emu):
    result = admin(emu, "access", "grant", "--assignee", str(uuid.uuid4()), "--wait-for-principal", "2s")
    assert result.exit_code == 3
    assert "principal" in result.stderr and "--assignee-type" in result.stderr


def test_access_policy_vault_warns_and_policies_decide(fresh_emulator):
    emulator = fresh_emulator("--identity", "app")
    run_kvctl(["set", "pol", "--value", "by-policy"], emulator=emulator)
    app = emulator.identity("app")
    vault = emulator.info["vaults"][0]["name"]
    emulator.control("PATCH", f"vaults/{vault}", {"properties": {"enableRbacAuthorization": False}})
    granted = run_kvctl(
        ["access", "grant", "--assignee", app["objectId"], "--assignee-type", "ServicePrincipal"], emulator=emulator
    )
    assert granted.exit_code == 0
    assert "uses access policies" in granted.stderr
    refused = run_kvctl(["--auth", "managed-identity", "--client-id", app["clientId"], "get", "pol"], emulator=emulator)
    assert refused.exit_code == 5 and "access policies" in refused.stderr, "the RBAC role grants nothing here"
    emulator.control(
        "PATCH",
        f"vaults/{vault}",
        {
            "properties": {
                "accessPolicies": [
                    {
                        "tenantId": emulator.info["tenantId"],
                        "objectId": app["objectId"],
                        "permissions": {"secrets": ["get"]},
                    }
                ]
            }
        },
    )
    allowed = run_kvctl(["--auth", "managed-identity", "--client-id", app["clientId"], "get", "pol"], emulator=emulator)
    assert allowed.stdout == "by-policy\n"
    listed = run_kvctl(["access", "list", "-o", "json"], emulator=emulator).json
    assert {"kind": "accessPolicy", "principalId": app["objectId"], "secretPermissions": ["get"]}.items() <= next(
        e for e in listed if e["kind"] == "accessPolicy"
    ).items()


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--role", "Key Vault Secret Reader"], 3, "unknown role"),
        (["--role", "00000000-0000-0000-0000-000000000000"], 3, "unknown role"),
        (["--assignee-override", "not-a-guid"], 2, "invalid --assignee"),
        (["--secret", "no-such-secret"], 3, "not found"),
        (["--secret", "bad_name"], 2, "invalid secret name"),
        (["--wait-for-principal", "forever"], 2, "invalid duration"),
    ],
)
def test_bad_grants_fail_clearly(emu, args, code, fragment):
    assignee = emu.identity("app")["objectId"]
    if args[0] == "--assignee-override":
        assignee, args = args[1], []
    result = admin(emu, "access", "grant", "--assignee", assignee, "--assignee-type", "ServicePrincipal", *args)
    assert result.exit_code == code, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_granting_without_rights_names_the_missing_role(fresh_emulator):
    emulator = fresh_emulator("--identity", "reader", "--identity", "target")
    reader, target = emulator.identity("reader"), emulator.identity("target")
    run_kvctl(
        ["access", "grant", "--assignee", reader["objectId"], "--role", "Key Vault Contributor"], emulator=emulator
    )
    result = run_kvctl(
        [
            "--auth",
            "managed-identity",
            "--client-id",
            reader["clientId"],
            "access",
            "grant",
            "--assignee",
            target["objectId"],
            "--assignee-type",
            "ServicePrincipal",
        ],
        emulator=emulator,
    )
    assert result.exit_code == 5, result.stderr
    assert "Microsoft.Authorization/roleAssignments/write" in result.stderr
    assert "Key Vault Data Access Administrator" in result.stderr


def test_a_vault_the_caller_cannot_see_is_not_found_with_a_hint(emu):
    result = as_identity(emu, "app", "access", "grant", "--assignee", emu.identity("ci")["objectId"])
    assert result.exit_code == 3
    assert "no vault with URL" in result.stderr and "Reader on the vault" in result.stderr


def test_roles_explains_the_key_vault_roles(emu):
    roles = {r["name"]: r for r in admin(emu, "access", "roles", "-o", "json").json}
    assert roles[ROLE]["id"] == "4633458b-17de-408a-b874-0445c86b69e6"
    assert roles[ROLE]["allows"] == ["read values", "read metadata"]
    assert "purge" in roles["Key Vault Secrets Officer"]["allows"]
    assert roles["Key Vault Reader"]["allows"] == ["read metadata"]


def test_workload_identity_in_ci(emu):
    app = emu.identity("app")
    env = {
        "AZURE_AUTHORITY_HOST": emu.info["authorityHost"],
        "AZURE_TENANT_ID": emu.info["tenantId"],
        "AZURE_CLIENT_ID": app["clientId"],
        "AZURE_FEDERATED_TOKEN_FILE": app["federatedTokenFile"],
        "IDENTITY_ENDPOINT": None,
        "IDENTITY_HEADER": None,
    }
    who = run_kvctl(["--auth", "workload-identity", "whoami", "-o", "json"], emulator=emu, env=env)
    assert who.exit_code == 0, who.stderr
    assert who.json["objectId"] == app["objectId"] and who.json["credential"] == "WorkloadIdentityCredential"
