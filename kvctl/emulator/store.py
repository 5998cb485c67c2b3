"""Secrets and their versions, live and deleted, as stored by the emulator; and `Store`, the
whole state (secrets plus ARM records) in one database."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from .arm_store import ArmRecords, IdentityRecord, RoleAssignmentRecord, VaultRecord
from .audit_store import AuditRecords
from .db import Database

__all__ = [
    "DeletedInfo",
    "IdentityRecord",
    "NameConflict",
    "RoleAssignmentRecord",
    "SecretVersion",
    "Store",
    "VaultRecord",
]


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


class NameConflict(Exception):
    """The name is taken by a deleted-but-recoverable secret (`deleted=True`) or a live one."""

    def __init__(self, deleted: bool) -> None:
        super().__init__("deleted" if deleted else "exists")
        self.deleted = deleted


_VERSION_COLUMNS = (
    "v.key, s.name, v.version, v.value, v.content_type, v.tags, v.enabled, v.nbf, v.exp, v.created, v.updated"
)


def _list_latest_sql(deleted: bool) -> str:
    # CROSS JOIN fixes the join order: secrets first, through the index that matches the state
    # and the ORDER BY, so a page reads `limit` rows from the last key on. Left to itself, SQLite
    # may start from versions and sort every secret after the key in a temporary B-tree, which
    # makes each page cost O(N) and a whole list O(N^2).
    state, index = (
        ("s.deleted_date IS NOT NULL", "secrets_gone") if deleted else ("s.deleted_date IS NULL", "secrets_live")
    )
    return (
        f"SELECT {_VERSION_COLUMNS}, s.deleted_date, s.scheduled_purge_date FROM secrets s INDEXED BY {index}"
        " CROSS JOIN versions v ON v.vault = s.vault AND v.key = s.key AND v.version = s.latest"
        f" WHERE s.vault = ? AND s.key > ? AND {state} ORDER BY s.key LIMIT ?"
    )


_LIST_LATEST = {False: _list_latest_sql(False), True: _list_latest_sql(True)}
# A secret's versions in the order they were made, from the page's last sequence number on.
_LIST_VERSIONS = (
    f"SELECT {_VERSION_COLUMNS}, v.seq FROM secrets s CROSS JOIN versions v INDEXED BY versions_seq"
    " ON v.vault = s.vault AND v.key = s.key"
    " WHERE s.vault = ? AND s.key = ? AND s.deleted_date IS NULL AND v.seq > ?"
    " ORDER BY v.seq LIMIT ?"
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


class SecretRecords(Database):
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
        rows = self._all(_LIST_LATEST[deleted], (vault, after, limit))
        return [(_version_from_row(r), DeletedInfo(r[11], r[12]) if r[11] is not None else None) for r in rows]

    def list_versions(self, vault: str, name: str, after_seq: int, limit: int) -> list[tuple[int, SecretVersion]]:
        rows = self._all(_LIST_VERSIONS, (vault, name.lower(), after_seq, limit))
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


class Store(SecretRecords, ArmRecords, AuditRecords):
    """The emulator's whole state."""
