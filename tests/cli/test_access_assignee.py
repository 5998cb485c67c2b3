"""`access --assignee` resolved through the emulator's Microsoft Graph: object id, client id, UPN,
unique display name; unknown principals fail at once; `access list` names principals;
`grant --wait`."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import EmulatorProcess, run_kvctl

ROLE = "Key Vault Secrets User"


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    process = EmulatorProcess(
        tmp_path_factory.mktemp("assignee"),
        ["--identity", "app", "--identity", "twin", "--user", "twin", "--user", "alice", "--group", "team=app"],
    ).start()
    yield process
    process.stop()


def kv(emu, *args, env=None):
    return run_kvctl(list(args), emulator=emu, env=env)


@pytest.mark.parametrize("how", ["objectId", "clientId", "name"])
def test_a_service_principal_by_object_id_client_id_or_name(emu, how):
    app = emu.identity("app")
    assignee = app[how] if how != "name" else "app"
    granted = kv(emu, "access", "grant", "--assignee", assignee, "--secret", f"s-{how}", "-o", "json")
    if granted.exit_code == 3:  # the secret must exist for a secret-scoped grant
        kv(emu, "set", f"s-{how}", "--value", "x")
        granted = kv(emu, "access", "grant", "--assignee", assignee, "--secret", f"s-{how}", "-o", "json")
    assert granted.exit_code == 0, granted.stderr
    assert granted.json["assignee"] == app["objectId"]
    assert (granted.json["assigneeName"], granted.json["assigneeType"]) == ("app", "ServicePrincipal")
    revoked = kv(emu, "access", "revoke", "--assignee", assignee, "--secret", f"s-{how}", "-o", "json")
    assert revoked.json["status"] == "revoked" and revoked.json["assignee"] == app["objectId"]


def test_a_user_by_upn_and_list_shows_names_and_types(emu):
    alice = next(u for u in emu.info["users"] if u["name"] == "alice")
    granted = kv(emu, "access", "grant", "--assignee", alice["userPrincipalName"].upper(), "-o", "json")
    assert granted.exit_code == 0, granted.stderr
    assert granted.json["assignee"] == alice["objectId"] and granted.json["assigneeType"] == "User"
    listed = kv(emu, "access", "list", "-o", "json").json
    entry = next(e for e in listed if e["principalId"] == alice["objectId"])
    assert (entry["principalName"], entry["principalType"]) == (alice["userPrincipalName"], "User")
    admin = emu.identity("admin")["objectId"]
    assert next(e for e in listed if e["principalId"] == admin)["principalName"] == "admin"
    only = kv(emu, "access", "list", "--assignee", "alice@" + emu.info["tenantDomain"], "-o", "json").json
    assert only and {e["principalId"] for e in only} == {alice["objectId"]}
    tsv = kv(emu, "access", "list", "-o", "tsv")
    assert f"{alice['objectId']}\t{alice['userPrincipalName']}\tUser" in tsv.stdout
    kv(emu, "access", "revoke", "--assignee", alice["objectId"])


def test_an_ambiguous_name_lists_the_candidates_and_exits_2(emu):
    result = kv(emu, "access", "grant", "--assignee", "twin")
    assert result.exit_code == 2
    line = result.stderr.splitlines()[0]
    assert "2 principals" in line
    assert emu.identity("twin")["objectId"] in line
    twin_user = next(u for u in emu.info["users"] if u["name"] == "twin")["objectId"]
    assert twin_user in line and "Traceback" not in result.stderr
    assert not [e for e in kv(emu, "access", "list", "-o", "json").json if e["principalName"] in ("twin",)], (
        "nothing was granted"
    )


@pytest.mark.parametrize(
    "assignee", ["5d7c0a52-1f8e-4a55-9a43-2b7e0c8f1d96", "nobody@kvctlemulator.onmicrosoft.com", "no such app"]
)
def test_an_unknown_principal_fails_at_once_with_exit_3(emu, assignee):
    result = kv(emu, "access", "grant", "--assignee", assignee, "--wait-for-principal", "10m")
    assert result.exit_code == 3, result.stderr
    assert "in the directory" in result.stderr.splitlines()[0]
    assert "retrying" not in result.stderr, "no replication retries for a principal Graph does not know"
    assert "Traceback" not in result.stderr


def test_revoke_takes_the_object_id_of_a_principal_that_is_gone(emu):
    gone = str(uuid.uuid4())
    result = kv(emu, "access", "revoke", "--assignee", gone, "-o", "json")
    assert result.exit_code == 0 and result.json["status"] == "not granted"


def test_a_new_identity_known_to_graph_still_waits_for_arm(fresh_emulator):
    emulator = fresh_emulator("--principal-replication-delay", "3")
    fresh = emulator.control("POST", "identities", {"name": "just-created"})
    result = run_kvctl(
        ["access", "grant", "--assignee", fresh["clientId"], "-o", "json"], emulator=emulator
    )  # by client id: Graph resolves it, ARM does not know it yet
    assert result.exit_code == 0, result.stderr
    assert result.json["assignee"] == fresh["objectId"]
    assert "retrying" in result.stderr


def test_grant_wait_is_effective_for_the_caller_and_visible_for_others(emu):
    kv(emu, "set", "wait-probe", "--value", "v")
    mine = kv(
        emu, "access", "grant", "--assignee", "admin", "--role", "Key Vault Reader", "--wait", "30s", "-o", "json"
    )
    assert mine.exit_code == 0, mine.stderr
    assert mine.json["propagation"] == "effective"
    other = kv(emu, "access", "grant", "--assignee", "team", "--wait", "30s", "-o", "json")
    assert other.exit_code == 0, other.stderr
    assert other.json["propagation"] == "visible" and other.json["assigneeType"] == "Group"
    assert "cannot see when Key Vault honours it" in other.stderr
    bad = kv(emu, "access", "grant", "--assignee", "team", "--wait", "soon")
    assert bad.exit_code == 2 and "invalid duration" in bad.stderr


def test_graph_is_not_asked_for_an_object_id_with_a_principal_type(emu):
    """--assignee-type vouches for a principal that may not be in the directory yet."""
    unknown = str(uuid.uuid4())
    result = kv(emu, "access", "grant", "--assignee", unknown, "--assignee-type", "User", "--wait-for-principal", "1s")
    assert result.exit_code == 0, result.stderr  # ARM takes a typed assignment without a lookup, as Azure does
    kv(emu, "access", "revoke", "--assignee", unknown)
    refused = kv(emu, "access", "grant", "--assignee", "app", "--assignee-type", "ServicePrincipal")
    assert refused.exit_code == 2 and "must then be an object id" in refused.stderr


@pytest.mark.parametrize(
    "assignee",
    [
        "x' or displayName eq 'app",  # an OData injection that would match `app` if not quoted
        "nobody' or userPrincipalName eq 'alice@kvctlemulator.onmicrosoft.com",
        "a/b/../../servicePrincipals",
        "o'brien@kvctlemulator.onmicrosoft.com",
        "%2e%2e/%2e%2e",
        "名前@例え.jp",
    ],
)
def test_hostile_names_match_nothing_and_fail_cleanly(emu, assignee):
    result = kv(emu, "access", "grant", "--assignee", assignee, "-o", "json")
    assert result.exit_code == 3, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr
