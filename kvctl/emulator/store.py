"""The emulator's state: secrets and their versions, deleted secrets, vaults, identities and
role assignments, in one SQLite database.

SQLite gives the two things the emulator needs from its state: a restart keeps everything
(`--state-dir`), and paging over tens of thousands of secrets is an index range scan rather
than a sort of everything in memory. One connection, serialised by a lock: the handlers are
short, and a single writer keeps every operation atomic.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
    vault TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,
    latest TEXT NOT NULL,
    deleted_date INTEGER, scheduled_purge_date INTEGER,
    PRIMARY KEY (vault, key)
);
CREATE INDEX IF NOT EXISTS secrets_deleted ON secrets (vault, deleted_date, key);
CREATE TABLE IF NOT EXISTS versions (
    vault TEXT NOT NULL, key TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER NOT NULL,
    value TEXT NOT NULL, content_type TEXT, tags TEXT, enabled INTEGER NOT NULL,
    nbf INTEGER, exp INTEGER, created INTEGER NOT NULL, updated INTEGER NOT NULL,
    PRIMARY KEY (vault, key, version)
);
CREATE INDEX IF NOT EXISTS versions_seq ON versions (vault, key, seq);
CREATE TABLE IF NOT EXISTS vaults (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, location TEXT NOT NULL, tags TEXT NOT NULL,
    properties TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL, ordinal INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    name TEXT PRIMARY KEY, client_id TEXT NOT NULL, object_id TEXT NOT NULL,
    created REAL NOT NULL, ordinal INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS role_assignments (
    name TEXT PRIMARY KEY, scope TEXT NOT NULL, role_definition_id TEXT NOT NULL,
    principal_id TEXT NOT NULL, principal_type TEXT NOT NULL, created_on TEXT NOT NULL,
    created_by TEXT, description TEXT
);
"""


@dataclass(frozen=True)
class SecretVersion:
    name: str
    version: str
    value: str
    content_type: str | None
    tags: dict[str, str] | None
    enabled: bool
    nbf: int | None
    exp: int | None
    created: int
    updated: int


@dataclass(frozen=True)
class DeletedInfo:
    deleted_date: int
    scheduled_purge_date: int


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


class NameConflict(Exception):
    """The name is taken by a deleted-but-recoverable secret (`deleted=True`) or a live one."""

    def __init__(self, deleted: bool) -> None:
        super().__init__("deleted" if deleted else "exists")
        self.deleted = deleted


_VERSION_COLUMNS = (
    "v.key, s.name, v.version, v.value, v.content_type, v.tags, v.enabled, v.nbf, v.exp, v.created, v.updated"
)


def _version_from_row(row: sqlite3.Row | tuple[Any, ...]) -> SecretVersion:
    _key, name, version, value, content_type, tags, enabled, nbf, exp, created, updated = row[:11]
    return SecretVersion(
        name=name,
        version=version,
        value=value,
        content_type=content_type,
        tags=json.loads(tags) if tags is not None else None,
        enabled=bool(enabled),
        nbf=nbf,
        exp=exp,
        created=created,
        updated=updated,
    )


