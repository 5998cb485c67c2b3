"""The Log Analytics seam on the real azure-monitor-query client, over a recording HTTP adapter:
which URL and scope it uses, that a 429 is retried, how a partial answer and a 403 come back, and
where Log Analytics tokens may go."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import deque
from typing import Any

import pytest
import requests
import urllib3
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport

from kvctl.azure.credentials import GuardedCredential
from kvctl.azure.loganalytics import AzureLogs
from kvctl.core.audit import Workspace, event_from_row
from kvctl.core.clouds import CLOUDS, is_azure_log_analytics_host, log_analytics_endpoint
from kvctl.core.errors import ExitCode, ForbiddenError, UsageError

WS = Workspace("/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/logs", "cust-1")
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
COLUMNS = [
    {"name": "TimeGenerated", "type": "datetime"},
    {"name": "OperationName", "type": "string"},
    {"name": "httpStatusCode_d", "type": "real"},
    {"name": "id_s", "type": "string"},
    {"name": "identity_claim_oid_g", "type": "string"},
    {"name": "ResultSignature", "type": "string"},
]
ROW = [
    "2026-11-01T10:00:00.1234567Z",
    "SecretGet",
    200,
    "https://kv.vault.azure.net/secrets/db/0123456789abcdef0123456789abcdef",
    "OID",
    "OK",
]


class Recorder(requests.adapters.BaseAdapter):
    def __init__(self, answers: list[tuple[int, dict[str, Any], dict[str, str]]]) -> None:
        super().__init__()
        self.answers = deque(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        status, body, headers = self.answers.popleft()
        data = json.dumps(body).encode()
        response = requests.Response()
        response.status_code = status
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(data), status=status, headers=all_headers, preload_content=False
        )
        response.headers.update(all_headers)
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


class Credential:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("a.b.c", 2**31)


def logs_over(answers: list[tuple[int, dict[str, Any], dict[str, str]]]) -> tuple[AzureLogs, Recorder, Credential]:
    adapter = Recorder(answers)
    session = requests.Session()
    session.mount("https://", adapter)
    options = {
        "transport": RequestsTransport(session=session, session_owner=False),
        "retry_total": 3,
        "retry_backoff_factor": 0.01,
        "retry_backoff_max": 0.05,
    }
    credential = Credential()
    logs = AzureLogs(credential, "https://127.0.0.1:8443/loganalytics/v1", "https://api.loganalytics.io", options)
    return logs, adapter, credential


def test_a_query_goes_to_the_endpoints_path_with_the_clouds_scope_and_rows_decode():
    logs, adapter, credential = logs_over(
        [(200, {"tables": [{"name": "PrimaryResult", "columns": COLUMNS, "rows": [ROW]}]}, {})]
    )
    answer = logs.query(WS, "AzureDiagnostics", START, START + dt.timedelta(hours=1))
    assert adapter.sent[0].url == "https://127.0.0.1:8443/loganalytics/v1/workspaces/cust-1/query"
    body = json.loads(adapter.sent[0].body or b"{}")
    assert body["query"] == "AzureDiagnostics" and body["timespan"].startswith("2026-11-01T00:00:00")
    assert credential.scopes == [("https://api.loganalytics.io/.default",)]
    assert answer.complete and len(answer.rows) == 1
    event = event_from_row(answer.rows[0])  # the SDK's decoded row is what the core reads
    assert event.time == dt.datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert (event.secret, event.version, event.status, event.caller_object_id) == (
        "db",
        "0123456789abcdef0123456789abcdef",
        200,
        "oid",
    )


def test_a_throttled_query_is_retried():
    ok = {"tables": [{"name": "PrimaryResult", "columns": COLUMNS, "rows": []}]}
    throttled = {"error": {"code": "TooManyRequests", "message": "slow down"}}
    logs, adapter, _ = logs_over([(429, throttled, {}), (200, ok, {})])  # no Retry-After: retried all the same
    assert logs.query(WS, "q", START, START + dt.timedelta(hours=1)).complete
    assert len(adapter.sent) == 2


def test_a_partial_answer_is_marked_incomplete_with_the_services_reason():
    inner = {"code": "E_QUERY_RESULT_SET_TOO_LARGE", "message": "Query result set has exceeded the record count limit"}
    body = {
        "tables": [{"name": "PrimaryResult", "columns": COLUMNS, "rows": [ROW]}],
        "error": {"code": "PartialError", "message": "There were some errors", "details": [], "innererror": inner},
    }
    logs, _, _ = logs_over([(200, body, {})])
    answer = logs.query(WS, "q", START, START + dt.timedelta(hours=1))
    assert not answer.complete and len(answer.rows) == 1 and "record count limit" in (answer.problem or "")


def test_no_right_to_query_names_log_analytics_reader_at_the_workspace():
    denied = {
        "error": {"code": "InsufficientAccessError", "message": "The provided credentials have insufficient access"}
    }
    logs, _, _ = logs_over([(403, denied, {})])
    with pytest.raises(ForbiddenError) as refused:
        logs.query(WS, "q", START, START + dt.timedelta(hours=1))
    assert refused.value.exit_code == ExitCode.FORBIDDEN
    assert "may not query Log Analytics workspace logs" in refused.value.message
    assert refused.value.hint == f"ask for 'Log Analytics Reader' on workspace {WS.resource_id}"


def test_the_endpoint_is_the_clouds_the_emulators_or_a_checked_override():
    public, china, usgov = CLOUDS["public"], CLOUDS["china"], CLOUDS["usgov"]
    assert log_analytics_endpoint("https://management.azure.com", public) == "https://api.loganalytics.io/v1"
    assert (
        log_analytics_endpoint("https://management.chinacloudapi.cn", china) == "https://api.loganalytics.azure.cn/v1"
    )
    assert log_analytics_endpoint("https://management.usgovcloudapi.net", usgov) == "https://api.loganalytics.us/v1"
    assert log_analytics_endpoint("https://127.0.0.1:8443", public) == "https://127.0.0.1:8443/loganalytics/v1"
    arm = "https://management.azure.com"
    assert log_analytics_endpoint(arm, public, "https://127.0.0.1:9/la") == "https://127.0.0.1:9/la/v1"
    assert log_analytics_endpoint(arm, public, "https://api.loganalytics.io/v1") == "https://api.loganalytics.io/v1"
    for bad in ("http://127.0.0.1:9", "https://api.loganalytics.us", "https://evil.example", "https://a@b", "nonsense"):
        with pytest.raises(UsageError):
            log_analytics_endpoint(arm, public, bad)


class Token:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 0)


def test_log_analytics_tokens_go_only_to_the_clouds_log_analytics_host():
    public = CLOUDS["public"]
    assert is_azure_log_analytics_host("api.loganalytics.io", public)
    assert not is_azure_log_analytics_host("api.loganalytics.us", public)
    assert is_azure_log_analytics_host("api.loganalytics.azure.cn", CLOUDS["china"])
    real = Token("a.eyJpc3MiOiJodHRwczovL3N0cy53aW5kb3dzLm5ldC94LyJ9.c")  # iss: sts.windows.net
    scope = "https://api.loganalytics.io/.default"
    assert GuardedCredential(real, "api.loganalytics.io", public).get_token(scope)
    for host in (
        "api.loganalytics.io.evil.example",
        "api.loganalytics.us",
        "api.loganalytics.azure.cn",
        "127.0.0.1",
        "loganalytics.io",
    ):
        with pytest.raises(UsageError):
            GuardedCredential(real, host, public).get_token(scope)
    emulator = Token("a.eyJpc3MiOiJodHRwczovLzEyNy4wLjAuMTo4NDQzLyJ9.c")  # iss: https://127.0.0.1:8443/
    with pytest.raises(UsageError):
        GuardedCredential(emulator, "api.loganalytics.io", public).get_token(scope)
    assert GuardedCredential(emulator, "127.0.0.1", public).get_token(scope)
