"""Vaults, identities and role assignments as stored by the emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .db import Database

# Tables added after the first release of the emulator: created on open, so an older state
# directory gains them.
_ARM_SCHEMA = """
CREATE TABLE IF NOT EXISTS resource_groups (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, location TEXT NOT NULL, tags TEXT NOT NULL,
    ordinal INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vault_groups (key TEXT PRIMARY KEY, resource_group TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vault_subscriptions (key TEXT PRIMARY KEY, subscription_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deleted_vaults (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, location TEXT NOT NULL, tags TEXT NOT NULL,
    properties TEXT NOT NULL, created TEXT NOT NULL, resource_group TEXT NOT NULL,
    deletion_date TEXT NOT NULL, scheduled_purge_date TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class VaultRecord:
    name: str
    location: str
    tags: dict[str, str]
    properties: dict[str, Any]
    created: str
    updated: str


@dataclass(frozen=True)
class RoleAssignmentRecord:
    name: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str
    created_on: str
    created_by: str | None
    description: str | None


@dataclass(frozen=True)
class ResourceGroupRecord:
    name: str
    location: str
    tags: dict[str, str]


@dataclass(frozen=True)
class DeletedVaultRecord:
    vault: VaultRecord
    resource_group: str
    deletion_date: str
    scheduled_purge_date: str


@dataclass(frozen=True)
class IdentityRecord:
    name: str
    client_id: str
    object_id: str
    created: float


class ArmRecords(Database):
    def __init__(self, path: Any) -> None:
        super().__init__(path)
        # Rows read on every data-plane request (the vault, its group and subscription: four or
        # five reads each), kept until any write to them. Reads and writes hold the database's
        # lock, and this process is the database's only writer (the state directory is locked).
        self._rows: dict[tuple[str, str], Any] = {}
        with self._lock:
            self._db.executescript(_ARM_SCHEMA)

    def _kept_row(self, sql: str, key: str) -> Any:
        with self._lock:
            found = self._rows.get((sql, key), _UNREAD)
            if found is _UNREAD:
                found = self._rows[(sql, key)] = self._db.execute(sql, (key,)).fetchone()
            return found

    def _forget_rows(self) -> None:
        """Every write to the vaults, their groups or subscriptions (under the lock) calls this."""
        self._rows.clear()

    # -- resource groups -----------------------------------------------------------------------

    def get_group(self, name: str) -> ResourceGroupRecord | None:
        row = self._one("SELECT name, location, tags FROM resource_groups WHERE key = ?", (name.lower(),))
        return ResourceGroupRecord(row[0], row[1], json.loads(row[2])) if row else None

    def list_groups(self) -> list[ResourceGroupRecord]:
        rows = self._all("SELECT name, location, tags FROM resource_groups ORDER BY ordinal", ())
        return [ResourceGroupRecord(r[0], r[1], json.loads(r[2])) for r in rows]

    def put_group(self, group: ResourceGroupRecord) -> bool:
        """Create or update; True when it was created."""
        with self.transaction() as db:
            existed = db.execute("SELECT 1 FROM resource_groups WHERE key = ?", (group.name.lower(),)).fetchone()
            if existed:
                db.execute(
                    "UPDATE resource_groups SET tags = ? WHERE key = ?", (json.dumps(group.tags), group.name.lower())
                )
                return False
            ordinal = db.execute("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM resource_groups").fetchone()[0]
            db.execute(
                "INSERT INTO resource_groups (key, name, location, tags, ordinal) VALUES (?, ?, ?, ?, ?)",
                (group.name.lower(), group.name, group.location, json.dumps(group.tags), ordinal),
            )
            return True

    def delete_group(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM resource_groups WHERE key = ?", (name.lower(),)).rowcount == 1

    def vault_group(self, vault: str) -> str | None:
        row = self._kept_row("SELECT resource_group FROM vault_groups WHERE key = ?", vault.lower())
        return str(row[0]) if row else None

    def set_vault_group(self, vault: str, group: str) -> None:
        with self._lock:
            self._forget_rows()
            self._db.execute(
                "INSERT OR REPLACE INTO vault_groups (key, resource_group) VALUES (?, ?)", (vault.lower(), group)
            )

    def vault_subscription(self, vault: str) -> str | None:
        row = self._kept_row("SELECT subscription_id FROM vault_subscriptions WHERE key = ?", vault.lower())
        return str(row[0]) if row else None

    def set_vault_subscription(self, vault: str, subscription_id: str) -> None:
        with self._lock:
            self._forget_rows()
            self._db.execute(
                "INSERT OR REPLACE INTO vault_subscriptions (key, subscription_id) VALUES (?, ?)",
                (vault.lower(), subscription_id),
            )

    # -- deleted vaults ------------------------------------------------------------------------

    def soft_delete_vault(self, deleted: DeletedVaultRecord) -> None:
        """Move a vault to the deleted vaults; its secrets stay, for a recovery."""
        v = deleted.vault
        with self.transaction() as db:
            self._forget_rows()
            db.execute("DELETE FROM vaults WHERE key = ?", (v.name.lower(),))
            db.execute(
                "INSERT OR REPLACE INTO deleted_vaults (key, name, location, tags, properties, created,"
                " resource_group, deletion_date, scheduled_purge_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    v.name.lower(),
                    v.name,
                    v.location,
                    json.dumps(v.tags),
                    json.dumps(v.properties),
                    v.created,
                    deleted.resource_group,
                    deleted.deletion_date,
                    deleted.scheduled_purge_date,
                ),
            )

    def get_deleted_vault(self, name: str) -> DeletedVaultRecord | None:
        row = self._one(_SELECT_DELETED + " WHERE key = ?", (name.lower(),))
        return _deleted_from_row(row) if row else None

    def list_deleted_vaults(self) -> list[DeletedVaultRecord]:
        return [_deleted_from_row(r) for r in self._all(_SELECT_DELETED + " ORDER BY key", ())]

    def forget_deleted_vault(self, name: str) -> None:
        """A recovery: the deleted record goes (the vault is put back by the caller)."""
        with self._lock:
            self._db.execute("DELETE FROM deleted_vaults WHERE key = ?", (name.lower(),))

    def erase_vault(self, name: str) -> None:
        """Purge (or delete without soft delete): the vault, its deleted record and every secret."""
        key = name.lower()
        with self.transaction() as db:
            self._forget_rows()
            db.execute("DELETE FROM vaults WHERE key = ?", (key,))
            db.execute("DELETE FROM deleted_vaults WHERE key = ?", (key,))
            db.execute("DELETE FROM vault_groups WHERE key = ?", (key,))
            db.execute("DELETE FROM vault_subscriptions WHERE key = ?", (key,))
            db.execute("DELETE FROM secrets WHERE lower(vault) = ?", (key,))
            db.execute("DELETE FROM versions WHERE lower(vault) = ?", (key,))

    # -- vaults --------------------------------------------------------------------------------

    def get_vault(self, name: str) -> VaultRecord | None:
        row = self._kept_row(
            "SELECT name, location, tags, properties, created, updated FROM vaults WHERE key = ?", name.lower()
        )
        return _vault_from_row(row) if row else None  # a record of its own each time: callers may change it

    def list_vaults(self) -> list[VaultRecord]:
        rows = self._all("SELECT name, location, tags, properties, created, updated FROM vaults ORDER BY ordinal", ())
        return [_vault_from_row(r) for r in rows]

    def put_vault(self, vault: VaultRecord) -> None:
        with self._lock:
            self._forget_rows()
            ordinal = self._db.execute("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM vaults").fetchone()[0]
            self._db.execute(
                "INSERT INTO vaults (key, name, location, tags, properties, created, updated, ordinal)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " location = excluded.location, tags = excluded.tags, properties = excluded.properties,"
                " updated = excluded.updated",
                (
                    vault.name.lower(),
                    vault.name,
                    vault.location,
                    json.dumps(vault.tags),
                    json.dumps(vault.properties),
                    vault.created,
                    vault.updated,
                    ordinal,
                ),
            )

    # -- identities ----------------------------------------------------------------------------

    def get_identities(self) -> list[IdentityRecord]:
        rows = self._all("SELECT name, client_id, object_id, created FROM identities ORDER BY ordinal", ())
        return [IdentityRecord(*r) for r in rows]

    def add_identity(self, identity: IdentityRecord) -> None:
        with self._lock:
            ordinal = self._db.execute("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM identities").fetchone()[0]
            self._db.execute(
                "INSERT OR IGNORE INTO identities (name, client_id, object_id, created, ordinal)"
                " VALUES (?, ?, ?, ?, ?)",
                (identity.name, identity.client_id, identity.object_id, identity.created, ordinal),
            )

    # -- role assignments ----------------------------------------------------------------------

    def role_assignments(self) -> list[RoleAssignmentRecord]:
        rows = self._all(
            "SELECT name, scope, role_definition_id, principal_id, principal_type, created_on, created_by,"
            " description FROM role_assignments ORDER BY created_on, name",
            (),
        )
        return [RoleAssignmentRecord(*r) for r in rows]

    def add_role_assignment(self, ra: RoleAssignmentRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO role_assignments (name, scope, role_definition_id, principal_id, principal_type,"
                " created_on, created_by, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ra.name,
                    ra.scope,
                    ra.role_definition_id,
                    ra.principal_id,
                    ra.principal_type,
                    ra.created_on,
                    ra.created_by,
                    ra.description,
                ),
            )

    def delete_role_assignment(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM role_assignments WHERE name = ?", (name.lower(),)).rowcount == 1


_UNREAD = object()


def _vault_from_row(row: Any) -> VaultRecord:
    name, location, tags, properties, created, updated = row
    return VaultRecord(name, location, json.loads(tags), json.loads(properties), created, updated)


_SELECT_DELETED = (
    "SELECT name, location, tags, properties, created, resource_group, deletion_date, scheduled_purge_date"
    " FROM deleted_vaults"
)


def _deleted_from_row(row: Any) -> DeletedVaultRecord:
    name, location, tags, properties, created, group, deletion, purge = row
    vault = VaultRecord(name, location, json.loads(tags), json.loads(properties), created, deletion)
    return DeletedVaultRecord(vault, group, deletion, purge)
