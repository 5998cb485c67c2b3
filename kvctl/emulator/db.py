"""The SQLite database behind the emulator's state: one connection, serialised by a lock.

SQLite gives the two things the emulator needs from its state: a restart keeps everything
(`--state-dir`), and paging over tens of thousands of secrets is an index range scan rather
than a sort of everything in memory. The handlers are short, and a single writer keeps every
operation atomic.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
-- Listing pages walk one of these in key order from the page's last key (a keyset, never an
-- OFFSET or a sort): live and deleted secrets each have their own, so neither list steps over
-- the other's rows. (secrets_deleted, an index of earlier states, let the planner sort instead.)
DROP INDEX IF EXISTS secrets_deleted;
CREATE INDEX IF NOT EXISTS secrets_live ON secrets (vault, key) WHERE deleted_date IS NULL;
CREATE INDEX IF NOT EXISTS secrets_gone ON secrets (vault, key) WHERE deleted_date IS NOT NULL;
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


class Database:
    def __init__(self, path: Path | str) -> None:
        # The state holds every secret value and the token signing key: owner only. SQLite gives
        # its -wal and -shm files the database file's mode.
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        for name in (str(path), f"{path}-wal", f"{path}-shm"):
            if os.path.exists(name):
                os.chmod(name, 0o600)
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

    def meta_or_set(self, key: str, make: Callable[[], str]) -> str:
        """The stored value, or `make()` stored atomically: the first writer wins, for every thread."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, make()))
            return str(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
