"""Fleet-wide: `check --all-subscriptions`, `check --management-group`, `access who --all-vaults`
against an emulator with vaults in three subscriptions and seeded misconfigurations, through real
kvctl processes; the emulator's Resource Graph endpoint through the real azure-mgmt-resourcegraph."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from tests.conftest import EmulatorProcess, run_kvctl_subprocess
from tests.emulator.test_wire import raw

READER_GUID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
VAULTS = {"prod-a": "Prod", "dev-a": "Dev", "dev-b": "Dev", "test-a": "Test"}


def _arm(emu, method, path, body=None):
    return raw(emu, method, path, body, url=emu.info["armEndpoint"], token=emu.token())


def _sub(emu, name):
    return next(s["subscriptionId"] for s in emu.info["subscriptions"] if s["name"] == name)


def _vault(emu, name):
    return next(v for v in emu.info["vaults"] if v["name"] == name)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    args = ["--identity", "reader", "--identity", "nobody"]
    for sub in ("Prod", "Dev", "Test"):
        args += ["--subscription", sub]
    for vault, sub in VAULTS.items():
        args += ["--vault", vault if sub == "Prod" else f"{sub}/{vault}"]
    emu = EmulatorProcess(tmp_path_factory.mktemp("fleet"), args).start()
    reader = emu.identity("reader")
    # Seeded misconfigurations (and one vault made safe), each set through the control API.
    emu.control(
        "PATCH", "vaults/prod-a", {"properties": {"enablePurgeProtection": True, "publicNetworkAccess": "Disabled"}}
    )
    emu.control("PATCH", "vaults/dev-b", {"properties": {"softDeleteRetentionInDays": 7}})
    policy = {"tenantId": emu.info["tenantId"], "objectId": reader["objectId"], "permissions": {"secrets": ["all"]}}
    emu.control(
        "PATCH", "vaults/test-a", {"properties": {"enableRbacAuthorization": False, "accessPolicies": [policy]}}
    )
    # Secrets in dev-a: one expired, one healthy.
    import os

    from azure.identity import ManagedIdentityCredential
    from azure.keyvault.secrets import SecretClient

    os.environ["IDENTITY_ENDPOINT"] = emu.info["identityEndpoint"]
    os.environ["IDENTITY_HEADER"] = emu.info["identityHeader"]
    try:
        client = SecretClient(
            _vault(emu, "dev-a")["url"],
            ManagedIdentityCredential(),
            verify_challenge_resource=False,
            connection_verify=emu.info["caFile"],
        )
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        future = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
        client.set_secret("old-token", "v1", expires_on=past, content_type="text/plain")
        client.set_secret("fine", "v2", expires_on=future, content_type="text/plain")
    finally:
        del os.environ["IDENTITY_ENDPOINT"], os.environ["IDENTITY_HEADER"]
    # The reader sees the Dev subscription only.
    scope = f"/subscriptions/{_sub(emu, 'Dev')}"
    status, _, body = _arm(
        emu,
        "PUT",
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01",
        {
            "properties": {
                "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{READER_GUID}",
                "principalId": reader["objectId"],
                "principalType": "ServicePrincipal",
            }
        },
    )
    assert status in (200, 201), body
    yield emu
    emu.stop()


def _counters(emu):
    return emu.control("GET", "state")["counters"]


def _as(emu, name, *args):
    client_id = emu.identity(name)["clientId"]
    return run_kvctl_subprocess(["--auth", "managed-identity", "--client-id", client_id, *args], emulator=emu)


def _keys(findings):
    return {(f["vault"], f["id"], f["resource"]) for f in findings}


def test_emulator_json_places_each_vault_in_its_subscription(fleet):
    for name, sub in VAULTS.items():
        entry = _vault(fleet, name)
        assert entry["subscriptionId"] == _sub(fleet, sub)
        assert entry["resourceId"].startswith(f"/subscriptions/{_sub(fleet, sub)}/resourceGroups/")
    # A vault is found only under its own subscription.
    rg = fleet.info["resourceGroup"]
    path = f"resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/dev-a?api-version=2023-07-01"
    status, _, _ = _arm(fleet, "GET", f"/subscriptions/{_sub(fleet, 'Prod')}/{path}")
    assert status == 404
    status, _, body = _arm(fleet, "GET", f"/subscriptions/{_sub(fleet, 'Dev')}/{path}")
    assert status == 200 and body["id"] == _vault(fleet, "dev-a")["resourceId"]


def test_all_subscriptions_finds_exactly_what_checking_each_subscription_finds_with_one_query(fleet):
    before = _counters(fleet)
    result = run_kvctl_subprocess(["check", "--all-subscriptions", "-o", "json"], emulator=fleet)
    after = _counters(fleet)
    assert result.exit_code == 10, result.stderr
    assert after["resourceGraphQueries"] - before["resourceGraphQueries"] == 1
    assert after["armVaultReads"] == before["armVaultReads"], "vault settings came from Resource Graph"
    findings = result.json
    assert {f["vault"] for f in findings} == set(VAULTS)
    # The oracle: the old way, `check --all` in each subscription in turn.
    old: list[dict] = []
    for sub in ("Prod", "Dev", "Test"):
        one = run_kvctl_subprocess(
            ["check", "--all", "-o", "json"], emulator=fleet, env={"AZURE_SUBSCRIPTION_ID": _sub(fleet, sub)}
        )
        assert one.exit_code in (0, 10), one.stderr  # Prod's one vault was made safe
        old += one.json
    assert _keys(findings) == _keys(old)
    ids = {(f["vault"], f["id"]) for f in findings}
    # The seeded misconfigurations, and the vault made safe.
    assert {("dev-b", "KV003"), ("test-a", "KV004"), ("test-a", "KV005"), ("dev-a", "KV010")} <= ids
    assert not {("prod-a", "KV002"), ("prod-a", "KV006")} & ids
    assert ("dev-a", "KV010") in ids and not any(
        f["resource"].endswith("/fine") for f in findings if f["id"] == "KV010"
    )
    assert "found 4 vault(s) in 3 subscription(s)" in result.stderr


def test_the_tenant_root_management_group_gives_the_same_findings(fleet):
    every = run_kvctl_subprocess(["check", "--all-subscriptions", "-o", "json"], emulator=fleet)
    before = _counters(fleet)
    # No subscription chosen (and no Azure CLI default): fleet-wide needs none, and guesses none.
    result = run_kvctl_subprocess(
        ["check", "--management-group", fleet.info["tenantId"], "-o", "json"],
        emulator=fleet,
        env={"AZURE_SUBSCRIPTION_ID": None},
    )
    assert _counters(fleet)["resourceGraphQueries"] - before["resourceGraphQueries"] == 1
    assert result.exit_code == 10, result.stderr
    assert _keys(result.json) == _keys(every.json)


def test_sarif_names_the_vault_of_each_finding(fleet):
    result = run_kvctl_subprocess(["check", "--all-subscriptions", "-o", "sarif"], emulator=fleet)
    assert result.exit_code == 10, result.stderr
    run = json.loads(result.stdout)["runs"][0]
    assert "/all-subscriptions/" in run["automationDetails"]["id"]
    text = json.dumps(run["results"])
    assert all(name in text for name in VAULTS)


def test_a_caller_who_sees_one_subscription_sees_only_its_vaults(fleet):
    result = _as(fleet, "reader", "check", "--all-subscriptions", "-o", "json")
    assert result.exit_code == 10, result.stderr
    assert {f["vault"] for f in result.json} == {"dev-a", "dev-b"}
    # Reader has no data access: the secrets are a finding, not a crash.
    assert {("dev-a", "KV020"), ("dev-b", "KV020")} <= {(f["vault"], f["id"]) for f in result.json}
    assert "Traceback" not in result.stderr


def test_access_who_all_vaults(fleet):
    result = run_kvctl_subprocess(["access", "who", "--all-vaults", "-o", "json"], emulator=fleet)
    assert result.exit_code == 0, result.stderr
    by_vault = {r["vault"]: r for r in result.json}
    assert set(by_vault) == set(VAULTS)
    for name, sub in VAULTS.items():
        assert by_vault[name]["subscriptionId"] == _sub(fleet, sub)
        assert by_vault[name]["resourceId"] == _vault(fleet, name)["resourceId"]
        assert by_vault[name]["error"] is None
    reader = fleet.identity("reader")["objectId"]
    policy = [e for e in by_vault["test-a"]["entries"] if e["principalId"] == reader]
    assert by_vault["test-a"]["model"] == "accessPolicies"
    assert policy and policy[0]["source"] == "accessPolicy" and policy[0]["readValues"] is True
    table = run_kvctl_subprocess(["access", "who", "--all-vaults", "-o", "tsv"], emulator=fleet)
    assert table.exit_code == 0 and {line.split("\t")[0] for line in table.stdout.splitlines()[1:]} == set(VAULTS)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["check", "--management-group", "not-a-group"], 3, "management group not-a-group not found"),
        (["check", "--management-group", "bad group!"], 2, "invalid management group id"),
        (["check", "--all-subscriptions", "--fix"], 2, "--fix works on one subscription"),
        (["check", "--all-subscriptions", "--all"], 2, "one of them"),
        (["access", "who", "db", "--all-vaults"], 2, "not both"),
    ],
)
def test_error_paths_are_one_line_and_the_documented_code(fleet, args, code, words):
    result = run_kvctl_subprocess(args, emulator=fleet)
    assert result.exit_code == code, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith("kvctl: error:") and len(result.stderr.splitlines()) <= 2


def test_no_subscription_visible_is_one_clear_line(fleet):
    for args in (["check", "--all-subscriptions"], ["access", "who", "--all-vaults"]):
        result = _as(fleet, "nobody", *args)
        assert result.exit_code == 3, result.stderr
        assert "no subscription is visible to this identity" in result.stderr
        assert "Traceback" not in result.stderr


# -- the Resource Graph endpoint through the real SDK ----------------------------------------------


def _graph_client(emu, monkeypatch, identity: str | None = None):
    """The real Resource Graph client against the emulator, as its admin or as `identity`."""
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.resourcegraph import ResourceGraphClient

    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.info["identityHeader"])
    return ResourceGraphClient(
        ManagedIdentityCredential(client_id=emu.identity(identity)["clientId"] if identity else None),
        base_url=emu.info["armEndpoint"],
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=emu.info["caFile"],
    )


def test_resource_graph_pages_with_skip_tokens(fleet, monkeypatch):
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    client = _graph_client(fleet, monkeypatch)
    subs = [s["subscriptionId"] for s in fleet.info["subscriptions"]]
    query = (
        "Resources | where type =~ 'Microsoft.KeyVault/vaults'"
        " | project id, name, subscriptionId, properties | order by name asc"
    )
    rows, token, pages = [], None, 0
    while True:
        page = client.resources(
            QueryRequest(subscriptions=subs, query=query, options=QueryRequestOptions(top=3, skip_token=token))
        )
        pages += 1
        assert page.total_records == 4 and page.count == len(page.data) and page.result_truncated == "false"
        rows += page.data
        token = page.skip_token
        if not token:
            break
    assert pages == 2
    assert [r["name"] for r in rows] == sorted(VAULTS)
    dev_b = next(r for r in rows if r["name"] == "dev-b")
    assert dev_b["properties"]["softDeleteRetentionInDays"] == 7 and dev_b["subscriptionId"] == _sub(fleet, "Dev")
    # Table format and the subscriptions in ResourceContainers.
    table = client.resources(
        QueryRequest(
            subscriptions=subs,
            query="resourcecontainers | where type == 'microsoft.resources/subscriptions'"
            " | project name, subscriptionId",
            options=QueryRequestOptions(result_format="table"),
        )
    )
    assert [c["name"] for c in table.data["columns"]] == ["name", "subscriptionId"]
    assert sorted(r[0] for r in table.data["rows"]) == ["Dev", "Prod", "Test"]


def test_resource_graph_refuses_what_it_cannot_answer_in_args_shape(fleet, monkeypatch):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.resourcegraph.models import QueryRequest

    client = _graph_client(fleet, monkeypatch)
    with pytest.raises(HttpResponseError) as caught:
        client.resources(QueryRequest(query="Resources | frobnicate x"))
    error = caught.value
    assert error.status_code == 400 and error.error.code == "BadRequest"
    assert "correlationId" in error.error.message
    details = error.error.details
    assert details[0].code == "InvalidQuery"
    assert details[1].code in ("ParserFailure", "UnsupportedOperator")
    with pytest.raises(HttpResponseError) as caught:
        client.resources(QueryRequest(query="Resources | where nosuchfn(name)"))
    assert caught.value.error.details[0].code == "InvalidQuery"


def test_the_reader_graph_sees_one_subscription(fleet, monkeypatch):
    from azure.mgmt.resourcegraph.models import QueryRequest

    client = _graph_client(fleet, monkeypatch, "reader")
    found = client.resources(QueryRequest(query="resources | project name"))
    assert sorted(r["name"] for r in found.data) == ["dev-a", "dev-b"]


def test_a_query_that_doubles_a_string_to_256_mb_is_refused_for_an_identity_with_no_role(fleet, monkeypatch):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.resourcegraph.models import QueryRequest

    client = _graph_client(fleet, monkeypatch, "nobody")
    lets = " ".join(f"let a{i + 1} = strcat(a{i}, a{i});" for i in range(24))
    query = f'let a0 = "{"x" * 16}"; {lets} resources | project n = strlen(a24)'
    assert len(query) < 900
    with pytest.raises(HttpResponseError) as caught:
        client.resources(QueryRequest(query=query))
    assert caught.value.status_code == 400
    assert caught.value.error.details[0].code == "InvalidQuery"
    assert "exceeds 1,000,000 characters" in str(caught.value)
    # the emulator is still answering
    assert client.resources(QueryRequest(query="resources | project name")).data == []


def test_a_vault_created_through_arm_in_another_subscription(fresh_emulator, monkeypatch):
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.keyvault import KeyVaultManagementClient

    emu: EmulatorProcess = fresh_emulator("--subscription", "Main", "--subscription", "Other")
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.info["identityHeader"])
    other = _sub(emu, "Other")
    kv = KeyVaultManagementClient(
        ManagedIdentityCredential(),
        other,
        base_url=emu.info["armEndpoint"],
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=emu.info["caFile"],
    )
    params = {
        "location": "eastus",
        "properties": {"tenantId": emu.info["tenantId"], "sku": {"family": "A", "name": "standard"}},
    }
    vault = kv.vaults.begin_create_or_update(emu.info["resourceGroup"], "made-elsewhere", params).result()
    assert vault.id.startswith(f"/subscriptions/{other}/")
    assert [v.name for v in kv.vaults.list_by_subscription()] == ["made-elsewhere"]
    info = json.loads((emu.state_dir / "emulator.json").read_text())
    entry = next(v for v in info["vaults"] if v["name"] == "made-elsewhere")
    assert entry["subscriptionId"] == other and entry["url"] not in {v["url"] for v in emu.info["vaults"]}
    result = run_kvctl_subprocess(["check", "--all-subscriptions", "-o", "json"], emulator=emu)
    assert {f["vault"] for f in result.json} == {"emulator", "made-elsewhere"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--subscription", "main", "--subscription", "other", "--vault", "main/abcd", "--vault", "other/abcd"],
            b"--vault other/abcd: the vault name 'abcd' is already given (--vault main/abcd)",
        ),
        (
            ["--subscription", "main", "--subscription", "other", "--vault", "abcd", "--vault", "other/ABCD"],
            b"--vault other/ABCD: the vault name 'ABCD' is already given (--vault abcd)",
        ),
        (["--vault", "x-vault", "--vault", "x-vault"], b"the vault name 'x-vault' is already given"),
        (
            ["--subscription", "main", "--subscription", "MAIN"],
            b"--subscription MAIN: a subscription of that name is already given",
        ),
    ],
)
def test_a_vault_or_subscription_name_given_twice_is_a_usage_error(tmp_path, args, message):
    from tests.conftest import run_kvctl_process

    state = tmp_path / "s"
    done = run_kvctl_process(["emulator", "--state-dir", str(state), *args], timeout=30)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert message.decode() in lines[0]
    assert "Traceback" not in done.stderr.decode() and len(lines) <= 2  # one line and a hint
    assert not (state / "emulator.json").exists()


def test_a_vault_placed_in_an_unknown_subscription_is_a_usage_error(tmp_path):
    from tests.conftest import run_kvctl_process

    done = run_kvctl_process(
        ["emulator", "--state-dir", str(tmp_path / "s"), "--subscription", "A", "--vault", "B/x-vault"], timeout=30
    )
    assert done.returncode == 2
    assert b"no --subscription named 'B'" in done.stderr and b"Traceback" not in done.stderr


def test_a_fleet_check_that_finds_no_vault_fails_instead_of_passing(fleet):
    """Found by a new user: an identity with no role checked a management group, found 0 vaults
    and exited 0, so a CI gate passed having checked nothing."""
    result = _as(fleet, "nobody", "check", "--management-group", fleet.info["tenantId"], "-o", "json")
    assert result.exit_code == 3, result.stderr
    assert "no vault is visible" in result.stderr and "nothing was checked" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
