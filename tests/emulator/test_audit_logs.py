"""The emulator's audit trail end to end: the real SecretClient makes requests as different
identities, a diagnostic setting routes the vault's AuditEvent rows to a Log Analytics workspace,
and the real `LogsQueryClient` reads them back from the emulator's query API."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.monitor.query import LogsQueryClient, LogsQueryPartialResult, LogsQueryResult

from tests.conftest import EmulatorProcess, arm_call

SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
LOG_ANALYTICS_READER = "73c42c96-874c-492b-b04d-ab87d138a893"
DIAG_API = "api-version=2021-05-01-preview"
WS_API = "api-version=2022-10-01"
HOUR = timedelta(hours=1)


arm = arm_call  # the one ARM request helper (tests/conftest.py)


def assign(emu: EmulatorProcess, scope: str, guid: str, identity: str) -> None:
    body = {
        "properties": {
            "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "principalId": emu.identity(identity)["objectId"],
        }
    }
    path = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01"
    status, created = arm(emu, "PUT", path, body)
    assert status in (200, 201), created


def vault(emu: EmulatorProcess, name: str) -> dict[str, str]:
    return next(v for v in emu.info["vaults"] if v["name"] == name)


def send_audit_events(emu: EmulatorProcess, vault_name: str, workspace_id: str, name: str = "to-logs") -> None:
    body = {"properties": {"workspaceId": workspace_id, "logs": [{"category": "AuditEvent", "enabled": True}]}}
    path = f"{vault(emu, vault_name)['resourceId']}/providers/Microsoft.Insights/diagnosticSettings/{name}?{DIAG_API}"
    status, answer = arm(emu, "PUT", path, body)
    assert status == 200, answer


def stop_audit_events(emu: EmulatorProcess, vault_name: str, name: str = "to-logs") -> None:
    path = f"{vault(emu, vault_name)['resourceId']}/providers/Microsoft.Insights/diagnosticSettings/{name}?{DIAG_API}"
    status, answer = arm(emu, "DELETE", path)
    assert status == 200, answer


def workspace(emu: EmulatorProcess) -> dict[str, str]:
    return emu.info["logAnalyticsWorkspaces"][0]


def secrets(emu: EmulatorProcess, vault_name: str, identity: str | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.info["identityHeader"])
    client_id = emu.identity(identity)["clientId"] if identity else None
    return SecretClient(
        vault(emu, vault_name)["url"],
        ManagedIdentityCredential(client_id=client_id),
        verify_challenge_resource=False,
        connection_verify=emu.info["caFile"],
    )


def logs(
    emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, identity: str | None = None, **options: Any
) -> LogsQueryClient:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emu.info["identityHeader"])
    client_id = emu.identity(identity)["clientId"] if identity else None
    return LogsQueryClient(
        ManagedIdentityCredential(client_id=client_id),
        endpoint=emu.info["logAnalyticsEndpoint"],
        connection_verify=emu.info["caFile"],
        **options,
    )


def rows_of(result: Any) -> list[dict[str, Any]]:
    tables = result.tables if isinstance(result, LogsQueryResult) else result.partial_data
    assert [t.name for t in tables] == ["PrimaryResult"]
    return [dict(zip(tables[0].columns, row, strict=True)) for row in tables[0].rows]


def query_rows(emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, query: str = "AzureDiagnostics") -> list[Any]:
    result = logs(emu, monkeypatch).query_workspace(workspace(emu)["customerId"], query, timespan=HOUR)
    assert isinstance(result, LogsQueryResult)
    return rows_of(result)


def _strict_json(text: bytes) -> Any:
    """JSON as the standard has it: NaN and Infinity are not numbers there."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def raw_query(emu: EmulatorProcess, body: Any, token: str | None, customer_id: str | None = None) -> Any:
    url = f"{emu.info['logAnalyticsEndpoint']}/v1/workspaces/{customer_id or workspace(emu)['customerId']}/query"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=emu.ssl_context()) as response:
            return response.status, dict(response.headers), _strict_json(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), _strict_json(exc.read())


