"""The emulator's KQL engine on small realistic tables; every expected value is worked out by hand
from the rows below (not copied from the engine's output)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kvctl.emulator.kql import Column, KqlError, Table, execute, parse

NOW = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)
A = "aaaaaaaa-0000-0000-0000-000000000001"
B = "bbbbbbbb-0000-0000-0000-000000000002"
C = "cccccccc-0000-0000-0000-000000000003"
APP = "11111111-2222-3333-4444-555555555555"
V1 = "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V1"
V2 = "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V2"
DB = "https://v1.vault.azure.net/secrets/db-password/0123456789abcdef0123456789abcdef"
API = "https://v1.vault.azure.net/secrets/api-key"

AUDIT_COLUMNS = [
    Column("n", "long"),
    Column("TimeGenerated", "datetime"),
    Column("ResourceProvider", "string"),
    Column("Category", "string"),
    Column("ResourceId", "string"),
    Column("OperationName", "string"),
    Column("identity_claim_oid_g", "guid"),
    Column("identity_claim_appid_g", "guid"),
    Column("id_s", "string"),
    Column("ResultSignature", "string"),
    Column("CallerIPAddress", "string"),
    Column("httpStatusCode_d", "real"),
    Column("DurationMs", "long"),
    Column("ResultType", "string"),
    Column("requestUri_s", "string"),
    Column("identity_claim_upn_s", "string"),
    Column("CorrelationId", "string"),
]


def _event(n: int, ago: dt.timedelta, op: str, oid: str | None, id_s: str, status: float | None, **extra: Any) -> dict:
    row = {
        "n": n,
        "TimeGenerated": NOW - ago,
        "ResourceProvider": "MICROSOFT.KEYVAULT",
        "Category": "AuditEvent",
        "ResourceId": V1,
        "OperationName": op,
        "identity_claim_oid_g": oid,
        "identity_claim_appid_g": APP if oid == A else None,
        "id_s": id_s,
        "ResultSignature": "OK" if status == 200 else "Forbidden",
        "CallerIPAddress": f"10.0.0.{n}",
        "httpStatusCode_d": status,
        "DurationMs": n * 10,
        "ResultType": "Success" if status == 200 else None,  # a string column's null reads as ""
        "CorrelationId": f"corr-{n}",
    }
    row.update(extra)
    return row


H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
AUDIT_ROWS = [
    _event(1, H, "SecretGet", A, DB, 200),
    _event(2, 2 * D, "SecretSet", B, DB, 200),
    _event(3, 3 * D, "SecretGet", B, API, 200),
    _event(4, 8 * D, "SecretGet", A, API, 200),  # older than 7 days
    _event(5, D, "SecretGet", C, DB, 403),
    _event(6, 5 * H, "VaultGet", A, "https://v1.vault.azure.net/", 200, ResourceId=V2),
    _event(7, 30 * dt.timedelta(minutes=1), "SecretList", C, "https://v1.vault.azure.net/secrets", None),
    _event(8, 10 * D, "SecretDelete", B, API, 200, Category="AzurePolicyEvaluationDetails"),
]
VAULT_COLUMNS = [
    Column("id", "string"),
    Column("name", "string"),
    Column("type", "string"),
    Column("resourceGroup", "string"),
    Column("subscriptionId", "string"),
    Column("location", "string"),
    Column("tenantId", "string"),
    Column("properties", "dynamic"),
    Column("tags", "dynamic"),
    Column("sku", "dynamic"),
]


def _vault(sub: str, name: str, *, soft: bool | None, retention: int, public: str, tags: dict | None) -> dict:
    props: dict[str, Any] = {
        "softDeleteRetentionInDays": retention,
        "publicNetworkAccess": public,
        "networkAcls": {"defaultAction": "Allow" if public == "Enabled" else "Deny", "ipRules": []},
        "enableRbacAuthorization": name != "legacy",
    }
    if soft is not None:
        props["enableSoftDelete"] = soft
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{name}",
        "name": name,
        "type": "microsoft.keyvault/vaults",
        "resourceGroup": "rg",
        "subscriptionId": sub,
        "location": "westeurope",
        "tenantId": "t1",
        "properties": props,
        "tags": tags,
        "sku": {"family": "A", "name": "standard" if name != "prem" else "premium"},
    }


VAULT_ROWS = [
    _vault("s2", "zeta", soft=True, retention=90, public="Enabled", tags={"env": "prod"}),
    _vault("s1", "alpha", soft=True, retention=7, public="Disabled", tags={"env": "dev", "owner": "ann"}),
    _vault("s1", "legacy", soft=False, retention=90, public="Enabled", tags=None),
    _vault("s2", "prem", soft=None, retention=30, public="Enabled", tags={}),
    {
        "id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st",
        "name": "st",
        "type": "microsoft.storage/storageaccounts",
        "resourceGroup": "rg",
        "subscriptionId": "s1",
        "location": "westeurope",
        "tenantId": "t1",
        "properties": {},
        "tags": None,
        "sku": None,
    },
]
TABLES = {
    "AzureDiagnostics": Table("AzureDiagnostics", AUDIT_COLUMNS, AUDIT_ROWS),
    "Resources": Table("Resources", VAULT_COLUMNS, VAULT_ROWS),
    "resources": Table("resources", VAULT_COLUMNS, VAULT_ROWS),
}


def run(query: str) -> Table:
    return execute(query, TABLES, now=NOW)


def ns(query: str) -> list[int]:
    return [row["n"] for row in run(query).rows]


def error(query: str) -> KqlError:
    with pytest.raises(KqlError) as info:
        run(query)
    return info.value


# -- the queries kvctl sends -------------------------------------------------------------------


def test_kvctl_audit_query() -> None:
    result = run(
        f"""AzureDiagnostics
        | where ResourceProvider == "MICROSOFT.KEYVAULT" and Category == "AuditEvent"
        | where TimeGenerated > ago(7d)
        | where ResourceId =~ "{V1.lower()}"
        | where OperationName in ("SecretGet", "SecretSet")
        | project TimeGenerated, OperationName, id_s, identity_claim_oid_g, identity_claim_appid_g,
                  ResultSignature, CallerIPAddress, httpStatusCode_d
        | order by TimeGenerated asc
        | take 1000"""
    )
    assert [c.name for c in result.columns] == [
        "TimeGenerated",
        "OperationName",
        "id_s",
        "identity_claim_oid_g",
        "identity_claim_appid_g",
        "ResultSignature",
        "CallerIPAddress",
        "httpStatusCode_d",
    ]
    assert [c.type for c in result.columns] == [
        "datetime",
        "string",
        "string",
        "guid",
        "guid",
        "string",
        "string",
        "real",
    ]
    # rows 3 (3d ago), 2 (2d), 5 (1d), 1 (1h); 4 is older than 7d, 6 is another vault, 7/8 other operations
    assert [r["CallerIPAddress"] for r in result.rows] == ["10.0.0.3", "10.0.0.2", "10.0.0.5", "10.0.0.1"]
    assert result.rows[0]["TimeGenerated"] == NOW - 3 * D
    assert result.rows[3]["identity_claim_appid_g"] == APP
    assert result.rows[0]["identity_claim_appid_g"] is None
    assert result.name == "PrimaryResult"


def test_kvctl_audit_query_for_one_caller() -> None:
    assert ns(f'AzureDiagnostics | where identity_claim_oid_g == "{B}" | order by TimeGenerated desc | project n') == [
        2,
        3,
        8,
    ]
    # a guid compares with a string case-insensitively, as guids are
    assert ns(f'AzureDiagnostics | where identity_claim_oid_g == "{B.upper()}" | project n | order by n asc') == [
        2,
        3,
        8,
    ]


def test_kvctl_last_read_per_identity() -> None:
    result = run(
        """AzureDiagnostics | where OperationName == "SecretGet" and httpStatusCode_d == 200
        | summarize LastRead = max(TimeGenerated) by identity_claim_oid_g, identity_claim_appid_g"""
    )
    assert [(c.name, c.type) for c in result.columns] == [
        ("identity_claim_oid_g", "guid"),
        ("identity_claim_appid_g", "guid"),
        ("LastRead", "datetime"),
    ]
    got = {(r["identity_claim_oid_g"], r["identity_claim_appid_g"]): r["LastRead"] for r in result.rows}
    # A read 1h and 8d ago; B read 3d ago; C's read (row 5) failed with 403
    assert got == {(A, APP): NOW - H, (B, None): NOW - 3 * D}


# The queries `kvctl audit` builds (kvctl/core/kql.py): values enter as double-quoted literals.
KVCTL_COLUMNS = (
    "TimeGenerated, OperationName, ResultSignature, ResultType, httpStatusCode_d, CallerIPAddress, id_s,"
    " requestUri_s, identity_claim_oid_g, identity_claim_appid_g, identity_claim_upn_s, CorrelationId"
)
KVCTL_WHERE = f"""AzureDiagnostics
| where Category == "AuditEvent"
| where ResourceId =~ "{V1.lower()}"
"""


def test_kvctl_audit_events_query_for_a_secret_and_callers() -> None:
    query = (
        KVCTL_WHERE
        + """| where OperationName startswith "Secret"