class Store:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- meta ----------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- secrets -------------------------------------------------------------------------------

    def _live_row(self, db: sqlite3.Connection, vault: str, key: str) -> Any:
        return db.execute(
            "SELECT name, latest, deleted_date FROM secrets WHERE vault = ? AND key = ?", (vault, key)
        ).fetchone()

    def add_version(self, vault: str, version: SecretVersion) -> SecretVersion:
        """Add a version and make it the latest; creates the secret on first use."""
        key = version.name.lower()
        with self.transaction() as db:
            row = self._live_row(db, vault, key)
            if row is not None and row[2] is not None:
                raise NameConflict(deleted=True)
            name = row[0] if row else version.name
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM versions WHERE vault = ? AND key = ?", (vault, key)
            ).fetchone()[0]
            self._insert_version(db, vault, key, seq, version)
            db.execute(
                "INSERT INTO secrets (vault, key, name, latest) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (vault, key) DO UPDATE SET latest = excluded.latest",
                (vault, key, name, version.version),
            )
        return replace(version, name=name)

    @staticmethod
    def _insert_version(db: sqlite3.Connection, vault: str, key: str, seq: int, v: SecretVersion) -> None:
        db.execute(
            "INSERT INTO versions (vault, key, version, seq, value, content_type, tags, enabled, nbf, exp,"
            " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                vault,
                key,
                v.version,
                seq,
                v.value,
                v.content_type,
                json.dumps(v.tags) if v.tags is not None else None,
                int(v.enabled),
                v.nbf,
                v.exp,
                v.created,
                v.updated,
            ),
        )

    def get_version(self, vault: str, name: str, version: str | None, *, deleted: bool = False) -> SecretVersion | None:
        """The latest (version None) or a given version of a live (or, with `deleted`, deleted) secret."""
        state = "s.deleted_date IS NOT NULL" if deleted else "s.deleted_date IS NULL"
        target = "v.version = ?" if version else "v.version = s.latest"
        args: tuple[Any, ...] = (vault, name.lower()) + ((version.lower(),) if version else ())
        row = self._one(
            f"SELECT {_VERSION_COLUMNS} FROM secrets s JOIN versions v ON v.vault = s.vault AND v.key = s.key"
            f" WHERE s.vault = ? AND s.key = ? AND {state} AND {target}",
            args,
        )
        return _version_from_row(row) if row else None

    def update_version(self, vault: str, updated: SecretVersion) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE versions SET content_type = ?, tags = ?, enabled = ?, nbf = ?, exp = ?, updated = ?"
                " WHERE vault = ? AND key = ? AND version = ?",
                (
                    updated.content_type,
                    json.dumps(updated.tags) if updated.tags is not None else None,
                    int(updated.enabled),
                    updated.nbf,
                    updated.exp,
                    updated.updated,
                    vault,
                    updated.name.lower(),
                    updated.version,
                ),
            )

    def list_latest(
        self, vault: str, after: str, limit: int, *, deleted: bool = False
    ) -> list[tuple[SecretVersion, DeletedInfo | None]]:
        """Secrets in name order after the key `after`, each with its latest version."""
        state = "s.deleted_date IS NOT NULL" if deleted else "s.deleted_date IS NULL"
        rows = self._all(
            f"SELECT {_VERSION_COLUMNS}, s.deleted_date, s.scheduled_purge_date FROM secrets s"
            " JOIN versions v ON v.vault = s.vault AND v.key = s.key AND v.version = s.latest"
            f" WHERE s.vault = ? AND s.key > ? AND {state} ORDER BY s.key LIMIT ?",
            (vault, after, limit),
        )
        return [(_version_from_row(r), DeletedInfo(r[11], r[12]) if r[11] is not None else None) for r in rows]

    def list_versions(self, vault: str, name: str, after_seq: int, limit: int) -> list[tuple[int, SecretVersion]]:
        rows = self._all(
            f"SELECT {_VERSION_COLUMNS}, v.seq FROM secrets s JOIN versions v"
            " ON v.vault = s.vault AND v.key = s.key"
            " WHERE s.vault = ? AND s.key = ? AND s.deleted_date IS NULL AND v.seq > ?"
            " ORDER BY v.seq LIMIT ?",
            (vault, name.lower(), after_seq, limit),
        )
        return [(r[11], _version_from_row(r)) for r in rows]

    def all_versions(self, vault: str, name: str) -> list[SecretVersion]:
        rows = self._all(
            f"SELECT {_VERSION_COLUMNS} FROM secrets s JOIN versions v ON v.vault = s.vault AND v.key = s.key"
            " WHERE s.vault = ? AND s.key = ? AND s.deleted_date IS NULL ORDER BY v.seq",
            (vault, name.lower()),
        )
        return [_version_from_row(r) for r in rows]

    def soft_delete(self, vault: str, name: str, info: DeletedInfo) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE secrets SET deleted_date = ?, scheduled_purge_date = ?"
                " WHERE vault = ? AND key = ? AND deleted_date IS NULL",
                (info.deleted_date, info.scheduled_purge_date, vault, name.lower()),
            )
            return cur.rowcount == 1

    def deleted_info(self, vault: str, name: str) -> DeletedInfo | None:
        row = self._one(
            "SELECT deleted_date, scheduled_purge_date FROM secrets WHERE vault = ? AND key = ?"
            " AND deleted_date IS NOT NULL",
            (vault, name.lower()),
        )
        return DeletedInfo(row[0], row[1]) if row else None

    def recover(self, vault: str, name: str) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE secrets SET deleted_date = NULL, scheduled_purge_date = NULL"
                " WHERE vault = ? AND key = ? AND deleted_date IS NOT NULL",
                (vault, name.lower()),
            )
            return cur.rowcount == 1

    def erase(self, vault: str, name: str, *, only_deleted: bool) -> bool:
        """Remove a secret and all its versions for good (purge, or delete without soft delete)."""
        key = name.lower()
        state = " AND deleted_date IS NOT NULL" if only_deleted else ""
        with self.transaction() as db:
            cur = db.execute(f"DELETE FROM secrets WHERE vault = ? AND key = ?{state}", (vault, key))
            if cur.rowcount != 1:
                return False
            db.execute("DELETE FROM versions WHERE vault = ? AND key = ?", (vault, key))
        return True

    def purge_expired(self, vault: str, now: int) -> None:
        """The service purges a deleted secret on its scheduled purge date; so does the emulator."""
        with self.transaction() as db:
            keys = [
                r[0]
                for r in db.execute(
                    "SELECT key FROM secrets WHERE vault = ? AND scheduled_purge_date <= ?", (vault, now)
                )
            ]
            for key in keys:
                db.execute("DELETE FROM secrets WHERE vault = ? AND key = ?", (vault, key))
                db.execute("DELETE FROM versions WHERE vault = ? AND key = ?", (vault, key))

    def restore(self, vault: str, name: str, versions: list[SecretVersion]) -> SecretVersion:
        """Bring back every version of a backed-up secret; the name must be free."""
        key = name.lower()
        with self.transaction() as db:
            row = self._live_row(db, vault, key)
            if row is not None:
                raise NameConflict(deleted=row[2] is not None)
            for seq, version in enumerate(versions, start=1):
                self._insert_version(db, vault, key, seq, version)
            db.execute(
                "INSERT INTO secrets (vault, key, name, latest) VALUES (?, ?, ?, ?)",
                (vault, key, name, versions[-1].version),
            )
        return versions[-1]

    def counts(self, vault: str) -> dict[str, int]:
        row = self._one(
            "SELECT COUNT(*) FILTER (WHERE deleted_date IS NULL), COUNT(*) FILTER (WHERE deleted_date IS NOT NULL)"
            " FROM secrets WHERE vault = ?",
            (vault,),
        )
        return {"secrets": row[0], "deleted": row[1]}

    def dump_secrets(self, vault: str) -> list[dict[str, Any]]:
        """Every secret with every version and its value: for tests that verify state."""
        out: list[dict[str, Any]] = []
        for key, name, deleted in self._all(
            "SELECT key, name, deleted_date FROM secrets WHERE vault = ? ORDER BY key", (vault,)
        ):
            rows = self._all(
                f"SELECT {_VERSION_COLUMNS} FROM versions v JOIN secrets s ON s.vault = v.vault AND s.key = v.key"
                " WHERE v.vault = ? AND v.key = ? ORDER BY v.seq",
                (vault, key),
            )
            out.append(
                {
                    "name": name,
                    "deleted": deleted is not None,
                    "versions": [_version_dump(_version_from_row(r)) for r in rows],
                }
            )
        return out

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


def _version_dump(v: SecretVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "value": v.value,
        "contentType": v.content_type,
        "tags": v.tags,
        "enabled": v.enabled,
        "nbf": v.nbf,
        "exp": v.exp,
        "created": v.created,
        "updated": v.updated,
    }
