"""The columns of each kind of result, as tables and TSV show them (kvctl/output.py renders them).

Each column says how it may be laid out: identifiers are kept whole, free text wraps, times are
labelled with their zone, and `drop` orders what a narrow terminal leaves out first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOOKKEEPING_TAG_PREFIX = "kvctl-"  # kvctl's own tags (kvctl-rotation-id): in JSON and TSV, not in tables


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[dict[str, Any]], Any]
    style: Callable[[dict[str, Any]], str] | None = None  # e.g. "bold red", on terminals only
    # "id": kept whole (names, versions, GUIDs, paths); "text": may wrap at spaces; "list": may
    # wrap between comma-separated items;
    # "time": an ISO time, shown in tables as a date and minute labelled UTC (or local);
    # "instant": an event's time, to the second in tables and whole in TSV.
    kind: str = "id"
    drop: int = 0  # 0: always shown; higher numbers are left out first when the terminal is narrow
    table: Callable[[dict[str, Any]], Any] | None = None  # the table's cell, where it differs from TSV


_SEVERITY_STYLES = {"FAIL": "bold red", "WARN": "yellow", "INFO": "cyan"}


def short_time(value: Any) -> str:
    if not value:
        return ""
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return text[:16].replace("T", " ") if len(text) >= 16 else text


def table_time(value: Any, local: bool, *, seconds: bool = False) -> str:
    """A time for a table: to the minute, in UTC or the local zone (the header says which)."""
    if not value:
        return ""
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    when = when.astimezone() if local else when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def time_label(local: bool) -> str:
    if not local:
        return "UTC"
    return dt.datetime.now().astimezone().tzname() or "local"


def tags_text(tags: dict[str, str] | None, *, hide_bookkeeping: bool = False) -> str:
    shown = {k: v for k, v in (tags or {}).items() if not (hide_bookkeeping and k.startswith(BOOKKEEPING_TAG_PREFIX))}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


SECRET_COLUMNS = (
    Column("Name", lambda r: r["name"]),
    Column("Enabled", lambda r: r["attributes"]["enabled"], kind="flag", drop=2),
    Column("Expires", lambda r: r["attributes"]["expires"], kind="time"),
    Column("Updated", lambda r: r["attributes"]["updated"], kind="time", drop=5),
    Column("Content type", lambda r: r["contentType"], drop=4),
    Column(
        "Tags",
        lambda r: tags_text(r["tags"]),
        kind="list",
        drop=3,
        table=lambda r: tags_text(r["tags"], hide_bookkeeping=True),
    ),
)
VERSION_COLUMNS = (
    Column("Version", lambda r: r["id"].rsplit("/", 1)[-1]),
    Column("Enabled", lambda r: r["attributes"]["enabled"], kind="flag", drop=1),
    Column("Created", lambda r: r["attributes"]["created"], kind="time", drop=2),
    Column("Expires", lambda r: r["attributes"]["expires"], kind="time", drop=3),
    Column("Content type", lambda r: r["contentType"], drop=4),
)
ACCESS_COLUMNS = (
    Column("Principal", lambda r: r["principalId"]),
    Column("Name", lambda r: r.get("principalName") or ""),
    Column("Type", lambda r: r["principalType"], drop=2),
    Column(
        "Role / permissions",
        lambda r: r["role"] or "access policy: " + ", ".join(r["secretPermissions"]),
        kind="text",
    ),
    Column("Level", lambda r: r["level"] + (f" {r['secret']}" if r.get("secret") else "")),
)


def who_can_text(row: dict[str, Any]) -> str:
    """What an `access who` row allows: read (values), metadata (names and attributes only), write, manage."""
    if row["readValues"] is None:
        return "unknown role"
    can = [word for word, key in (("read", "readValues"), ("write", "write"), ("manage", "manage")) if row[key]]
    if row["readMetadata"] and not row["readValues"]:
        can.insert(0, "metadata")
    return ", ".join(can)


def who_from_text(row: dict[str, Any]) -> str:
    """Where an `access who` row's grant is made, and through which group."""
    where = "access policy" if row["level"] == "accessPolicy" else row["level"]
    if row["level"] == "secret" and row.get("scope"):
        where += " " + row["scope"].rstrip("/").rsplit("/", 1)[-1]
    if row.get("viaGroupId"):
        where += " via group " + (row.get("viaGroupName") or row["viaGroupId"])
    return where


WHO_COLUMNS = (
    Column("Principal", lambda r: r["principalId"]),
    Column("Can", who_can_text, kind="list"),
    Column(
        "Role / policy",
        lambda r: r["role"] or "policy: " + ", ".join(r["secretPermissions"] or []),
        kind="text",
    ),
    Column("From", who_from_text, kind="text"),
    Column("Name", lambda r: r.get("principalName") or "", kind="text", drop=1),
    Column("Type", lambda r: r["principalType"] or "", drop=2),
)


def caller_text(row: dict[str, Any]) -> str:
    """Who made an audited request: their name when known, else the UPN, app id or object id."""
    return str(
        row.get("callerName") or row.get("callerUpn") or row.get("callerAppId") or row.get("callerObjectId") or ""
    )


AUDIT_COLUMNS = (
    Column("Time", lambda r: r["time"], kind="instant"),
    Column("Caller", caller_text, kind="text"),
    Column("Operation", lambda r: r["operation"]),
    Column("Secret", lambda r: r["secret"] or ""),
    Column("Version", lambda r: r["version"] or "", drop=3),
    Column("Result", lambda r: " ".join(str(x) for x in (r["status"], r["result"]) if x is not None)),
    Column("Object id", lambda r: r["callerObjectId"] or "", drop=2),
    Column("App id", lambda r: r["callerAppId"] or "", drop=4),
    Column("Client address", lambda r: r["clientAddress"] or "", drop=1),
)
UNUSED_COLUMNS = (
    *WHO_COLUMNS[:2],
    Column("Last read", lambda r: r.get("lastRead"), kind="time"),
    Column("Unused", lambda r: {True: "UNUSED", False: "", None: ""}[r.get("unused")]),
    *WHO_COLUMNS[2:],
)
# `access who --all-vaults`: the vault first, then one principal per row as for one vault.
FLEET_WHO_COLUMNS = (Column("Vault", lambda r: r["vault"]), *WHO_COLUMNS)
# `audit --all-vaults`: each event with its vault first.
FLEET_AUDIT_COLUMNS = (Column("Vault", lambda r: r["vault"]), *AUDIT_COLUMNS)
FINDING_COLUMNS = (
    Column("Severity", lambda r: r["severity"], lambda r: _SEVERITY_STYLES.get(r["severity"], "")),
    Column("Id", lambda r: r["id"]),
    Column("Vault", lambda r: r["vault"]),
    Column("Finding", lambda r: r["message"], kind="text"),
    # In a table the remedies go below it, one per line, so that they can be pasted whole.
    Column("Fix", lambda r: r["remedy"], kind="text", table=lambda r: ""),
)
ROLE_COLUMNS = (
    Column("Role", lambda r: r["name"]),
    Column("Id", lambda r: r["id"]),
    Column("Allows with secrets", lambda r: ", ".join(r["allows"]) or "nothing with secrets", kind="list"),
)
DELETED_COLUMNS = (
    Column("Name", lambda r: r["name"]),
    Column("Deleted", lambda r: r.get("deletedDate"), kind="time", drop=2),
    Column("Purge date", lambda r: r.get("scheduledPurgeDate"), kind="time"),
    Column("Recovery level", lambda r: r["attributes"]["recoveryLevel"], drop=3),
)
