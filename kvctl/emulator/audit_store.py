"""What the audit trail needs kept across restarts (`--state-dir`): AuditEvent rows, the Log
Analytics workspaces they can reach, and the vaults' diagnostic settings that route them there.

Rows are kept in the shape the query endpoint answers (a JSON object per row, `AzureDiagnostics`
columns); `audit_routes` says which workspaces (by customerId) received each row, decided when the
request was served, so a setting created later never back-fills older rows and a setting deleted
later never takes rows away, as in Azure. The store keeps the newest MAX_AUDIT_ROWS rows.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from .db import Database

MAX_AUDIT_ROWS = 200_000
_TRIM_EVERY = 1_000  # trim the oldest rows once per this many inserts, not on every insert

_AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, vault TEXT NOT NULL, row TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (time);
CREATE TABLE IF NOT EXISTS audit_routes (
    workspace TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (workspace, seq)
);
CREATE TABLE IF NOT EXISTS la_workspaces (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, resource_group TEXT NOT NULL, location TEXT NOT NULL,
    customer_id TEXT NOT NULL, tags TEXT NOT NULL, created TEXT NOT NULL, ordinal INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS diagnostic_settings (
    key TEXT PRIMARY KEY, vault_id TEXT NOT NULL, name TEXT NOT NULL, resource TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class WorkspaceRecord:
    name: str
    resource_group: str
    location: str
    customer_id: str
    tags: dict[str, str]
    created: str


class AuditRecords(Database):
    def __init__(self, path: Any) -> None:
        super().__init__(path)
        with self._lock:
            self._db.executescript(_AUDIT_SCHEMA)
        self._inserts = 0
        # Every data-plane request looks the vault's settings up: they are read once, then kept here.
        self._settings_lock = threading.Lock()
        self._settings_cache: dict[str, dict[str, Any]] | None = None

    # -- AuditEvent rows -----------------------------------------------------------------------

    def add_audit_event(self, time: float, vault: str, row: dict[str, Any], workspaces: list[str]) -> None:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO audit_events (time, vault, row) VALUES (?, ?, ?)", (time, vault.lower(), json.dumps(row))
            )
            seq = cur.lastrowid
            for workspace in workspaces:
                db.execute("INSERT OR IGNORE INTO audit_routes (workspace, seq) VALUES (?, ?)", (workspace, seq))
            self._inserts += 1
            if self._inserts % _TRIM_EVERY == 0 and seq is not None:
                oldest_kept = seq - MAX_AUDIT_ROWS
                db.execute("DELETE FROM audit_events WHERE seq <= ?", (oldest_kept,))
                db.execute("DELETE FROM audit_routes WHERE seq <= ?", (oldest_kept,))

    def audit_events(self, workspace: str, start: float | None, end: float | None) -> list[dict[str, Any]]:
        """The rows a workspace received in [start, end), oldest first."""
        sql = "SELECT e.row FROM audit_routes r JOIN audit_events e ON e.seq = r.seq WHERE r.workspace = ?"
        args: list[Any] = [workspace.lower()]
        if start is not None:
            sql += " AND e.time >= ?"
            args.append(start)
        if end is not None:
            sql += " AND e.time < ?"
            args.append(end)
        return [json.loads(r[0]) for r in self._all(sql + " ORDER BY e.seq", tuple(args))]

    def audit_event_count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM audit_events", ())[0])

    def all_audit_events(self) -> list[dict[str, Any]]:
        """Every recorded row, routed or not (for the control API)."""
        return [json.loads(r[0]) for r in self._all("SELECT row FROM audit_events ORDER BY seq", ())]

    # -- Log Analytics workspaces --------------------------------------------------------------

    @staticmethod
    def _workspace(row: Any) -> WorkspaceRecord:
        return WorkspaceRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])

    def get_workspace(self, resource_group: str, name: str) -> WorkspaceRecord | None:
        row = self._one(
            "SELECT name, resource_group, location, customer_id, tags, created FROM la_workspaces WHERE key = ?",
            (f"{resource_group}/{name}".lower(),),
        )
        return self._workspace(row) if row else None

    def workspace_by_customer_id(self, customer_id: str) -> WorkspaceRecord | None:
        row = self._one(
            "SELECT name, resource_group, location, customer_id, tags, created FROM la_workspaces"
            " WHERE lower(customer_id) = ?",
            (customer_id.lower(),),
        )
        return self._workspace(row) if row else None

    def list_workspaces(self) -> list[WorkspaceRecord]:
        rows = self._all(
            "SELECT name, resource_group, location, customer_id, tags, created FROM la_workspaces ORDER BY ordinal", ()
        )
        return [self._workspace(r) for r in rows]

    def put_workspace(self, ws: WorkspaceRecord) -> None:
        key = f"{ws.resource_group}/{ws.name}".lower()
        tags = json.dumps(ws.tags)
        with self.transaction() as db:
            ordinal = db.execute("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM la_workspaces").fetchone()[0]
            db.execute(
                "INSERT INTO la_workspaces (key, name, resource_group, location, customer_id, tags, created, ordinal)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET location = excluded.location,"
                " tags = excluded.tags",
                (key, ws.name, ws.resource_group, ws.location, ws.customer_id, tags, ws.created, ordinal),
            )

    def delete_workspace(self, resource_group: str, name: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM la_workspaces WHERE key = ?", (f"{resource_group}/{name}".lower(),))
            return cur.rowcount == 1

    # -- diagnostic settings on vaults ---------------------------------------------------------

    def _settings(self) -> dict[str, dict[str, Any]]:
        with self._settings_lock:
            if self._settings_cache is None:
                rows = self._all("SELECT key, resource FROM diagnostic_settings", ())
                self._settings_cache = {key: json.loads(resource) for key, resource in rows}
            return self._settings_cache

    def diagnostic_settings(self, vault_id: str) -> list[dict[str, Any]]:
        prefix = vault_id.lower() + "|"
        return [s for key, s in self._settings().items() if key.startswith(prefix)]

    def get_diagnostic_setting(self, vault_id: str, name: str) -> dict[str, Any] | None:
        return self._settings().get(f"{vault_id}|{name}".lower())

    def put_diagnostic_setting(self, vault_id: str, name: str, resource: dict[str, Any]) -> None:
        key = f"{vault_id}|{name}".lower()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO diagnostic_settings (key, vault_id, name, resource) VALUES (?, ?, ?, ?)",
                (key, vault_id, name, json.dumps(resource)),
            )
        with self._settings_lock:
            if self._settings_cache is not None:
                self._settings_cache[key] = resource

    def delete_diagnostic_setting(self, vault_id: str, name: str) -> bool:
        key = f"{vault_id}|{name}".lower()
        with self._lock:
            gone = self._db.execute("DELETE FROM diagnostic_settings WHERE key = ?", (key,)).rowcount == 1
        with self._settings_lock:
            if self._settings_cache is not None:
                self._settings_cache.pop(key, None)
        return gone
