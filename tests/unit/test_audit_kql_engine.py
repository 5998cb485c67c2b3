"""kvctl's KQL literals and queries run through the emulator's KQL engine (a parser of its own,
written apart from kvctl's query builder): a value of any kind reads back as exactly itself, and a
hostile caller filter matches only rows with that very caller."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from kvctl.core import kql
from kvctl.emulator import kql as engine
from kvctl.emulator.audit_log import COLUMNS

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
VAULT = "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV"
TEXT = st.text(alphabet=st.characters(min_codepoint=32, exclude_characters="\x7f"), max_size=60)


@given(TEXT)
def test_a_literal_round_trips_through_the_emulators_engine(value):
    rows = [{"s": value}, {"s": value + "x"}, {"s": "x" + value}]
    table = engine.Table("T", [engine.Column("s", "string")], rows)
    result = engine.execute(f"T | where s == {kql.literal(value)}", {"T": table}, now=NOW)
    assert [r["s"] for r in result.rows] == [value]


def _row(oid: str, when: dt.datetime, upn: str | None = None) -> dict:
    row = dict.fromkeys(name for name, _ in COLUMNS)
    row.update(
        TimeGenerated=when,
        ResourceId=VAULT,
        Category="AuditEvent",
        OperationName="SecretGet",
        identity_claim_oid_g=oid,
        identity_claim_upn_s=upn,
        id_s="https://kv.vault.azure.net/secrets/db/v1",
        httpStatusCode_d=200.0,
    )
    return row


@given(TEXT.filter(str.strip))  # kvctl refuses an empty caller (an empty string equals Kusto's null)
def test_a_hostile_caller_matches_only_itself_in_the_engine(caller):
    rows = [_row("a", NOW, "alice@example.com"), _row(caller, NOW, caller), _row("b", NOW, caller + "x")]
    table = engine.Table("AzureDiagnostics", [engine.Column(n, t) for n, t in COLUMNS], rows)
    query = kql.events_query(kql.AuditQuery(VAULT.lower(), ["SecretGet"], "db", None, [caller], [caller]))
    result = engine.execute(query, {"AzureDiagnostics": table}, now=NOW)
    assert [r["identity_claim_oid_g"] for r in result.rows] == ([caller] if caller.lower() != "a" else ["a", caller])
