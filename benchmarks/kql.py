"""The emulator's KQL engine: how long the queries kvctl sends take over many audit rows and vaults.

    uv run --extra dev python benchmarks/kql.py [--rows 100000] [--runs 5]

Queries (the shapes `kvctl audit` and the fleet check send): the filtered, ordered event list; the
last read per caller and secret (summarize max by three keys); a Resource Graph vault listing over
`--rows / 20` vaults. Reports the median seconds per query and rows per second. The engine is
pure Python and runs every query over the whole table, so this bounds what the emulator's Log
Analytics and Resource Graph endpoints can answer interactively. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvctl.emulator.kql import Column, Table, execute

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
VAULT = "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V{}"
AUDIT_COLUMNS = [
    Column("TimeGenerated", "datetime"),
    Column("Category", "string"),
    Column("ResourceId", "string"),
    Column("OperationName", "string"),
    Column("id_s", "string"),
    Column("identity_claim_oid_g", "guid"),
    Column("identity_claim_appid_g", "guid"),
    Column("httpStatusCode_d", "real"),
    Column("CallerIPAddress", "string"),
]
OPS = ("SecretGet", "SecretSet", "SecretList", "SecretDelete", "VaultGet")
EVENTS = f"""AzureDiagnostics
| where Category == "AuditEvent"
| where ResourceId =~ "{VAULT.format(3).lower()}"
| where OperationName startswith "Secret"
| where id_s endswith "secrets/s13" or id_s contains "secrets/s13/"
| where TimeGenerated > ago(30d)
| order by TimeGenerated asc
| project TimeGenerated, OperationName, id_s, identity_claim_oid_g, httpStatusCode_d, CallerIPAddress"""
LAST_READS = f"""AzureDiagnostics
| where Category == "AuditEvent"
| where ResourceId =~ "{VAULT.format(3).lower()}"
| where OperationName in ("SecretGet")
| summarize lastRead = max(TimeGenerated) by identity_claim_oid_g, identity_claim_appid_g, id_s"""
VAULTS = (
    "resources | where type =~ 'microsoft.keyvault/vaults'"
    " | project id, name, type, location, subscriptionId, resourceGroup, tags, properties | order by id asc"
)


def audit_rows(count: int) -> list[dict]:
    return [
        {
            "TimeGenerated": NOW - dt.timedelta(minutes=i),
            "Category": "AuditEvent",
            "ResourceId": VAULT.format(i % 10),
            "OperationName": OPS[(i // 10) % len(OPS)],
            "id_s": f"https://v{i % 10}.vault.azure.net/secrets/s{i % 50}/{i:032x}",
            "identity_claim_oid_g": f"{i % 7:08d}-0000-0000-0000-000000000000",
            "identity_claim_appid_g": None,
            "httpStatusCode_d": 200.0 if i % 9 else 403.0,
            "CallerIPAddress": f"10.0.{i % 256}.{i % 200}",
        }
        for i in range(count)
    ]


def vault_rows(count: int) -> tuple[list[Column], list[dict]]:
    names = ["id", "name", "type", "location", "subscriptionId", "resourceGroup", "tags", "properties"]
    columns = [Column(n, "dynamic" if n in ("tags", "properties") else "string") for n in names]
    rows = [
        {
            "id": f"/subscriptions/s{i % 5}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v{i}",
            "name": f"v{i}",
            "type": "microsoft.keyvault/vaults",
            "location": "westeurope",
            "subscriptionId": f"s{i % 5}",
            "resourceGroup": "rg",
            "tags": {"env": "prod"},
            "properties": {"enableSoftDelete": True, "softDeleteRetentionInDays": 90},
        }
        for i in range(count)
    ]
    return columns, rows


def measure(query: str, tables: dict[str, Table], runs: int) -> tuple[float, int]:
    times = []
    rows = 0
    for _ in range(runs):
        start = time.perf_counter()
        rows = len(execute(query, tables, now=NOW).rows)
        times.append(time.perf_counter() - start)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    audit = {"AzureDiagnostics": Table("AzureDiagnostics", AUDIT_COLUMNS, audit_rows(args.rows))}
    columns, rows = vault_rows(max(args.rows // 20, 1))
    vaults = {"resources": Table("resources", columns, rows)}
    for label, query, tables, size in (
        ("audit events", EVENTS, audit, args.rows),
        ("audit last reads", LAST_READS, audit, args.rows),
        ("fleet vault listing", VAULTS, vaults, len(rows)),
    ):
        seconds, answered = measure(query, tables, args.runs)
        rate = size / seconds
        print(f"{label:20} {size:>8} rows in: {seconds * 1000:8.1f} ms median, {rate:>10,.0f} rows/s, {answered} out")


if __name__ == "__main__":
    main()
