"""`audit` core logic with fakes: KQL literals and queries, AuditEvent rows as events, finding the
workspace from diagnostic settings, splitting truncated answers, `--unused` marks and revoke commands.

The fake logs backend answers rows in the shape azure-monitor-query's client gives them (checked by
`test_sdk_tables_become_the_rows_the_core_reads`, which runs the real SDK's own decoding)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core import kql
from kvctl.core.arm import RoleAssignment, VaultResource
from kvctl.core.audit import (
    OPERATIONS,
    AuditLoggingOff,
    Workspace,
    audit_workspace_ids,
    event_from_row,
    find_workspaces,
    operation_names,
    secret_and_version,
    since_window,
)
from kvctl.core.audit_run import AuditRequest, LogsAnswer, LogsBackend, fetch_rows, last_reads, run_audit
from kvctl.core.errors import ExitCode, ForbiddenError, UsageError
from kvctl.core.principals import Principal
from kvctl.core.unused import mark_unused, revoke_command
from kvctl.core.whocan import who_can
from tests.unit.kql_reference import tokens

SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
VAULT_ID = f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
URL = "https://kv.vault.azure.net"
WS_ID = f"{SUB}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/logs"
ALICE, APP, BOB, GROUP = (f"{n}0000000-0000-0000-0000-000000000000"[-36:] for n in "abcd")
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HOSTILE = ['x" or 1==1 //', "x\\", '\\"', "a' or 'b", '" | take 1 | where "', '@"x"', "é🙂"]


def audit_setting(**props: Any) -> dict[str, Any]:
    return {
        "name": "s",
        "properties": {"workspaceId": WS_ID, "logs": [{"categoryGroup": "audit", "enabled": True}], **props},
    }


# -- KQL -----------------------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(min_codepoint=32, exclude_characters="\x7f"), max_size=80))
def test_a_literal_reads_back_as_exactly_its_value(value):
    assert tokens(kql.literal(value)) == [("string", value)]


@pytest.mark.parametrize("value", ["a\nb", "x\r", "\x00", "tab\there", "\x7f"])
def test_control_characters_are_refused_not_escaped(value):
    with pytest.raises(ValueError):
        kql.literal(value)


@given(st.lists(st.text(alphabet=st.characters(min_codepoint=32, exclude_characters="\x7f"), max_size=40), max_size=3))
def test_a_hostile_caller_stays_one_string_in_the_query(callers):
    query = kql.events_query(kql.AuditQuery(VAULT_ID, caller_ids=callers))
    strings = [text for kind, text in tokens(query) if kind == "string"]
    # Every caller appears as a whole string (twice: object id or app id), and the structure is the
    # one of a query without callers plus exactly one `| where` line.
    for caller in callers:
        assert strings.count(caller) >= 2
    words = [t for t in tokens(query) if t[0] != "string"]
    base = [t for t in tokens(kql.events_query(kql.AuditQuery(VAULT_ID))) if t[0] != "string"]
    if callers:
        assert [t for t in words if t == ("op", "|")].__len__() == [t for t in base if t == ("op", "|")].__len__() + 1
    else:
        assert words == base


@pytest.mark.parametrize("caller", HOSTILE)
def test_named_metacharacters_do_not_change_the_query(caller):
    query = kql.events_query(kql.AuditQuery(VAULT_ID, caller_ids=[caller]))
    line = next(line for line in query.splitlines() if "identity_claim_oid_g" in line and "where" in line)
    assert [t for t in tokens(line) if t[0] != "string"] == [
        ("op", "|"),
        ("word", "where"),
        ("word", "identity_claim_oid_g"),
        ("op", "=~"),
        ("word", "or"),
        ("word", "identity_claim_appid_g"),
        ("op", "=~"),
    ]


def test_the_events_query_filters_vault_category_operations_secret_and_orders_oldest_first():
    query = kql.events_query(kql.AuditQuery(VAULT_ID, ["SecretGet", "SecretSet"], "db", None, [ALICE]))
    assert query.startswith("AzureDiagnostics\n")
    assert f'ResourceId =~ "{VAULT_ID}"' in query
    assert 'Category == "AuditEvent"' in query
    assert 'OperationName in ("SecretGet", "SecretSet")' in query
    assert 'id_s endswith "secrets/db" or id_s contains "secrets/db/"' in query
    assert "| order by TimeGenerated asc" in query
    every = kql.events_query(kql.AuditQuery(VAULT_ID))
    assert 'OperationName startswith "Secret"' in every and "id_s endswith" not in every
    version = kql.events_query(kql.AuditQuery(VAULT_ID, secret="db", version="abc"))
    assert 'id_s endswith "secrets/db/abc"' in version


# -- operations, windows ---------------------------------------------------------------------------


def test_operations_take_short_names_comma_separated_or_repeated():
    assert operation_names(["get,set", "get", " purge "]) == ["SecretGet", "SecretSet", "SecretPurge"]
    assert operation_names([]) == []
    with pytest.raises(UsageError, match="unknown operation 'read'"):
        operation_names(["get,read"])
    with pytest.raises(UsageError):
        operation_names([","])


@given(st.text(max_size=30))
def test_any_operation_text_is_names_or_a_usage_error(text):
    try:
        names = operation_names([text])
    except UsageError as exc:
        assert exc.exit_code == ExitCode.USAGE
    else:
        assert set(names) <= set(OPERATIONS.values())


def test_the_window_is_positive_and_at_most_730_days():
    assert since_window(dt.timedelta(days=730)) == dt.timedelta(days=730)
    for bad in (dt.timedelta(0), dt.timedelta(days=731)):
        with pytest.raises(UsageError):
            since_window(bad)


# -- rows -> events --------------------------------------------------------------------------------


def row(**overrides: Any) -> dict[str, Any]:
    base = {
        "TimeGenerated": T0,
        "OperationName": "SecretGet",
        "ResultSignature": "OK",
        "ResultType": "Success",
        "httpStatusCode_d": 200.0,
        "CallerIPAddress": "10.0.0.7",
        "id_s": f"{URL}/secrets/db/0123456789abcdef0123456789abcdef",
        "requestUri_s": f"{URL}/secrets/db/0123456789abcdef0123456789abcdef?api-version=7.5",
        "identity_claim_oid_g": ALICE.upper(),
        "identity_claim_appid_g": APP,
        "identity_claim_upn_s": None,
        "CorrelationId": "c-1",
    }
    return {**base, **overrides}


def test_a_row_becomes_an_event_with_short_operation_secret_version_and_result():
    event = event_from_row(row())
    assert event.as_json() == {
        "time": "2026-11-01T00:00:00Z",
        "operation": "get",
        "operationName": "SecretGet",
        "secret": "db",
        "version": "0123456789abcdef0123456789abcdef",
        "status": 200,
        "result": "OK",
        "succeeded": True,
        "callerName": None,
        "callerObjectId": ALICE,
        "callerAppId": APP,
        "callerUpn": None,
        "clientAddress": "10.0.0.7",
        "correlationId": "c-1",
    }


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("SecretListVersions", "versions"),
        ("SecretListDeleted", "list-deleted"),
        ("SecretRestore", "restore"),
        ("SecretFrobnicate", "frobnicate"),
        ("VaultGet", "VaultGet"),
    ],
)
def test_operation_names_map_to_short_names(name, short):
    assert event_from_row(row(OperationName=name)).operation == short


def test_rows_in_other_shapes_are_read_too():
    old = row(
        identity_claim_oid_g=None, identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g=BOB
    )
    assert event_from_row(old).caller_object_id == BOB
    text_time = event_from_row(row(TimeGenerated="2026-11-01T00:00:01.5Z", httpStatusCode_d="403"))
    assert text_time.time == T0 + dt.timedelta(seconds=1.5) and text_time.status == 403 and not text_time.succeeded
    listing = event_from_row(row(OperationName="SecretList", id_s=f"{URL}/secrets", requestUri_s=None))
    assert (listing.secret, listing.version) == (None, None)
    deleted = event_from_row(row(OperationName="SecretPurge", id_s=f"{URL}/deletedsecrets/db"))
    assert (deleted.secret, deleted.version) == ("db", None)
    assert secret_and_version(None) == (None, None)


# -- where the log goes ----------------------------------------------------------------------------


def test_only_settings_sending_audit_events_to_a_workspace_count():
    off = {"name": "x", "properties": {"workspaceId": WS_ID, "logs": [{"categoryGroup": "audit", "enabled": False}]}}
    policy = {
        "name": "y",
        "properties": {"workspaceId": WS_ID, "logs": [{"category": "AzurePolicyEvaluationDetails", "enabled": True}]},
    }
    storage = {
        "name": "z",
        "properties": {"storageAccountId": "/s/a", "logs": [{"category": "AuditEvent", "enabled": True}]},
    }
    assert audit_workspace_ids([off, policy]) == ([], [])
    assert audit_workspace_ids([storage]) == ([], ["a storage account"])
    assert audit_workspace_ids([audit_setting(), audit_setting(), storage])[0] == [WS_ID]
    all_logs = audit_setting(logs=[{"categoryGroup": "allLogs", "enabled": True}])
    assert audit_workspace_ids([all_logs])[0] == [WS_ID]


class FakeReader:
    def __init__(self, settings: list[dict[str, Any]], *, deny: str | None = None, retention: int | None = 30) -> None:
        self.settings = settings
        self.deny = deny
        self.retention = retention

    def list_diagnostic_settings(self, resource_id: str) -> list[dict[str, Any]]:
        if self.deny == "settings":
            raise ForbiddenError("forbidden", caller=BOB)
        return self.settings

    def get_workspace(self, resource_id: str) -> Workspace:
        if self.deny == "workspace":
            raise ForbiddenError("forbidden", caller=BOB)
        return Workspace(resource_id, f"cust-{resource_id.rsplit('/', 1)[-1]}", self.retention)


def test_logging_off_is_not_found_with_the_command_that_turns_it_on():
    with pytest.raises(AuditLoggingOff) as off:
        find_workspaces(FakeReader([]), "kv", VAULT_ID)
    assert off.value.exit_code == ExitCode.NOT_FOUND and "kv" in off.value.message
    assert off.value.hint and f"--resource {VAULT_ID} --workspace WORKSPACE_ID" in off.value.hint
    assert '\'[{"categoryGroup":"audit","enabled":true}]\'' in off.value.hint
    storage = {
        "name": "z",
        "properties": {"storageAccountId": "/s/a", "logs": [{"category": "AuditEvent", "enabled": True}]},
    }
    with pytest.raises(AuditLoggingOff, match="only to a storage account"):
        find_workspaces(FakeReader([storage]), "kv", VAULT_ID)


def test_no_right_to_read_settings_or_workspace_names_the_role_to_ask_for():
    with pytest.raises(ForbiddenError) as settings:
        find_workspaces(FakeReader([audit_setting()], deny="settings"), "kv", VAULT_ID)
    assert "diagnostic settings" in settings.value.message and "Monitoring Reader" in (settings.value.hint or "")
    with pytest.raises(ForbiddenError) as workspace:
        find_workspaces(FakeReader([audit_setting()], deny="workspace"), "kv", VAULT_ID)
    assert "Log Analytics Reader" in (workspace.value.hint or "") and WS_ID in (workspace.value.hint or "")


# -- truncated answers -----------------------------------------------------------------------------


class FakeLogs:
    """Log Analytics over a list of rows: answers at most `limit` rows per query, marking the
    answer partial beyond that, as the service does."""

    def __init__(self, rows: list[dict[str, Any]], limit: int = 1000) -> None:
        self.rows = rows
        self.limit = limit
        self.calls: list[tuple[str, dt.datetime, dt.datetime]] = []
        self.lock = threading.Lock()
        self.fail: Exception | None = None

    def query(self, workspace: Workspace, query: str, start: dt.datetime, end: dt.datetime) -> LogsAnswer:
        with self.lock:
            self.calls.append((workspace.customer_id, start, end))
        if self.fail:
            raise self.fail
        found = [r for r in self.rows if start <= r["TimeGenerated"] <= end]
        if "summarize" in query:
            latest: dict[tuple[Any, ...], dt.datetime] = {}
            for r in found:
                if r["OperationName"] != "SecretGet" or r["httpStatusCode_d"] != 200:
                    continue
                key = (r["identity_claim_oid_g"], r["identity_claim_appid_g"], r["id_s"])
                latest[key] = max(latest.get(key, r["TimeGenerated"]), r["TimeGenerated"])
            found = [
                {"identity_claim_oid_g": k[0], "identity_claim_appid_g": k[1], "id_s": k[2], "lastRead": v}
                for k, v in latest.items()
            ]
        if len(found) > self.limit:
            return LogsAnswer(found[: self.limit], complete=False, problem="the result set exceeded 500000 rows")
        return LogsAnswer(found)


def _backend_is_a_logs_backend() -> LogsBackend:
    return FakeLogs([])  # mypy checks the fake against the protocol


WS = Workspace(WS_ID, "cust-logs", 30)


def test_a_truncated_range_is_split_until_every_row_is_there_in_order():
    rows = [row(TimeGenerated=T0 + dt.timedelta(minutes=i), CorrelationId=str(i)) for i in range(100)]
    logs = FakeLogs(rows, limit=7)
    got, incomplete = fetch_rows(logs, WS, "q", T0, T0 + dt.timedelta(hours=2), parallel=3)
    events = [event_from_row(r) for r in got]
    # Rows on a boundary can come twice (both halves include it); the caller drops repeats by key.
    unique = list(dict.fromkeys(e.key() for e in events))
    assert [k[-1] for k in unique] == [str(i) for i in range(100)] and not incomplete
    assert len(logs.calls) > 1


def test_a_second_still_too_big_is_reported_incomplete_with_what_came():
    rows = [row(TimeGenerated=T0, CorrelationId=str(i)) for i in range(20)]
    logs = FakeLogs(rows, limit=5)
    got, incomplete = fetch_rows(logs, WS, "q", T0 - dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=1))
    assert incomplete and incomplete[0].problem == "the result set exceeded 500000 rows"
    assert 5 <= len({r["CorrelationId"] for r in got}) < 20


class FakeArm:
    subscription_id = SUB.rsplit("/", 1)[-1]

    def __init__(self, vault: VaultResource, assignments: list[RoleAssignment] | None = None) -> None:
        self.vault = vault
        self.assignments = assignments or []

    def list_vaults(self) -> Iterator[VaultResource]:
        yield self.vault

    def list_role_assignments(self, scope: str, *, principal_id: str | None = None) -> list[RoleAssignment]:
        return list(self.assignments)


VAULT = VaultResource(VAULT_ID, "kv", "westeurope", URL, {"enableRbacAuthorization": True})


class Directory:
    def get_by_ids(self, object_ids: list[str]) -> list[Principal]:
        known = {ALICE: Principal(ALICE, "User", "Alice", upn="alice@example.com")}
        return [known[o] for o in object_ids if o in known]

    def transitive_members(self, group_id: str) -> list[Principal]:
        return [Principal(ALICE, "User", "Alice", upn="alice@example.com"), Principal(BOB, "User", "Bob")]

    def service_principals_with_app_id(self, app_id: str) -> list[Principal]:
        return []

    def user(self, upn: str) -> Principal | None:
        return None

    def with_display_name(self, name: str) -> list[Principal]:
        return []


def test_events_from_two_workspaces_are_merged_by_time_once_each_and_named():
    other = f"{SUB}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/other"
    reader = FakeReader([audit_setting(), audit_setting(workspaceId=other)], retention=None)
    rows = [row(TimeGenerated=T0 + dt.timedelta(seconds=i), CorrelationId=str(i)) for i in range(4)]
    logs = FakeLogs(rows)
    now = T0 + dt.timedelta(days=1)
    report = run_audit(FakeArm(VAULT), reader, logs, Directory(), AuditRequest(URL, dt.timedelta(days=7)), now)
    assert [e.correlation_id for e in report.events] == ["0", "1", "2", "3"]
    assert {c[0] for c in logs.calls} == {"cust-logs", "cust-other"}
    assert report.events[0].caller_name == "alice@example.com"
    assert report.start == now - dt.timedelta(days=7) and report.capped_by_retention is None


def test_the_window_is_capped_at_the_workspace_retention():
    now = T0 + dt.timedelta(days=1)
    report = run_audit(
        FakeArm(VAULT), FakeReader([audit_setting()]), FakeLogs([]), None, AuditRequest(URL, dt.timedelta(days=90)), now
    )
    assert report.capped_by_retention == 30 and report.start == now - dt.timedelta(days=30)


def test_a_name_filter_never_lets_a_longer_name_through():
    rows = [row(id_s=f"{URL}/secrets/db2/v", CorrelationId="x"), row(CorrelationId="y")]
    report = run_audit(
        FakeArm(VAULT), FakeReader([audit_setting()]), FakeLogs(rows), None,
        AuditRequest(URL, dt.timedelta(days=7), secret="db"), T0 + dt.timedelta(hours=1),
    )  # fmt: skip
    assert [e.correlation_id for e in report.events] == ["y"]


# -- --unused --------------------------------------------------------------------------------------

READER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"  # Key Vault Secrets User


def assignment(principal: str, scope: str, kind: str = "User") -> RoleAssignment:
    return RoleAssignment(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{principal[:8]}",
        principal[:8],
        scope,
        READER_ROLE,
        principal,
        kind,
    )


def test_unused_marks_exactly_the_readers_that_never_read_with_their_revoke_commands():
    arm = FakeArm(
        VAULT,
        [
            assignment(ALICE, VAULT_ID),
            assignment(APP, f"{VAULT_ID}/secrets/db", "ServicePrincipal"),
            assignment(BOB, f"{SUB}/resourceGroups/rg"),
            assignment(GROUP, VAULT_ID, "Group"),
        ],
    )
    report = who_can(arm, URL, None, Directory(), Directory())  # type: ignore[arg-type]
    rows = [row(TimeGenerated=T0, identity_claim_oid_g=ALICE, CorrelationId="1")]
    reads = last_reads(arm, FakeReader([audit_setting()], retention=None), FakeLogs(rows), URL, None,  # type: ignore[arg-type]
                       dt.timedelta(days=90), T0 + dt.timedelta(days=1))  # fmt: skip
    marked = {(m.entry.principal_id, m.entry.via_group_id): m for m in mark_unused(report, reads)}
    assert marked[(ALICE, None)].unused is False and marked[(ALICE, None)].last_read == T0
    assert marked[(APP, None)].unused is True
    assert marked[(APP, None)].revoke == (
        f"kvctl access revoke --assignee {APP} --role 'Key Vault Secrets User' --secret db --vault kv"
    )
    assert marked[(BOB, None)].revoke is not None and marked[(BOB, None)].revoke.startswith(
        "az role assignment delete --ids "
    )
    assert marked[(GROUP, None)].unused is False  # Alice, a member, read
    via = marked[(BOB, GROUP)]
    assert (
        via.unused
        and via.revoke
        and via.revoke.startswith(f"az ad group member remove --group {GROUP} --member-id {BOB}")
    )
    assert "comes from group" in via.revoke
    data = marked[(APP, None)].as_json()
    assert data["lastRead"] is None and data["unusedSince"] == "2026-08-04T00:00:00Z" and data["unused"] is True


def test_an_access_policy_reader_is_revoked_with_delete_policy():
    vault = VaultResource(
        VAULT_ID, "kv", "w", URL, {"accessPolicies": [{"objectId": ALICE, "permissions": {"secrets": ["get"]}}]}
    )
    report = who_can(FakeArm(vault), URL, None, None, None)  # type: ignore[arg-type]
    assert revoke_command(vault, report.entries[0]) == f"az keyvault delete-policy --name kv --object-id {ALICE}"


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("https://v.vault.azure.net/secrets/db/versions", ("db", None)),
        ("https://v.vault.azure.net/secrets/db/backup", ("db", None)),
        ("https://v.vault.azure.net/deletedsecrets/db/recover", ("db", None)),
        ("https://v.vault.azure.net/secrets/db/" + "a1" * 16, ("db", "a1" * 16)),
        ("https://v.vault.azure.net/secrets/db", ("db", None)),
    ],
)
def test_an_operation_after_the_name_is_not_taken_for_a_version(identifier, expected):
    """Found by a new user: `audit --operation versions` showed the version `versions`."""
    assert secret_and_version(identifier) == expected