| where id_s endswith "secrets/db-password" or id_s contains "secrets/db-password/"
"""
        + f'| where identity_claim_oid_g =~ "{B.upper()}" or identity_claim_appid_g =~ "{APP}"\n'
        + "| where httpStatusCode_d >= 200 and httpStatusCode_d < 300\n"
        + "| order by TimeGenerated asc\n"
        + f"| project {KVCTL_COLUMNS}"
    )
    result = run(query)
    assert [c.name for c in result.columns] == [c.strip() for c in KVCTL_COLUMNS.split(",")]
    # db-password rows: 1 (A, via its app id), 2 (B), 5 (C, 403); oldest first
    assert [r["CorrelationId"] for r in result.rows] == ["corr-2", "corr-1"]
    assert result.rows[1]["ResultType"] == "Success"
    assert result.rows[0]["identity_claim_upn_s"] == ""
    # `db` must not match `db-password`
    narrower = query.replace("secrets/db-password", "secrets/db")
    assert run(narrower).rows == []


def test_kvctl_audit_last_reads_query() -> None:
    result = run(
        KVCTL_WHERE
        + """| where OperationName in ("SecretGet")
| summarize lastRead = max(TimeGenerated) by identity_claim_oid_g, identity_claim_appid_g, id_s"""
    )
    assert [c.name for c in result.columns] == ["identity_claim_oid_g", "identity_claim_appid_g", "id_s", "lastRead"]
    got = {(r["identity_claim_oid_g"], r["identity_claim_appid_g"], r["id_s"]): r["lastRead"] for r in result.rows}
    assert got == {
        (A, APP, DB): NOW - H,
        (B, None, API): NOW - 3 * D,
        (A, APP, API): NOW - 8 * D,
        (C, None, DB): NOW - D,
    }


def test_resource_graph_vault_query() -> None:
    result = run(
        "Resources | where type =~ 'Microsoft.KeyVault/vaults' "
        "| project id, name, resourceGroup, subscriptionId, location, tenantId, properties, tags | order by id asc"
    )
    assert [r["name"] for r in result.rows] == ["alpha", "legacy", "prem", "zeta"]
    assert result.columns[6] == Column("properties", "dynamic")
    assert result.rows[0]["tags"] == {"env": "dev", "owner": "ann"}


def test_kvctl_fleet_query() -> None:
    result = run(
        "resources | where type =~ 'microsoft.keyvault/vaults'"
        " | project id, name, type, location, subscriptionId, resourceGroup, tags, properties | order by id asc"
    )
    assert [r["name"] for r in result.rows] == ["alpha", "legacy", "prem", "zeta"]
    assert [c.type for c in result.columns] == ["string"] * 6 + ["dynamic", "dynamic"]
    assert result.rows[2]["properties"]["softDeleteRetentionInDays"] == 30


def test_resource_graph_count_by_subscription() -> None:
    result = run('resources | where type == "microsoft.keyvault/vaults" | summarize count() by subscriptionId')
    assert [(c.name, c.type) for c in result.columns] == [("subscriptionId", "string"), ("count_", "long")]
    assert {r["subscriptionId"]: r["count_"] for r in result.rows} == {"s2": 2, "s1": 2}


def test_resource_graph_dynamic_properties() -> None:
    def names(query: str) -> list[str]:
        return sorted(r["name"] for r in run(query).rows)

    base = "Resources | where type == 'microsoft.keyvault/vaults' "
    assert names(base + "| where properties.enableSoftDelete == false") == ["legacy"]
    assert names(base + "| where isnull(properties.enableSoftDelete)") == ["prem"]
    assert names(base + "| where properties.softDeleteRetentionInDays < 30") == ["alpha"]
    assert names(base + "| where properties['publicNetworkAccess'] == 'Enabled'") == ["legacy", "prem", "zeta"]
    assert names(base + "| where properties.networkAcls.defaultAction =~ 'deny'") == ["alpha"]
    assert names(base + "| where tags.env == 'prod' or tags['owner'] == 'ann'") == ["alpha", "zeta"]
    assert names(base + "| where sku.name == 'premium'") == ["prem"]
    assert names(base + "| where tostring(properties.enableRbacAuthorization) == 'false'") == ["legacy"]
    assert names(base + "| where isempty(tostring(tags.env))") == ["legacy", "prem"]
    assert names(base + "| where array_length(properties.networkAcls.ipRules) == 0") == [
        "alpha",
        "legacy",
        "prem",
        "zeta",
    ]
    projected = run(base + "| project name, soft = properties.enableSoftDelete, properties.softDeleteRetentionInDays")
    assert [(c.name, c.type) for c in projected.columns] == [
        ("name", "string"),
        ("soft", "dynamic"),
        ("properties_softDeleteRetentionInDays", "dynamic"),
    ]
    assert projected.rows[0] == {"name": "zeta", "soft": True, "properties_softDeleteRetentionInDays": 90}


# -- where: each predicate with the rows (by n) it keeps, worked out from AUDIT_ROWS -------------

ALL = [1, 2, 3, 4, 5, 6, 7, 8]
WHERE_CASES = [
    ("n == 3", [3]),
    ("n != 3", [1, 2, 4, 5, 6, 7, 8]),
    ("n > 6", [7, 8]),
    ("n >= 6 and n < 8", [6, 7]),
    ("n <= 2 or n == 8", [1, 2, 8]),
    ("n == 1 or n == 2 and n == 3", [1]),  # and binds tighter than or
    ("(n == 1 or n == 2) and n == 2", [2]),
    ("n in (1, 2) or n > 7", [1, 2, 8]),
    ("not(n > 2)", [1, 2]),
    ("true", ALL),
    ("false", []),
    ('OperationName == "secretget"', []),  # == is case-sensitive
    ('OperationName =~ "secretget"', [1, 3, 4, 5]),
    ('OperationName !~ "secretget"', [2, 6, 7, 8]),
    ('OperationName != "SecretGet"', [2, 6, 7, 8]),
    ('OperationName == @"VaultGet"', [6]),
    ("['OperationName'] == 'VaultGet'", [6]),
    ('OperationName in ("SecretSet", "VaultGet")', [2, 6]),
    ('OperationName !in ("SecretSet", "VaultGet")', [1, 3, 4, 5, 7, 8]),
    ('OperationName in ("secretset")', []),
    ('OperationName in~ ("secretset")', [2]),
    ('OperationName !in~ ("SECRETGET", "secretset")', [6, 7, 8]),
    ("n in (dynamic([1, 2]), 3)", [1, 2, 3]),
    ("httpStatusCode_d in (403, 200)", [1, 2, 3, 4, 5, 6, 8]),  # row 7's null is in no list
    ("httpStatusCode_d !in (403)", [1, 2, 3, 4, 6, 7, 8]),  # ... and !in every list, like !=
    ('id_s has "api"', [3, 4, 8]),
    ('id_s has "API"', [3, 4, 8]),  # has is case-insensitive
    ('id_s has "ap"', []),  # not a whole term
    ('id_s has "db-password"', [1, 2, 5]),
    ('id_s has "password/0123"', []),  # 0123 is only the start of a term
    ('id_s !has "api"', [1, 2, 5, 6, 7]),
    ('id_s has_cs "API"', []),
    ('id_s has_any ("API", "nothing")', [3, 4, 8]),
    ('id_s hasprefix "pass"', [1, 2, 5]),  # the term "password" (of db-password) starts with it
    ('id_s hasprefix "assw"', []),  # inside a term, not at its start
    ('id_s hasprefix "PASSWORD"', [1, 2, 5]),
    ('id_s hassuffix "key"', [3, 4, 8]),
    ('id_s !hassuffix "key"', [1, 2, 5, 6, 7]),
    ('id_s has_any (dynamic(["db-password", "secrets"]))', [1, 2, 3, 4, 5, 7, 8]),
    ('id_s has_all ("secrets", "KEY")', [3, 4, 8]),
    ('id_s has_all ("secrets", "ke")', []),
    ('CallerIPAddress has "10.0.0.1"', [1]),
    ('id_s contains "PASS"', [1, 2, 5]),
    ('id_s contains_cs "PASS"', []),
    ('id_s !contains "secrets"', [6]),
    ('id_s startswith "HTTPS://V1"', ALL),
    ('id_s startswith_cs "HTTPS"', []),
    ('id_s !startswith "https://v1.vault.azure.net/secrets/"', [6, 7]),
    ('id_s endswith "/secrets"', [7]),
    ('id_s !endswith "/secrets"', [1, 2, 3, 4, 5, 6, 8]),
    ('id_s matches regex "[0-9a-f]{32}$"', [1, 2, 5]),
    ('id_s matches regex @"^https://[^/]+/secrets/.+/[0-9a-f]+$"', [1, 2, 5]),  # 3 unbounded repeats: fine
    ("httpStatusCode_d == 403", [5]),
    ("httpStatusCode_d != 200", [5, 7]),  # null != 200 is true in Kusto
    ("httpStatusCode_d < 300", [1, 2, 3, 4, 6, 8]),  # null < 300 is null: dropped
    ("not(httpStatusCode_d < 300)", [5]),  # not(null) is null
    ("httpStatusCode_d < 300 or isnull(httpStatusCode_d)", [1, 2, 3, 4, 6, 7, 8]),
    ("isnull(httpStatusCode_d)", [7]),
    ("isnotnull(identity_claim_appid_g)", [1, 4, 6]),
    ("isempty(identity_claim_appid_g)", [2, 3, 5, 7, 8]),
    ("TimeGenerated > ago(7d)", [1, 2, 3, 5, 6, 7]),
    ("TimeGenerated between (ago(3d) .. ago(1d))", [2, 3, 5]),  # inclusive
    ("TimeGenerated !between (ago(3d) .. ago(1d))", [1, 4, 6, 7, 8]),
    ("TimeGenerated between (datetime(2026-11-28T12:00:00Z) .. 2d)", [2, 3, 5]),  # up to 11-30T12:00, inclusive
    ("TimeGenerated >= datetime(2026-11-30)", [1, 5, 6, 7]),
    ("TimeGenerated < now() - 7d", [4, 8]),
    ("TimeGenerated < now(-7d)", [4, 8]),
    ("now() - TimeGenerated > 2d", [3, 4, 8]),
    ("TimeGenerated + 1d > now()", [1, 6, 7]),
    ("now() - TimeGenerated == 1h", [1]),
    ("now() - TimeGenerated <= 300m", [1, 6, 7]),
    ("TimeGenerated > datetime(2026-12-01 11:15:00)", [7]),
    ("TimeGenerated != datetime(null) and isnull(datetime(null))", ALL),  # null != value is true
    ("TimeGenerated == datetime(null)", []),
    ('n in (dynamic([-1, 2.5, {"a": 1}]), 8)', [8]),
    ("TimeGenerated >= datetime(2026-12-01T13:00:00+02:00)", [1, 7]),  # 11:00Z
    ("TimeGenerated > datetime(2026-12-01T13:00:00+02:00)", [7]),
    ("time(1.02:03:04) == 1d + 2h + 3m + 4s and 1.5h == 90m and 100ms * 10 == 1s", ALL),
    ("DurationMs between (20 .. 40)", [2, 3, 4]),
    ("DurationMs / 20 == 1", [2, 3]),  # integer division
    ("DurationMs / 20.0 == 1.5", [3]),
    ("DurationMs % 30 == 0", [3, 6]),
    ("DurationMs * 2 + 1 == 41", [2]),
    ("-DurationMs < -70", [8]),
    ("bin(DurationMs, 25) == 25", [3, 4]),
    ("strlen(OperationName) == 8", [6]),
    ('tolower(OperationName) == "secretset"', [2]),
    ('toupper(ResultSignature) == "FORBIDDEN"', [5, 7]),
    ('substring(OperationName, 0, 6) != "Secret"', [6]),
    ('substring(OperationName, 6) == "Get"', [1, 3, 4, 5]),
    ('strcat(OperationName, "/", ResultSignature) == "SecretGet/Forbidden"', [5]),
    ('iff(n > 4, "big", "small") == "big"', [5, 6, 7, 8]),
    ('case(n < 3, "a", n < 6, "b", "c") == "b"', [3, 4, 5]),
    (f'coalesce(identity_claim_appid_g, identity_claim_oid_g) == "{B}"', [2, 3, 8]),
    ('tolong("12") + n == 13', [1]),
    ("toreal(httpStatusCode_d) > 250", [5]),
    ('tostring(httpStatusCode_d) == "403"', [5]),
    ('tostring(TimeGenerated) == "2026-12-01T11:00:00Z"', [1]),
    ('split(id_s, "/")[4] == "db-password"', [1, 2, 5]),
    ("startofday(TimeGenerated) == datetime(2026-12-01)", [1, 6, 7]),
    ("startofmonth(TimeGenerated) == datetime(2026-11-01)", [2, 3, 4, 5, 8]),
    ('extract("secrets/([^/]+)", 1, id_s) == "api-key"', [3, 4, 8]),
    ('extract("secrets/([^/]+)/([0-9a-f]+)", 2, id_s) startswith "0123"', [1, 2, 5]),
    ('replace_string(OperationName, "Secret", "") == "Get"', [1, 3, 4, 5]),
    ('format_datetime(TimeGenerated, "yyyy-MM-dd HH:mm") == "2026-12-01 11:30"', [7]),
    ('format_datetime(TimeGenerated, "d/M/yy h tt") == "1/12/26 7 AM"', [6]),
    ("round(httpStatusCode_d / 7, 1) == 57.6", [5]),  # 403 / 7 = 57.57...
    ("abs(DurationMs - 45) < 10", [4, 5]),
    ("parse_json('{\"a\": [1, 2]}').a[1] == n", [2]),
    ("iff(n > 4, httpStatusCode_d, 0) == 403", [5]),
    ("-7 / 2 == -3 and -7 % 2 == -1 and 7.5 % -2 == 1.5 and 7 / 2.0 == 3.5", ALL),  # truncation, as in Kusto
    ("9223372036854775807 + n == -9223372036854775807 - 2 + n", ALL),  # long arithmetic wraps at 64 bits
    ('isnull(tolong("99999999999999999999")) and tolong(" 42 ") == 42 and isnull(toint("x"))', ALL),
    ('OperationName in~ (dynamic(["secretset", "VAULTGET"]))', [2, 6]),
    ('OperationName in (dynamic(["SecretSet", "VaultGet"]))', [2, 6]),
    ("TimeGenerated > ago(n * 1d)", [1, 5, 6, 7]),
    (
        "-(-9223372036854775807 - 1) == -9223372036854775807 - 1",
        ALL,
    ),  # negating the smallest long wraps  # ago() of a per-row span
    ("isnull(bin(httpStatusCode_d / 0, 1.0))", ALL),  # inf cannot be binned
    (f'OperationName in ("SecretGet") and identity_claim_oid_g == "{A}"', [1, 4]),
]


@pytest.mark.parametrize(("predicate", "expected"), WHERE_CASES, ids=[c[0] for c in WHERE_CASES])
def test_where(predicate: str, expected: list[int]) -> None:
    assert ns(f"AzureDiagnostics | where {predicate} | project n | order by n asc") == expected
    # filter is the same operator
    assert ns(f"AzureDiagnostics | filter {predicate} | order by n asc") == expected


# -- the other tabular operators ---------------------------------------------------------------


def test_project_renames_and_computed_columns() -> None:
    result = run("AzureDiagnostics | project n, Op = OperationName, Twice = DurationMs * 2, strlen(OperationName)")
    assert [(c.name, c.type) for c in result.columns] == [
        ("n", "long"),
        ("Op", "string"),
        ("Twice", "long"),
        ("Column1", "long"),
    ]
    assert result.rows[0] == {"n": 1, "Op": "SecretGet", "Twice": 20, "Column1": 9}
    assert len(result.rows) == 8


def test_extend_sees_earlier_columns_and_replaces_in_place() -> None:
    result = run("AzureDiagnostics | extend Ms = DurationMs * 2, Half = Ms / 4 | project n, Ms, Half | take 2")
    assert result.rows == [{"n": 1, "Ms": 20, "Half": 5}, {"n": 2, "Ms": 40, "Half": 10}]
    replaced = run("AzureDiagnostics | project n, OperationName | extend n = n * 100")
    assert [c.name for c in replaced.columns] == ["n", "OperationName"]
    assert replaced.rows[1] == {"n": 200, "OperationName": "SecretSet"}


def test_project_away_and_rename() -> None:
    result = run("AzureDiagnostics | project-away Resource*, identity_claim_*, id_s, DurationMs | take 1")
    assert [c.name for c in result.columns] == [
        "n",
        "TimeGenerated",
        "Category",
        "OperationName",
        "ResultSignature",
        "CallerIPAddress",
        "httpStatusCode_d",
        "ResultType",
        "requestUri_s",
        "CorrelationId",
    ]
    renamed = run("AzureDiagnostics | project n, OperationName | project-rename Op = OperationName | take 1")
    assert renamed.columns == [Column("n", "long"), Column("Op", "string")]
    assert renamed.rows == [{"n": 1, "Op": "SecretGet"}]


SORT_CASES = [
    ("sort by n", [8, 7, 6, 5, 4, 3, 2, 1]),  # desc by default
    ("order by n asc", ALL),
    ("order by httpStatusCode_d asc, n asc", [7, 1, 2, 3, 4, 6, 8, 5]),  # asc: nulls first
    ("order by httpStatusCode_d desc, n asc", [5, 1, 2, 3, 4, 6, 8, 7]),  # desc: nulls last
    ("order by httpStatusCode_d asc nulls last, n desc", [8, 6, 4, 3, 2, 1, 5, 7]),
    ("order by httpStatusCode_d nulls first, n asc", [7, 5, 1, 2, 3, 4, 6, 8]),
    ("order by OperationName asc, n desc", [8, 5, 4, 3, 1, 7, 2, 6]),
    ("order by identity_claim_appid_g asc, n asc", [2, 3, 5, 7, 8, 1, 4, 6]),
    ("order by TimeGenerated", [7, 1, 6, 5, 2, 3, 4, 8]),
    ("order by ResourceId desc, n asc", [6, 1, 2, 3, 4, 5, 7, 8]),
    ("top 3 by DurationMs", [8, 7, 6]),
    ("top 2 by TimeGenerated asc", [8, 4]),
    ("take 0", []),
    ("limit 2", [1, 2]),
    ("take 100", ALL),
    ("order by n asc | take 3", [1, 2, 3]),
]


@pytest.mark.parametrize(("ops", "expected"), SORT_CASES, ids=[c[0] for c in SORT_CASES])
def test_order_take_top(ops: str, expected: list[int]) -> None:
    assert ns(f"AzureDiagnostics | {ops}") == expected


def test_summarize_aggregates_without_keys() -> None:
    result = run(
        "AzureDiagnostics | summarize count(), countif(httpStatusCode_d == 200), dcount(identity_claim_oid_g),"
        " min(DurationMs), max(TimeGenerated), sum(DurationMs), avg(DurationMs), Calls = count()"
    )
    assert [(c.name, c.type) for c in result.columns] == [
        ("count_", "long"),
        ("countif_", "long"),
        ("dcount_identity_claim_oid_g", "long"),
        ("min_DurationMs", "long"),
        ("max_TimeGenerated", "datetime"),
        ("sum_DurationMs", "long"),
        ("avg_DurationMs", "real"),
        ("Calls", "long"),
    ]
    assert result.rows == [
        {
            "count_": 8,
            "countif_": 6,
            "dcount_identity_claim_oid_g": 3,
            "min_DurationMs": 10,
            "max_TimeGenerated": NOW - 30 * dt.timedelta(minutes=1),
            "sum_DurationMs": 360,
            "avg_DurationMs": 45.0,
            "Calls": 8,
        }
    ]


def test_summarize_by_keys() -> None:
    result = run(
        "AzureDiagnostics | summarize Calls = count() by OperationName | order by Calls desc, OperationName asc"
    )
    assert [(r["OperationName"], r["Calls"]) for r in result.rows] == [
        ("SecretGet", 4),
        ("SecretDelete", 1),
        ("SecretList", 1),
        ("SecretSet", 1),
        ("VaultGet", 1),
    ]
    sets = run("AzureDiagnostics | summarize make_set(OperationName), make_list(n) by identity_claim_oid_g")
    assert [c.name for c in sets.columns] == ["identity_claim_oid_g", "set_OperationName", "list_n"]
    got = {r["identity_claim_oid_g"]: (sorted(r["set_OperationName"]), r["list_n"]) for r in sets.rows}
    assert got == {
        A: (["SecretGet", "VaultGet"], [1, 4, 6]),
        B: (["SecretDelete", "SecretGet", "SecretSet"], [2, 3, 8]),
        C: (["SecretGet", "SecretList"], [5, 7]),
    }
    avg = run("AzureDiagnostics | summarize avg(httpStatusCode_d), any(CallerIPAddress) by Category")
    by_category = {r["Category"]: r for r in avg.rows}
    # AuditEvent rows 1-7: statuses 200 x5, 403, null (skipped) -> (1000 + 403) / 6
    assert by_category["AuditEvent"]["avg_httpStatusCode_d"] == pytest.approx(1403 / 6)
    assert by_category["AzurePolicyEvaluationDetails"]["any_CallerIPAddress"] == "10.0.0.8"


def test_summarize_timespans() -> None:
    result = run("AzureDiagnostics | summarize Total = sum(now() - TimeGenerated), Oldest = max(now() - TimeGenerated)")
    assert result.columns == [Column("Total", "timespan"), Column("Oldest", "timespan")]
    # ages: 1h, 2d, 3d, 8d, 1d, 5h, 30m, 10d
    assert result.rows == [{"Total": dt.timedelta(days=24, hours=6, minutes=30), "Oldest": 10 * D}]


def test_summarize_by_bin() -> None:
    result = run("AzureDiagnostics | summarize count() by bin(TimeGenerated, 1d)")
    assert result.columns == [Column("TimeGenerated", "datetime"), Column("count_", "long")]
    day = lambda d: dt.datetime(2026, 11, d, tzinfo=dt.UTC) if d > 1 else dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # noqa: E731
    assert {r["TimeGenerated"]: r["count_"] for r in result.rows} == {
        day(1): 3,
        day(29): 1,
        day(28): 1,
        day(23): 1,
        day(30): 1,
        day(21): 1,
    }


def test_arg_max_and_arg_min() -> None:
    result = run("AzureDiagnostics | summarize arg_max(TimeGenerated, OperationName, n) by identity_claim_oid_g")
    assert [c.name for c in result.columns] == ["identity_claim_oid_g", "TimeGenerated", "OperationName", "n"]
    got = {r["identity_claim_oid_g"]: (r["OperationName"], r["n"]) for r in result.rows}
    assert got == {A: ("SecretGet", 1), B: ("SecretSet", 2), C: ("SecretList", 7)}
    star = run("AzureDiagnostics | summarize arg_min(DurationMs, *) by OperationName | order by DurationMs asc")
    names = [c.name for c in star.columns]
    assert names[:2] == ["OperationName", "DurationMs"]
    assert sorted(names) == sorted(c.name for c in AUDIT_COLUMNS)
    assert [(r["OperationName"], r["n"]) for r in star.rows][:2] == [("SecretGet", 1), ("SecretSet", 2)]


def test_string_aggregates_of_no_value_are_empty_strings() -> None:
    # identity_claim_upn_s is empty in every row: max() has no value, and a string is never null
    result = run("AzureDiagnostics | summarize max(identity_claim_upn_s), any(identity_claim_upn_s) by Category")
    assert {r["max_identity_claim_upn_s"] for r in result.rows} == {""}
    assert {r["any_identity_claim_upn_s"] for r in result.rows} == {""}


def test_summarize_of_no_rows() -> None:
    empty = run("AzureDiagnostics | where n > 100 | summarize count(), max(n), make_set(n)")
    assert empty.rows == [{"count_": 0, "max_n": None, "set_n": []}]
    assert run("AzureDiagnostics | where n > 100 | summarize count() by OperationName").rows == []


def test_distinct_and_count() -> None:
    assert [r["identity_claim_oid_g"] for r in run("AzureDiagnostics | distinct identity_claim_oid_g").rows] == [
        A,
        B,
        C,
    ]
    pairs = run("AzureDiagnostics | distinct OperationName, ResultSignature").rows
    assert len(pairs) == 6
    assert {"OperationName": "SecretGet", "ResultSignature": "Forbidden"} in pairs
    assert len(run("AzureDiagnostics | distinct *").rows) == 8
    assert run("AzureDiagnostics | where OperationName == 'SecretGet' | count").rows == [{"Count": 4}]
    assert run("AzureDiagnostics | count").columns == [Column("Count", "long")]


def test_let_comments_and_layout() -> None:
    query = """
    // the reads of the last two days
    let since = ago(2d);
    let ops = dynamic(["SecretGet"]);
    AzureDiagnostics
    | where TimeGenerated >= since   // inclusive
      and OperationName in (ops)
    | project n
    | order by n asc;
    """
    assert ns(query) == [1, 5]


def test_bracketed_table_name_and_constant_lets() -> None:
    assert run("['AzureDiagnostics'] | count").rows == [{"Count": 8}]
    assert ns(
        "let top = 2; let since = now() - 5h; AzureDiagnostics | where TimeGenerated >= since | top top by n"
    ) == [
        7,
        6,
    ]
    exc = error("let x = n; AzureDiagnostics | count")  # a let binds a constant, not a column
    assert (exc.kind, exc.token) == ("SemanticError", "n")


def test_result_values_keep_their_types() -> None:
    row = run(
        "AzureDiagnostics | where n == 5 | project T = TimeGenerated, Age = now() - TimeGenerated,"
        " S = httpStatusCode_d, Ok = httpStatusCode_d == 200, Parts = split('a,b', ','), Text = tostring(1d + 2h)"
    )
    assert [c.type for c in row.columns] == ["datetime", "timespan", "real", "bool", "dynamic", "string"]
    assert row.rows == [{"T": NOW - D, "Age": D, "S": 403.0, "Ok": False, "Parts": ["a", "b"], "Text": "1.02:00:00"}]


def test_parse_returns_the_tree() -> None:
    from kvctl.emulator import kql_ast as ast

    tree = parse("T | where a == 1 | summarize count() by b | order by count_ desc | take 5")
    assert tree.table == "T"
    assert [type(op) for op in tree.operators] == [ast.Where, ast.Summarize, ast.Sort, ast.Take]
    where = tree.operators[0]
    assert isinstance(where, ast.Where)
    assert where.predicate == ast.Binary(12, "==", ast.Name(10, "a"), ast.Literal(15, 1, "long"))


# -- refusals: kind, the token named, and where ------------------------------------------------

ERROR_CASES = [
    ("AzureDiagnostics | join (Resources) on id", "SemanticError", "join"),
    ("AzureDiagnostics | union Resources", "SemanticError", "union"),
    ("AzureDiagnostics | mv-expand x", "SemanticError", "mv-expand"),
    ('AzureDiagnostics | parse id_s with * "/" x', "SemanticError", "parse"),
    ("AzureDiagnostics | render timechart", "SemanticError", "render"),
    ("AzureDiagnostics | where foo(n) == 1", "SemanticError", "foo"),
    ("AzureDiagnostics | where Nope == 1", "SemanticError", "Nope"),
    ('AzureDiagnostics | where operationname == "x"', "SemanticError", "operationname"),
    ("Missing | take 1", "SemanticError", "Missing"),
    ("azurediagnostics | take 1", "SemanticError", "azurediagnostics"),
    ("AzureDiagnostics | where OperationName > 3", "SemanticError", ">"),
    ('AzureDiagnostics | where n == "1"', "SemanticError", "=="),
    ('AzureDiagnostics | extend x = OperationName + "a"', "SemanticError", "+"),
    ('AzureDiagnostics | where TimeGenerated > ago("7d")', "SemanticError", "ago"),
    ("AzureDiagnostics | where TimeGenerated > 3", "SemanticError", ">"),
    ('AzureDiagnostics | where id_s like "a"', "SemanticError", "like"),
    ("AzureDiagnostics | where count() > 1", "SemanticError", "count"),
    ("AzureDiagnostics | summarize strlen(id_s)", "SemanticError", "strlen"),
    ("AzureDiagnostics | project n, n", "SemanticError", "n"),
    ('AzureDiagnostics | where substring(id_s) == ""', "SemanticError", "substring"),
    ("AzureDiagnostics | project-away nothere", "SemanticError", "nothere"),
    ("Resources | summarize count() by properties", "SemanticError", "properties"),
    ("AzureDiagnostics | where n == 1 | frobnicate", "SyntaxError", "frobnicate"),
    ("AzureDiagnostics | take 1 extra", "SyntaxError", "extra"),
    ("AzureDiagnostics | where n == 1x", "SyntaxError", "1x"),
    ("AzureDiagnostics | where n ==", "SyntaxError", None),
    ("AzureDiagnostics | where (n == 1", "SyntaxError", None),
    ("AzureDiagnostics || take 1", "SyntaxError", "|"),
    ("AzureDiagnostics | where TimeGenerated > datetime(2026-13-01)", "SyntaxError", "datetime(2026-13-01)"),
]


@pytest.mark.parametrize(("query", "kind", "token"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_refusals_name_the_token_and_position(query: str, kind: str, token: str | None) -> None:
    exc = error(query)
    assert exc.kind == kind
    if token is None:
        assert exc.position == len(query)  # the end of the query
        assert "end of query" in exc.message
        return
    assert exc.token == token
    # the position points at that token in the query (the last occurrence for repeated names)
    assert query[exc.position : exc.position + len(token)] == token
    assert f"'{token}'" in exc.message or token in exc.message
    assert f"position {exc.position}" in exc.message


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("AzureDiagnostics | where n", "SemanticError"),  # not a bool
        ('AzureDiagnostics | take "5"', "SemanticError"),
        ("Resources | order by properties", "SemanticError"),
        ('AzureDiagnostics | where id_s matches regex "("', "SemanticError"),
        ("AzureDiagnostics | where id_s matches regex id_s", "SemanticError"),
        ("AzureDiagnostics | where n == 'abc", "SyntaxError"),
        ("AzureDiagnostics | project", "SyntaxError"),
        ("", "SyntaxError"),
        ("AzureDiagnostics | where id_s has 'a' | where 1 + true", "SemanticError"),
        ("AzureDiagnostics | where id_s !has_any ('a')", "SemanticError"),
        ("AzureDiagnostics | extend x = iff(n > 1, 'a', 2)", "SemanticError"),
        ("AzureDiagnostics | top 3 by", "SyntaxError"),
        ("AzureDiagnostics | where n in ('a')", "SemanticError"),
        ("AzureDiagnostics | summarize arg_max(n)", "SemanticError"),
        ("AzureDiagnostics | where 99999999999999999999 > n", "SyntaxError"),
        ("AzureDiagnostics | summarize n = count() by n", "SemanticError"),
        ("AzureDiagnostics | mvexpand x", "SemanticError"),
    ],
)
def test_more_refusals(query: str, kind: str) -> None:
    assert error(query).kind == kind


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "((a*))*b", "(a|aa)+", "(?:x+)*", r"(a)\1", "(?=a)", "(?<!b)a", "a*a*a*a*b", "x{2,}.+.*y+z*"],
)
def test_regexes_that_re2_would_refuse_or_that_backtrack_badly_are_refused(pattern: str) -> None:
    exc = error(f"AzureDiagnostics | where id_s matches regex @'{pattern}'")
    assert exc.kind == "SemanticError"
    assert exc.token == pattern
    exc = error(f"AzureDiagnostics | extend x = extract(@'{pattern}', 0, id_s)")
    assert exc.kind == "SemanticError"


@pytest.mark.parametrize(
    "pattern",
    [
        ".{0,99}.{0,99}.{0,99}.{0,99}.{0,99}.{0,99}X",  # bounded, but ~100^6 splits per position
        "a{1,50}b{2,}c*d+",
        "a?" * 30 + "a" * 30,  # 2^30 ways to skip
        ".{0,10}" * 5 + "X",
        "(a?){30}" + "a" * 30,
        "[]*]+a*b*c*",  # the class holds `]*`; four repetitions follow
    ],
)
def test_bounded_repetitions_that_backtrack_badly_are_refused_before_any_row_is_read(pattern: str) -> None:
    from kvctl.emulator.kql_eval import backtracking_risk

    # the guard is static: it refuses without running the pattern (a wrong guard cannot hang here)
    assert backtracking_risk(pattern) is not None
    empty = {"T": Table("T", [Column("s", "string")], [])}
    with pytest.raises(KqlError) as info:
        execute(f"T | where s matches regex @'{pattern}'", empty, now=NOW)
    assert info.value.kind == "SemanticError"
    assert info.value.token == pattern


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        (r"\d{4}-\d{2}-\d{2}", "on 2026-12-01 at", True),
        ("[^/]+/[^/]+", "a/b", True),
        (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "ip 10.0.0.1", True),
        (r"^\d{2}:\d{2}(\.\d+)?$", "12:30.5", True),
        ("https?://[^/]+/", "http://v1/", True),
        ("(?i)^abc{2}$", "ABCC", True),
        ("[0-9a-f]{32}$", "x" * 32, False),
    ],
)
def test_sensible_patterns_with_repetitions_still_work(pattern: str, text: str, found: bool) -> None:
    table = {"T": Table("T", [Column("s", "string")], [{"s": text}])}
    assert len(execute(f"T | where s matches regex @'{pattern}'", table, now=NOW).rows) == int(found)


def doubling(times: int, seed: str = "x" * 36) -> str:
    """`let a1 = strcat(a0, a0); ...`: a short query whose last let is 2^times times the seed."""
    lets = " ".join(f"let a{i + 1} = strcat(a{i}, a{i});" for i in range(times))
    return f'let a0 = "{seed}"; {lets} '


def test_a_string_longer_than_a_million_characters_is_refused_before_it_is_built() -> None:
    query = doubling(24) + "AzureDiagnostics | take 1 | project n = strlen(a24)"
    assert len(query) < 1000
    exc = error(query)
    assert exc.kind == "SemanticError"
    assert "strcat" in exc.message and "exceeds 1,000,000 characters" in exc.message
    # just under the limit is fine: 36 * 2^14 = 589,824 characters
    assert run(doubling(14) + "AzureDiagnostics | take 1 | project n = strlen(a14)").rows == [{"n": 36 * 2**14}]


@pytest.mark.parametrize(
    "tail",
    [
        'AzureDiagnostics | take 1 | project n = strlen(replace_string(a14, "x", "xx"))',
        "AzureDiagnostics | take 1 | project n = strlen(strcat(a14, a14))",
        # a dynamic holding the long string twice
        'AzureDiagnostics | take 1 | project n = strlen(tostring(split(strcat(a14, ",", a14), ",")))',
    ],
)
def test_every_function_that_builds_a_string_refuses_one_over_the_limit(tail: str) -> None:
    exc = error(doubling(14) + tail)
    assert exc.kind == "SemanticError"
    assert "exceeds 1,000,000 characters" in exc.message


def test_rows_sharing_one_long_value_cannot_make_an_enormous_answer() -> None:
    rows = [{"n": i} for i in range(2000)]
    tables = {"T": Table("T", [Column("n", "long")], rows)}
    for tail in ("T | project a14", "T | summarize make_list(a14)", "T | summarize make_set(strcat(a14, n))"):
        with pytest.raises(KqlError) as info:
            execute(doubling(14) + tail, tables, now=NOW)
        assert info.value.kind == "SemanticError"
        assert "exceeds 64,000,000 characters" in info.value.message
    # a modest answer is untouched
    assert len(execute(doubling(4) + "T | project a4", tables, now=NOW).rows) == 2000


def test_json_cells_for_the_endpoints() -> None:
    from kvctl.emulator.kql import json_cell

    result = run(
        "AzureDiagnostics | where n == 5 | project TimeGenerated, Age = now() - TimeGenerated, n, p = dynamic({'a': 1})"
    )
    cells = [json_cell(result.rows[0][c.name], c.type) for c in result.columns]
    assert cells == ["2026-11-30T12:00:00Z", "1.00:00:00", 5, {"a": 1}]
    assert json_cell(None, "datetime") is None
    assert json_cell(dt.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=dt.UTC), "datetime") == "2026-01-02T03:04:05.0006000Z"


def test_limits_are_syntax_errors_not_crashes() -> None:
    deep = "AzureDiagnostics | where " + "(" * 150 + "true" + ")" * 150
    assert error(deep).kind == "SyntaxError"
    calls = "AzureDiagnostics | where " + "not(" * 150 + "true" + ")" * 150
    assert error(calls).kind == "SyntaxError"
    negations = "AzureDiagnostics | where n == " + "-" * 5000 + "1"
    assert error(negations).kind == "SyntaxError"
    sums = "AzureDiagnostics | where n == " + " + ".join(["1"] * 1000)
    assert error(sums).kind == "SyntaxError"
    deep_json = "[" * 5000 + "]" * 5000
    assert run(f"AzureDiagnostics | take 1 | project p = parse_json('{deep_json}')").rows == [{"p": None}]
    nested_dynamic = "AzureDiagnostics | where n in (dynamic(" + "[" * 500 + "]" * 500 + "))"
    assert error(nested_dynamic).kind == "SyntaxError"
    too_long = "AzureDiagnostics | where n == 1 " + " " * 100_000
    exc = error(too_long)
    assert exc.kind == "SyntaxError"
    assert "100000" in exc.message.replace(",", "")


def test_a_dynamic_value_nested_deeper_than_python_recurses_is_a_kqlerror() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    tables = {"T": Table("T", [Column("p", "dynamic")], [{"p": deep}, {"p": deep}])}
    with pytest.raises(KqlError) as info:
        execute("T | distinct p", tables, now=NOW)
    assert info.value.kind == "SemanticError"


def test_long_or_chains_are_fine() -> None:
    # a query that lists many values with `or` is realistic: it is flattened, not refused
    chain = " or ".join(f"n == {i}" for i in range(1000))
    assert ns(f"AzureDiagnostics | where {chain} | order by n asc") == ALL
    listed = ", ".join(str(i) for i in range(5000))
    assert ns(f"AzureDiagnostics | where n in ({listed}) | order by n asc") == ALL


def test_column_ifexists_reads_a_column_or_its_default() -> None:
    present = run('AzureDiagnostics | take 1 | project v = column_ifexists("OperationName", "none")')
    assert present.rows[0]["v"] != "none"
    assert run('AzureDiagnostics | take 1 | project v = column_ifexists("no_such_s", "none")').rows == [{"v": "none"}]
    assert "2 arguments" in error('AzureDiagnostics | project column_ifexists("x")').message
    assert "string literal" in error("AzureDiagnostics | project column_ifexists(OperationName, 1)").message
