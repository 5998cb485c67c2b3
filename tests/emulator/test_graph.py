"""The emulator's Microsoft Graph over real HTTPS: the OData shapes and errors clients rely on,
tokens by audience, users and groups, and groups in authorization."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.emulator.graph_api import GraphError, parse_filter
from tests.conftest import EmulatorProcess, run_kvctl

GRAPH = "https://graph.microsoft.com"


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    process = EmulatorProcess(
        tmp_path_factory.mktemp("graph"),
        [
            "--identity",
            "app",
            "--identity",
            "ci",
            "--user",
            "alice",
            "--group",
            "readers=ci",
            "--group",
            "outer=readers,alice",
        ],
    ).start()
    yield process
    process.stop()


def graph(
    emu: EmulatorProcess, method: str, path: str, body: Any = None, token: str | None = "graph"
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token == "graph":
        token = emu.token(GRAPH)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{emu.info['graphEndpoint']}/v1.0{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=emu.ssl_context()) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def q(text: str) -> str:
    return urllib.parse.quote(text)


def test_info_names_graph_users_and_groups(emu):
    info = emu.info
    assert info["graphEndpoint"].startswith("https://127.0.0.1:")
    alice = next(u for u in info["users"] if u["name"] == "alice")
    assert alice["userPrincipalName"] == f"alice@{info['tenantDomain']}"
    assert {g["name"] for g in info["groups"]} == {"readers", "outer"}
    # A bundle for the Azure CLI's REQUESTS_CA_BUNDLE: the emulator's CA and the system's.
    assert "REQUESTS_CA_BUNDLE" not in emu.env, "kvctl's own trust stays KVCTL_CA_BUNDLE"
    bundle = Path(info["caBundle"]).read_text()
    assert Path(info["caFile"]).read_text() in bundle and bundle.count("BEGIN CERTIFICATE") > 1


def test_service_principal_by_id_and_by_every_filter(emu):
    app = emu.identity("app")
    status, body = graph(emu, "GET", f"/servicePrincipals/{app['objectId']}")
    assert status == 200
    assert body["@odata.context"].endswith("/v1.0/$metadata#servicePrincipals/$entity")
    assert (body["id"], body["appId"], body["displayName"]) == (app["objectId"], app["clientId"], "app")
    assert body["servicePrincipalType"] == "ManagedIdentity" and app["clientId"] in body["servicePrincipalNames"]
    for clause in (
        f"appId eq '{app['clientId']}'",
        "displayName eq 'app'",
        f"servicePrincipalNames/any(c:c eq '{app['clientId']}')",
        f"displayName eq 'app' and appId eq '{app['clientId'].upper()}'",
    ):
        status, body = graph(emu, "GET", f"/servicePrincipals?$filter={q(clause)}")
        assert status == 200, clause
        assert body["@odata.context"].endswith("#servicePrincipals")
        assert [sp["id"] for sp in body["value"]] == [app["objectId"]], clause
    status, body = graph(emu, "GET", "/servicePrincipals?$filter=" + q("displayName eq 'nope'"))
    assert status == 200 and body["value"] == []
    status, body = graph(emu, "GET", f"/servicePrincipals(appId='{app['clientId']}')")
    assert status == 200 and body["id"] == app["objectId"]


def test_users_by_id_and_upn(emu):
    alice = next(u for u in emu.info["users"] if u["name"] == "alice")
    for key in (alice["objectId"], alice["userPrincipalName"], alice["userPrincipalName"].upper()):
        status, body = graph(emu, "GET", f"/users/{key}")
        assert status == 200, key
        assert body["id"] == alice["objectId"] and body["userPrincipalName"] == alice["userPrincipalName"]
        assert body["@odata.context"].endswith("#users/$entity")
    upn_filter = "userPrincipalName eq '" + alice["userPrincipalName"] + "'"
    status, body = graph(emu, "GET", "/users?$filter=" + q(upn_filter))
    assert [u["id"] for u in body["value"]] == [alice["objectId"]]


def test_get_by_ids_types_every_object_and_skips_unknown_ones(emu):
    app = emu.identity("app")["objectId"]
    alice = emu.info["users"][0]["objectId"]
    group = next(g for g in emu.info["groups"] if g["name"] == "readers")["objectId"]
    unknown = "00000000-0000-0000-0000-000000000001"
    status, body = graph(emu, "POST", "/directoryObjects/getByIds", {"ids": [app, alice, group, unknown]})
    assert status == 200 and body["@odata.context"].endswith("#directoryObjects")
    types = {o["id"]: o["@odata.type"] for o in body["value"]}
    assert types == {
        app: "#microsoft.graph.servicePrincipal",
        alice: "#microsoft.graph.user",
        group: "#microsoft.graph.group",
    }
    status, body = graph(emu, "POST", "/directoryObjects/getByIds", {"ids": [app, alice], "types": ["user"]})
    assert [o["id"] for o in body["value"]] == [alice]
    status, body = graph(emu, "POST", "/directoryObjects/getByIds", {"ids": "nope"})
    assert status == 400 and body["error"]["code"] == "Request_BadRequest"


def test_transitive_members_expand_nested_groups(emu):
    outer = next(g for g in emu.info["groups"] if g["name"] == "outer")["objectId"]
    status, direct = graph(emu, "GET", f"/groups/{outer}/members")
    status2, transitive = graph(emu, "GET", f"/groups/{outer}/transitiveMembers")
    assert status == status2 == 200
    ci = emu.identity("ci")["objectId"]
    assert ci not in {m["id"] for m in direct["value"]}
    assert ci in {m["id"] for m in transitive["value"]}
    assert {m["@odata.type"] for m in transitive["value"]} == {
        "#microsoft.graph.servicePrincipal",
        "#microsoft.graph.user",
        "#microsoft.graph.group",
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/servicePrincipals/11111111-1111-1111-1111-111111111111", 404, "Request_ResourceNotFound"),
        ("GET", "/users/nobody@kvctlemulator.onmicrosoft.com", 404, "Request_ResourceNotFound"),
        ("GET", "/servicePrincipals/not-a-guid", 400, "Request_BadRequest"),
        ("GET", "/servicePrincipals?$filter=" + q("appId ne 'x'"), 400, "BadRequest"),
        ("GET", "/servicePrincipals?$filter=" + q("homepage eq 'x'"), 400, "Request_UnsupportedQuery"),
        ("GET", "/me", 400, "BadRequest"),
        ("GET", "/applications", 400, "BadRequest"),
    ],
)
def test_errors_have_graphs_shape(emu, method, path, status, code):
    got, body = graph(emu, method, path)
    assert got == status
    assert body["error"]["code"] == code and body["error"]["message"]
    assert set(body["error"]["innerError"]) >= {"date", "request-id"}


def test_graph_takes_only_graph_tokens_and_arm_refuses_them(emu):
    status, body = graph(emu, "GET", "/servicePrincipals", token=None)
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    status, body = graph(emu, "GET", "/servicePrincipals", token=emu.token("https://management.azure.com"))
    assert status == 401 and "audience" in body["error"]["message"]
    # The Azure CLI in a custom cloud asks for a token for the Graph URL itself.
    status, _ = graph(emu, "GET", "/servicePrincipals", token=emu.token(emu.info["graphEndpoint"] + "/"))
    assert status == 200
    request = urllib.request.Request(
        f"{emu.info['armEndpoint']}/subscriptions?api-version=2022-12-01",
        headers={"Authorization": f"Bearer {emu.token(GRAPH)}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10, context=emu.ssl_context())
    assert refused.value.code == 401


def test_a_groups_role_reaches_its_nested_members(emu):
    run_kvctl(["set", "group-secret", "--value", "via-group"], emulator=emu)
    outer = next(g for g in emu.info["groups"] if g["name"] == "outer")["objectId"]
    ci = emu.identity("ci")["clientId"]
    as_ci = ["--auth", "managed-identity", "--client-id", ci, "get", "group-secret"]
    assert run_kvctl(as_ci, emulator=emu).exit_code == 5
    granted = run_kvctl(["access", "grant", "--assignee", "outer", "-o", "json"], emulator=emu)
    assert granted.exit_code == 0, granted.stderr
    assert (granted.json["assignee"], granted.json["assigneeType"]) == (outer, "Group")
    assert run_kvctl(as_ci, emulator=emu).stdout == "via-group\n"
    run_kvctl(["access", "revoke", "--assignee", outer], emulator=emu)
    assert run_kvctl(as_ci, emulator=emu).exit_code == 5


def test_users_and_groups_keep_their_ids_across_restarts(fresh_emulator, tmp_path):
    first = fresh_emulator("--user", "bob", "--group", "team=bob", state_dir=tmp_path / "state")
    ids = (first.info["users"][0]["objectId"], first.info["groups"][0]["objectId"])
    first.stop()
    second = fresh_emulator(state_dir=tmp_path / "state")
    assert (second.info["users"][0]["objectId"], second.info["groups"][0]["objectId"]) == ids


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--group", "team=nobody"], "no identity, user or group named 'nobody'"),
        (["--group", "no-members-sign"], "expected NAME=MEMBER"),
        (["--user", "bad name"], "invalid user name"),
    ],
)
def test_bad_users_and_groups_are_refused_in_one_line(tmp_path, args, fragment):
    from tests.conftest import run_kvctl_process

    result = run_kvctl_process(["emulator", "--state-dir", str(tmp_path / "s"), *args])
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert fragment in stderr and "Traceback" not in stderr


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_filter_literals_round_trip(value):
    quoted = "'" + value.replace("'", "''") + "'"
    assert parse_filter(f"displayName eq {quoted}") == [("eq", "displayname", value)]
    assert parse_filter(f"servicePrincipalNames/any(x:x eq {quoted}) and appId eq 'a'") == [
        ("any", "serviceprincipalnames", value),
        ("eq", "appid", "a"),
    ]


@given(st.text(max_size=40))
def test_filter_parser_never_crashes(text):
    try:
        clauses = parse_filter(text)
    except GraphError as exc:
        assert exc.status == 400
    else:
        assert clauses