def events(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What `kvctl audit` shows of each row: operation, caller, secret id, result."""
    return [
        (r["OperationName"], r["identity_claim_oid_g"], r["identity_claim_appid_g"], r["id_s"], r["ResultSignature"])
        for r in rows
        if r["OperationName"] != "Authentication"
    ]


def test_three_identities_reads_and_writes_come_back_exactly_and_no_value_is_logged(fresh_emulator, monkeypatch):
    emu = fresh_emulator(
        "--identity",
        "writer",
        "--identity",
        "reader",
        "--identity",
        "outsider",
        "--vault",
        "logged",
        "--vault",
        "quiet",
    )
    send_audit_events(emu, "logged", workspace(emu)["resourceId"])
    for name in ("logged", "quiet"):
        assign(emu, vault(emu, name)["resourceId"], SECRETS_OFFICER, "writer")
        assign(emu, vault(emu, name)["resourceId"], SECRETS_USER, "reader")
    values = [f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}", f"quiet-{uuid.uuid4().hex}"]

    writer = secrets(emu, "logged", "writer", monkeypatch)
    first = writer.set_secret("db-password", values[0], request_id="corr-1", user_agent="audit-test")
    second = writer.set_secret("db-password", values[1])
    reader = secrets(emu, "logged", "reader", monkeypatch)
    assert reader.get_secret("db-password").value == values[1]
    assert reader.get_secret("db-password", first.properties.version).value == values[0]
    assert [p.name for p in reader.list_properties_of_secrets()] == ["db-password"]
    with pytest.raises(ResourceNotFoundError):
        reader.get_secret("missing")
    with pytest.raises(HttpResponseError) as refused:
        secrets(emu, "logged", "outsider", monkeypatch).get_secret("db-password")
    assert refused.value.status_code == 403
    secrets(emu, "quiet", "writer", monkeypatch).set_secret("elsewhere", values[2])  # no setting: no rows

    rows = query_rows(emu, monkeypatch)
    url = vault(emu, "logged")["url"]
    oid = {n: emu.identity(n)["objectId"] for n in ("writer", "reader", "outsider")}
    app = {n: emu.identity(n)["clientId"] for n in ("writer", "reader", "outsider")}
    assert events(rows) == [
        ("SecretSet", oid["writer"], app["writer"], first.id, "OK"),
        ("SecretSet", oid["writer"], app["writer"], second.id, "OK"),
        ("SecretGet", oid["reader"], app["reader"], second.id, "OK"),
        ("SecretGet", oid["reader"], app["reader"], first.id, "OK"),
        ("SecretList", oid["reader"], app["reader"], f"{url}/secrets", "OK"),
        ("SecretGet", oid["reader"], app["reader"], f"{url}/secrets/missing", "NotFound"),
        ("SecretGet", oid["outsider"], app["outsider"], f"{url}/secrets/db-password", "Forbidden"),
    ]
    refused_row = next(r for r in rows if r["ResultSignature"] == "Forbidden")
    assert refused_row["httpStatusCode_d"] == 403
    assert refused_row["isRbacAuthorized_b"] is False
    assert refused_row["properties_enableRbacAuthorization_b"] is True
    challenges = [r for r in rows if r["OperationName"] == "Authentication"]
    assert challenges and all(r["ResultSignature"] == "Unauthorized" for r in challenges)
    # No token, no caller: the column is null, which the SDK turns into "None" (it str()s guid cells).
    assert all(r["identity_claim_oid_g"] in (None, "None") for r in challenges)
    first_row = next(r for r in rows if r["id_s"] == first.id)
    assert first_row["CorrelationId"] == "corr-1"
    assert first_row["clientInfo_s"].startswith("audit-test")
    assert first_row["isRbacAuthorized_b"] is True
    assert first_row["requestUri_s"].startswith(f"{url}/secrets/db-password?api-version=")
    resource_id = vault(emu, "logged")["resourceId"]
    for row in rows:
        assert row["ResourceId"] == resource_id.upper()
        assert row["_ResourceId"] == resource_id.lower()
        assert row["Resource"] == "LOGGED"
        assert row["ResourceProvider"] == "MICROSOFT.KEYVAULT"
        assert row["ResourceType"] == "VAULTS"
        assert row["Category"] == "AuditEvent"
        assert row["Type"] == "AzureDiagnostics"
        assert row["TenantId"] == workspace(emu)["customerId"]
        assert row["SubscriptionId"] == emu.info["subscriptionId"].upper()
        assert row["CallerIPAddress"] == "127.0.0.1"
        assert row["OperationVersion"]
    answer = json.dumps([{k: str(v) for k, v in r.items()} for r in rows])
    stored = sqlite3.connect(emu.state_dir / "state.db").execute("SELECT row FROM audit_events").fetchall()
    assert len(stored) > len(rows)  # the quiet vault's requests are recorded, and go nowhere
    assert emu.control("GET", "state")["auditEvents"] == len(stored)
    for value in values:
        assert value not in answer
        assert all(value not in row for (row,) in stored)


def test_a_setting_routes_only_the_requests_made_while_it_exists(fresh_emulator, monkeypatch):
    emu = fresh_emulator()
    client = secrets(emu, "emulator", None, monkeypatch)
    client.set_secret("before", "v")
    assert query_rows(emu, monkeypatch) == []
    send_audit_events(emu, "emulator", workspace(emu)["resourceId"])
    client.get_secret("before")
    client.set_secret("during", "v")
    stop_audit_events(emu, "emulator")
    client.set_secret("after", "v")
    assert [(r[0], r[3].split("/secrets/")[1].split("/")[0]) for r in events(query_rows(emu, monkeypatch))] == [
        ("SecretGet", "before"),
        ("SecretSet", "during"),
    ]


def test_audit_logs_flag_logs_every_vault_and_restart_keeps_rows_setting_and_workspace(
    fresh_emulator, monkeypatch, tmp_path
):
    state = tmp_path / "kept"
    emu = fresh_emulator("--audit-logs", "--vault", "one", "--vault", "two", state_dir=state)
    customer_id = workspace(emu)["customerId"]
    assert workspace(emu)["name"] == "kvctl-emulator-logs"
    secrets(emu, "one", None, monkeypatch).set_secret("a", "v")
    secrets(emu, "two", None, monkeypatch).set_secret("b", "v")
    assert {(r[0], r[3].split("/")[-2]) for r in events(query_rows(emu, monkeypatch))} == {
        ("SecretSet", "a"),
        ("SecretSet", "b"),
    }
    emu.stop()
    again = fresh_emulator("--vault", "one", "--vault", "two", state_dir=state)  # no flag: the settings stay
    assert workspace(again)["customerId"] == customer_id
    secrets(again, "one", None, monkeypatch).get_secret("a")
    assert [(r[0], r[3].split("/")[-2]) for r in events(query_rows(again, monkeypatch))] == [
        ("SecretSet", "a"),
        ("SecretSet", "b"),
        ("SecretGet", "a"),
    ]


def test_rows_of_a_vault_in_a_second_subscription_name_that_subscription(fresh_emulator, monkeypatch):
    # --audit-logs: every vault, in either subscription, sends its rows to the one workspace
    emu = fresh_emulator(
        "--audit-logs",
        "--subscription",
        "A",
        "--subscription",
        "B",
        "--vault",
        "vault-a",
        "--vault",
        "B/vault-b",
    )
    subs = {s["name"]: s["subscriptionId"] for s in emu.info["subscriptions"]}
    assert subs["A"].lower() != subs["B"].lower()
    secrets(emu, "vault-a", None, monkeypatch).set_secret("in-a", "v")
    secrets(emu, "vault-b", None, monkeypatch).set_secret("in-b", "v")
    query = (
        "AzureDiagnostics | where OperationName == 'SecretSet'"
        " | project Resource, SubscriptionId, _SubscriptionId, ResourceGroup, ResourceId, _ResourceId"
    )
    rows = {r["Resource"]: r for r in query_rows(emu, monkeypatch, query)}
    assert set(rows) == {"VAULT-A", "VAULT-B"}
    for name, sub in (("vault-a", "A"), ("vault-b", "B")):
        row = rows[name.upper()]
        resource_id = vault(emu, name)["resourceId"]
        group = resource_id.split("/")[4]
        assert resource_id.split("/")[2].lower() == subs[sub].lower()
        assert (row["SubscriptionId"], row["_SubscriptionId"]) == (subs[sub].upper(), subs[sub].lower())
        assert row["ResourceGroup"] == group.upper()
        assert (row["ResourceId"], row["_ResourceId"]) == (resource_id.upper(), resource_id.lower())


def test_row_limit_answers_a_partial_result(fresh_emulator, monkeypatch):
    emu = fresh_emulator("--audit-logs", "--log-query-row-limit", "3")
    client = secrets(emu, "emulator", None, monkeypatch)
    for index in range(4):
        client.set_secret(f"s{index}", "v")
    client = logs(emu, monkeypatch, audience="https://api.loganalytics.io")  # as kvctl asks: the public audience
    result = client.query_workspace(workspace(emu)["customerId"], "AzureDiagnostics", timespan=HOUR)
    assert isinstance(result, LogsQueryPartialResult)
    assert len(rows_of(result)) == 3
    assert result.partial_error is not None
    assert result.partial_error.code == "PartialError"
    emu.knobs(logQueryRowLimit=500000)
    assert len(query_rows(emu, monkeypatch)) >= 5  # four sets and at least one challenge


def test_query_errors_auth_and_access_in_the_services_shapes(fresh_emulator, monkeypatch):
    emu = fresh_emulator("--audit-logs", "--identity", "nobody", "--identity", "analyst")
    customer_id = workspace(emu)["customerId"]
    before = emu.control("GET", "state")["counters"]["logQueries"]

    status, headers, body = raw_query(emu, {"query": "AzureDiagnostics"}, None)
    assert status == 401
    assert body["error"]["code"] == "AuthorizationRequiredError"
    assert "authorization_uri=" in headers["WWW-Authenticate"]
    status, _, body = raw_query(emu, {"query": "AzureDiagnostics"}, emu.token("https://vault.azure.net"))
    assert (status, body["error"]["code"]) == (401, "InvalidTokenError")
    token = emu.token("https://api.loganalytics.io", "nobody")
    status, _, body = raw_query(emu, {"query": "AzureDiagnostics"}, token)
    assert (status, body["error"]["code"]) == (403, "InsufficientAccessError")
    assign(emu, workspace(emu)["resourceId"], LOG_ANALYTICS_READER, "analyst")
    token = emu.token("https://api.loganalytics.io", "analyst")
    status, _, body = raw_query(emu, {"query": "AzureDiagnostics", "timespan": "PT1H"}, token)
    assert status == 200
    assert body["tables"][0]["name"] == "PrimaryResult"
    assert {"name": "TimeGenerated", "type": "datetime"} in body["tables"][0]["columns"]
    status, _, body = raw_query(emu, {"query": "AzureDiagnostics"}, token, str(uuid.uuid4()))
    assert (status, body["error"]["code"]) == (404, "WorkspaceNotFoundError")
    status, _, body = raw_query(emu, {"query": "AzureDiagnostics", "timespan": "yesterday"}, token)
    assert (status, body["error"]["code"]) == (400, "BadArgumentError")

    status, _, body = raw_query(emu, {"query": "AzureDiagnostics | wher x"}, token)
    assert status == 400
    assert body["error"]["code"] == "BadArgumentError"
    assert body["error"]["message"] == "The request had some invalid properties"
    assert body["error"]["innererror"]["code"] in ("SyntaxError", "SemanticError")
    with pytest.raises(HttpResponseError) as failed:
        logs(emu, monkeypatch).query_workspace(customer_id, "AzureDiagnostics | wher x", timespan=HOUR)
    assert failed.value.status_code == 400
    assert emu.control("GET", "state")["counters"]["logQueries"] - before == 8

    get_url = f"{emu.info['logAnalyticsEndpoint']}/v1/workspaces/{customer_id}/query?" + urllib.parse.urlencode(
        {"query": "AzureDiagnostics", "timespan": "P1D"}
    )
    request = urllib.request.Request(get_url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10, context=emu.ssl_context()) as response:
        assert json.loads(response.read())["tables"][0]["name"] == "PrimaryResult"


def test_a_timespan_past_the_calendar_is_a_bad_argument_not_a_server_error(fresh_emulator):
    emu = fresh_emulator("--audit-logs", "--identity", "analyst")
    assign(emu, workspace(emu)["resourceId"], LOG_ANALYTICS_READER, "analyst")
    token = emu.token("https://api.loganalytics.io", "analyst")
    for timespan in ("P99999999D", "9999-12-31T23:59:59Z/P1D"):
        status, _, body = raw_query(emu, {"query": "AzureDiagnostics", "timespan": timespan}, token)
        assert (status, body["error"]["code"]) == (400, "BadArgumentError")
        assert body["error"]["innererror"]["code"] == "InvalidTimespanFormat"
    status, _, _ = raw_query(emu, {"query": "AzureDiagnostics", "timespan": "PT1H"}, token)
    assert status == 200


def test_workspaces_through_arm_and_a_setting_routes_to_the_workspace_it_names(fresh_emulator, monkeypatch):
    emu = fresh_emulator("--audit-logs")
    group = f"/subscriptions/{emu.info['subscriptionId']}/resourceGroups/{emu.info['resourceGroup']}"
    status, default = arm(emu, "GET", f"{workspace(emu)['resourceId']}?{WS_API}")
    assert status == 200
    assert default["properties"]["customerId"] == workspace(emu)["customerId"]
    path = f"{group}/providers/Microsoft.OperationalInsights/workspaces/security-logs?{WS_API}"
    assert arm(emu, "PUT", path, {})[0] == 400  # location is required
    status, created = arm(emu, "PUT", path, {"location": "eastus"})
    assert status == 201
    assert created["properties"]["customerId"] != workspace(emu)["customerId"]
    status, again = arm(emu, "PUT", path, {"location": "eastus", "tags": {"team": "sec"}})
    assert (status, again["properties"]["customerId"]) == (200, created["properties"]["customerId"])
    status, listed = arm(emu, "GET", f"{group}/providers/Microsoft.OperationalInsights/workspaces?{WS_API}")
    assert status == 200
    assert sorted(w["name"] for w in listed["value"]) == ["kvctl-emulator-logs", "security-logs"]
    status, missing = arm(emu, "GET", f"{group}/providers/Microsoft.OperationalInsights/workspaces/nope?{WS_API}")
    assert (status, missing["error"]["code"]) == (404, "ResourceNotFound")

    stop_audit_events(emu, "emulator", "kvctl-audit")
    send_audit_events(emu, "emulator", created["id"])
    secrets(emu, "emulator", None, monkeypatch).set_secret("routed", "v")
    client = logs(emu, monkeypatch)
    elsewhere = client.query_workspace(created["properties"]["customerId"], "AzureDiagnostics", timespan=HOUR)
    assert [r[0] for r in events(rows_of(elsewhere))] == ["SecretSet"]
    assert all(r["TenantId"] == created["properties"]["customerId"] for r in rows_of(elsewhere))
    assert events(query_rows(emu, monkeypatch)) == []


def test_kql_filters_projects_and_summarizes_the_audit_rows(fresh_emulator, monkeypatch):
    emu = fresh_emulator("--audit-logs", "--identity", "app", "--vault", "alpha", "--vault", "beta")
    assign(emu, vault(emu, "alpha")["resourceId"], SECRETS_USER, "app")
    admin = secrets(emu, "alpha", None, monkeypatch)
    admin.set_secret("shared", "v1")
    admin.set_secret("shared", "v2")
    secrets(emu, "beta", None, monkeypatch).set_secret("other", "v")
    app = secrets(emu, "alpha", "app", monkeypatch)
    app.get_secret("shared")
    app.get_secret("shared")
    with pytest.raises(HttpResponseError):
        app.set_secret("shared", "v3")  # Secrets User may not write: 403
    app_oid = emu.identity("app")["objectId"]

    # The shape of what `kvctl audit` asks: one vault's secret operations, newest first.
    query = f"""
        AzureDiagnostics
        | where ResourceProvider == "MICROSOFT.KEYVAULT" and Category == "AuditEvent"
        | where _ResourceId =~ "{vault(emu, "alpha")["resourceId"]}"
        | where OperationName startswith "Secret" and identity_claim_oid_g == "{app_oid}"
        | project TimeGenerated, OperationName, ResultSignature, id_s, httpStatusCode_d
        | order by TimeGenerated desc
    """
    rows = query_rows(emu, monkeypatch, query)
    assert [(r["OperationName"], r["ResultSignature"], r["httpStatusCode_d"]) for r in rows] == [
        ("SecretSet", "Forbidden", 403),
        ("SecretGet", "OK", 200),
        ("SecretGet", "OK", 200),
    ]
    assert list(rows[0]) == ["TimeGenerated", "OperationName", "ResultSignature", "id_s", "httpStatusCode_d"]
    assert rows[0]["TimeGenerated"] >= rows[1]["TimeGenerated"]

    counted = query_rows(
        emu,
        monkeypatch,
        'AzureDiagnostics | where OperationName != "Authentication" | summarize n = count() by Resource, '
        "OperationName | order by Resource asc, OperationName asc",
    )
    assert [(r["Resource"], r["OperationName"], r["n"]) for r in counted] == [
        ("ALPHA", "SecretGet", 2),
        ("ALPHA", "SecretSet", 3),
        ("BETA", "SecretSet", 1),
    ]


@pytest.mark.parametrize(
    ("query", "inner", "token"),
    [
        ("AzureDiagnostics | where (", "SyntaxError", None),
        ("AzureDiagnostics | where NoSuchColumn == 1", "SemanticError", "NoSuchColumn"),
        ("NoSuchTable", "SemanticError", "NoSuchTable"),
        ("AzureDiagnostics | join (AzureDiagnostics) on id_s", "SemanticError", None),
    ],
)
def test_a_query_the_engine_refuses_is_a_bad_argument_error_with_where(fresh_emulator, query, inner, token):
    emu = fresh_emulator()
    status, _, body = raw_query(emu, {"query": query}, emu.token("https://api.loganalytics.io"))
    assert status == 400
    error = body["error"]
    assert (error["code"], error["message"]) == ("BadArgumentError", "The request had some invalid properties")
    assert error["innererror"]["code"] == inner
    assert error["innererror"]["message"]
    assert error["innererror"]["line"] == 1
    assert 0 <= error["innererror"]["pos"] <= len(query)
    if token is not None:
        assert error["innererror"]["token"] == token
        assert query[error["innererror"]["pos"] :].startswith(token)


def test_throttled_requests_are_rows_too(tmp_path, monkeypatch):
    """The throttle scaled down (2 writes an hour) in an in-process emulator, so no timing matters."""
    from kvctl.emulator import Emulator, EmulatorOptions, KnobSettings, knobs

    monkeypatch.setattr(knobs, "THROTTLE_WINDOW_SECONDS", 3600.0)
    monkeypatch.setattr(knobs, "THROTTLE_WRITE_LIMIT", 2)
    options = EmulatorOptions(state_dir=tmp_path / "state", knobs=KnobSettings(throttle=True), audit_logs=True)
    with Emulator(options) as emulator:
        info = emulator.info
        monkeypatch.setenv("IDENTITY_ENDPOINT", info["identityEndpoint"])
        monkeypatch.setenv("IDENTITY_HEADER", info["identityHeader"])
        credential = ManagedIdentityCredential()
        client = SecretClient(
            info["vaults"][0]["url"],
            credential,
            verify_challenge_resource=False,
            connection_verify=info["caFile"],
            retry_total=0,  # see the 429 rather than wait it out
        )
        statuses = []
        for index in range(5):
            try:
                client.set_secret(f"s{index}", "v")
                statuses.append(200)
            except HttpResponseError as exc:
                statuses.append(exc.status_code)
        assert statuses == [200, 200, 429, 429, 429]
        logs_client = LogsQueryClient(
            credential, endpoint=info["logAnalyticsEndpoint"], connection_verify=info["caFile"]
        )
        result = logs_client.query_workspace(
            info["logAnalyticsWorkspaces"][0]["customerId"],
            'AzureDiagnostics | where OperationName == "SecretSet" | project ResultSignature, httpStatusCode_d',
            timespan=HOUR,
        )
    assert [(r["ResultSignature"], r["httpStatusCode_d"]) for r in rows_of(result)] == [
        ("OK", 200),
        ("OK", 200),
        ("TooManyRequests", 429),
        ("TooManyRequests", 429),
        ("TooManyRequests", 429),
    ]


def test_additional_workspaces_join_the_answer(fresh_emulator, monkeypatch):
    emu = fresh_emulator("--audit-logs", "--vault", "one", "--vault", "two")
    group = f"/subscriptions/{emu.info['subscriptionId']}/resourceGroups/{emu.info['resourceGroup']}"
    path = f"{group}/providers/Microsoft.OperationalInsights/workspaces/second-logs?{WS_API}"
    status, second = arm(emu, "PUT", path, {"location": "eastus"})
    assert status == 201
    stop_audit_events(emu, "two", "kvctl-audit")
    send_audit_events(emu, "two", second["id"])
    secrets(emu, "one", None, monkeypatch).set_secret("in-first", "v")
    secrets(emu, "two", None, monkeypatch).set_secret("in-second", "v")
    result = logs(emu, monkeypatch).query_workspace(
        workspace(emu)["customerId"],
        'AzureDiagnostics | where OperationName == "SecretSet" | project Resource, TenantId | order by Resource asc',
        timespan=HOUR,
        additional_workspaces=[second["properties"]["customerId"]],
    )
    assert [(r["Resource"], r["TenantId"]) for r in rows_of(result)] == [
        ("ONE", workspace(emu)["customerId"]),
        ("TWO", second["properties"]["customerId"]),
    ]


def test_arm_metadata_names_the_query_api_as_azure_names_its_own(fresh_emulator, monkeypatch):
    emu = fresh_emulator("--audit-logs")
    url = f"{emu.info['armEndpoint']}/metadata/endpoints?api-version=2022-09-01"
    with urllib.request.urlopen(url, timeout=10, context=emu.ssl_context()) as response:  # no token, as ARM
        cloud = json.loads(response.read())
    assert cloud["logAnalyticsResourceId"] == emu.info["logAnalyticsEndpoint"]
    secrets(emu, "emulator", None, monkeypatch).set_secret("found", "v")
    # What the Azure CLI does with it: the base URL of its queries, and the resource of its tokens.
    client = logs(emu, monkeypatch, audience=cloud["logAnalyticsResourceId"])
    result = client.query_workspace(workspace(emu)["customerId"], "AzureDiagnostics | count", timespan=HOUR)
    assert rows_of(result)[0]["Count"] >= 1


def test_no_value_reaches_a_row_even_from_a_refused_write(fresh_emulator):
    emu = fresh_emulator("--audit-logs")
    marker = f"VALUE-{uuid.uuid4().hex}"
    token = emu.token("https://vault.azure.net")
    extras: list[dict[str, Any]] = [
        {},
        {"contentType": "x" * 300},
        {"tags": "not-an-object"},
        {"tags": {f"k{i}": "v" for i in range(20)}},
        {"attributes": {"exp": "tomorrow"}},
        {"attributes": {"enabled": "yes"}},
    ]
    bodies = [json.dumps({"value": marker, **extra}).encode() for extra in extras]
    bodies += [json.dumps({"value": marker + "x" * 26000}).encode(), (marker + "{not json").encode()]
    for body in bodies:
        for content_type in ("application/json", "text/plain"):
            request = urllib.request.Request(
                f"{vault(emu, 'emulator')['url']}/secrets/probe?api-version=7.5",
                data=body,
                method="PUT",
                headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
            )
            try:
                with urllib.request.urlopen(request, timeout=10, context=emu.ssl_context()) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                exc.read()
    status, _, answer = raw_query(emu, {"query": "AzureDiagnostics"}, emu.token("https://api.loganalytics.io"))
    assert status == 200
    rows = answer["tables"][0]["rows"]
    assert len(rows) == 2 * len(bodies)  # every attempt is a SecretSet row, refused or not
    assert marker not in json.dumps(answer)
    stored = sqlite3.connect(emu.state_dir / "state.db").execute("SELECT row FROM audit_events").fetchall()
    assert all(marker not in row for (row,) in stored)


def test_a_failure_to_record_never_fails_the_request(tmp_path, monkeypatch):
    from kvctl.emulator import Emulator, EmulatorOptions, audit_log

    def broken(**fields: Any) -> dict[str, Any]:
        raise RuntimeError("the audit store is broken")

    monkeypatch.setattr(audit_log, "build_row", broken)
    with Emulator(EmulatorOptions(state_dir=tmp_path / "state", audit_logs=True)) as emulator:
        monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.info["identityEndpoint"])
        monkeypatch.setenv("IDENTITY_HEADER", emulator.info["identityHeader"])
        client = SecretClient(
            emulator.info["vaults"][0]["url"],
            ManagedIdentityCredential(),
            verify_challenge_resource=False,
            connection_verify=emulator.info["caFile"],
        )
        client.set_secret("kept", "v")
        assert client.get_secret("kept").value == "v"
        assert emulator.world.store.audit_event_count() == 0


def test_cells_json_cannot_hold_are_sent_as_text(fresh_emulator, monkeypatch):
    emu = fresh_emulator("--audit-logs")
    secrets(emu, "emulator", None, monkeypatch).set_secret("one", "v")
    query = (
        'AzureDiagnostics | where OperationName == "SecretSet" | extend nan = 0.0 / 0.0, inf = 1.0 / 0.0, '
        'span = 90m, bag = dynamic({"a": [1, 2]}) | project nan, inf, span, bag, TimeGenerated'
    )
    status, _, body = raw_query(emu, {"query": query}, emu.token("https://api.loganalytics.io"))
    assert status == 200, body
    columns = [(c["name"], c["type"]) for c in body["tables"][0]["columns"]]
    assert columns == [
        ("nan", "real"),
        ("inf", "real"),
        ("span", "timespan"),
        ("bag", "dynamic"),
        ("TimeGenerated", "datetime"),
    ]
    nan, inf, span, bag, moment = body["tables"][0]["rows"][0]
    assert (nan, inf, span) == ("NaN", "Infinity", "01:30:00")
    assert json.loads(bag) == {"a": [1, 2]}
    assert moment.endswith("Z")


def test_a_caller_column_no_row_has_filled_is_missing_as_in_log_analytics(fresh_emulator, monkeypatch):
    """AzureDiagnostics grows a column only once a row fills it: only identities (no user) wrote,
    so there is no identity_claim_upn_s; naming it fails, column_ifexists() reads it as empty."""
    emu = fresh_emulator("--audit-logs", "--identity", "app")
    assign(emu, emu.info["vaults"][0]["resourceId"], SECRETS_USER, "app")
    secrets(emu, emu.info["vaults"][0]["name"], None, monkeypatch).set_secret("s", "v")
    secrets(emu, emu.info["vaults"][0]["name"], "app", monkeypatch).get_secret("s")
    with pytest.raises(HttpResponseError) as info:
        query_rows(emu, monkeypatch, "AzureDiagnostics | project identity_claim_upn_s")
    assert "identity_claim_upn_s" in str(info.value)
    rows = query_rows(
        emu,
        monkeypatch,
        'AzureDiagnostics | where OperationName == "SecretGet" '
        '| project oid = identity_claim_oid_g, upn = column_ifexists("identity_claim_upn_s", "")',
    )
    assert [(r["oid"], r["upn"]) for r in rows] == [(emu.identity("app")["objectId"], "")]
