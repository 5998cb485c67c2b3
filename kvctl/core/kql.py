"""The KQL kvctl sends to Log Analytics, built here and only here.

Every value a user (or ARM) supplies enters a query as a KQL string literal made by `literal`:
double-quoted, with `\\` and `"` escaped. Control characters are refused instead of escaped, so
no engine's reading of an escape sequence can differ from ours (no name, id or caller kvctl
accepts contains one). Nothing else from outside is ever pasted into a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TABLE = "AzureDiagnostics"
# The columns kvctl reads (AzureDiagnostics' names for Key Vault's AuditEvent fields).
COLUMNS = (
    "TimeGenerated",
    "OperationName",
    "ResultSignature",
    "ResultType",
    "httpStatusCode_d",
    "CallerIPAddress",
    "id_s",
    "requestUri_s",
    "identity_claim_oid_g",
    "identity_claim_appid_g",
    "identity_claim_upn_s",
    "CorrelationId",
)


# AzureDiagnostics gains a column only when some row in the workspace has filled it: a workspace whose
# callers were all managed identities has no identity_claim_upn_s, and naming a missing column fails
# the whole query. These are read through column_ifexists.
OPTIONAL_COLUMNS = ("identity_claim_oid_g", "identity_claim_appid_g", "identity_claim_upn_s")


def _optional_columns() -> str:
    return "| extend " + ", ".join(f"{c} = column_ifexists({literal(c)}, {literal('')})" for c in OPTIONAL_COLUMNS)


def literal(value: str) -> str:
    """`value` as a KQL string literal that means exactly `value`."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("a control character cannot be part of a query value")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class AuditQuery:
    """What to ask for: one vault's AuditEvent rows about its secrets, optionally narrowed."""

    vault_resource_id: str
    operation_names: Sequence[str] = ()  # AuditEvent OperationName values; empty: every secret operation
    secret: str | None = None  # only this secret (its deleted form too)
    version: str | None = None  # only this version of it
    caller_ids: Sequence[str] = ()  # object ids or app ids (lower-case GUIDs)
    caller_upns: Sequence[str] = ()  # user principal names (of users the directory no longer knows)
    successful_only: bool = False


def _where(query: AuditQuery) -> list[str]:
    lines = [
        f"| where Category == {literal('AuditEvent')}",
        f"| where ResourceId =~ {literal(query.vault_resource_id)}",
        _optional_columns(),
    ]
    if query.operation_names:
        lines.append(f"| where OperationName in ({', '.join(literal(o) for o in query.operation_names)})")
    else:
        lines.append(f"| where OperationName startswith {literal('Secret')}")
    if query.secret:
        # The log's id_s is https://VAULT/secrets/NAME[/VERSION] (deletedsecrets/NAME once deleted); the
        # vault is already fixed by ResourceId, so the path decides. KQL compares these case-insensitively,
        # as Key Vault treats names. `db` must not match `db2`: the name is matched up to a slash or the end.
        name = f"secrets/{query.secret}"
        if query.version:
            lines.append(f"| where id_s endswith {literal(name + '/' + query.version)}")
        else:
            lines.append(f"| where id_s endswith {literal(name)} or id_s contains {literal(name + '/')}")
    if query.caller_ids or query.caller_upns:
        tests = []
        for caller in query.caller_ids:
            tests.append(f"identity_claim_oid_g =~ {literal(caller)}")
            tests.append(f"identity_claim_appid_g =~ {literal(caller)}")
        tests += [f"identity_claim_upn_s =~ {literal(upn)}" for upn in query.caller_upns]
        lines.append(f"| where {' or '.join(tests)}")
    if query.successful_only:
        lines.append("| where httpStatusCode_d >= 200 and httpStatusCode_d < 300")
    return lines


def events_query(query: AuditQuery) -> str:
    """Every matching row, oldest first, with the columns kvctl shows."""
    return "\n".join([TABLE, *_where(query), "| order by TimeGenerated asc", f"| project {', '.join(COLUMNS)}"])


def last_reads_query(query: AuditQuery) -> str:
    """The latest matching row per caller and secret identifier: small however many reads there were."""
    return "\n".join(
        [
            TABLE,
            *_where(query),
            "| summarize lastRead = max(TimeGenerated) by identity_claim_oid_g, identity_claim_appid_g, id_s",
        ]
    )


def first_event_query(vault_resource_id: str) -> str:
    """When the vault's log in a workspace begins (within the time span asked for): a log that
    began inside a window cannot say who did not read in the part before it."""
    return "\n".join(
        [
            TABLE,
            f"| where Category == {literal('AuditEvent')}",
            f"| where ResourceId =~ {literal(vault_resource_id)}",
            "| summarize first = min(TimeGenerated)",
        ]
    )
