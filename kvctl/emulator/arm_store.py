"""Vaults, identities and role assignments as stored by the emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .db import Database


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
class IdentityRecord:
    name: str
    client_id: str
    object_id: str
    created: float


class ArmRecords(Database):
    # -- vaults --------------------------------------------------------------------------------

    def get_vault(self, name: str) -> VaultRecord | None:
        row = self._one(
            "SELECT name, location, tags, properties, created, updated FROM vaults WHERE key = ?",
            (name.lower(),),
        )
        return _vault_from_row(row) if row else None

    def list_vaults(self) -> list[VaultRecord]:
        rows = self._all("SELECT name, location, tags, properties, created, updated FROM vaults ORDER BY ordinal", ())
        return [_vault_from_row(r) for r in rows]

    def put_vault(self, vault: VaultRecord) -> None:
        with self._lock:
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


def _vault_from_row(row: Any) -> VaultRecord:
    name, location, tags, properties, created, updated = row
    return VaultRecord(name, location, json.loads(tags), json.loads(properties), created, updated)
