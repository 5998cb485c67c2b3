"""The emulator's lists are linear: each page is an index range scan from the last key of the page
before (a keyset), never a sort of everything after it or an OFFSET. Checked through SQLite's own
query plans, and by paging a store with live, deleted and multi-version secrets."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from kvctl.emulator.db import Database
from kvctl.emulator.store import _LIST_LATEST, _LIST_VERSIONS, DeletedInfo, SecretVersion, Store


def _version(name: str) -> SecretVersion:
    return SecretVersion(name, uuid.uuid4().hex, f"value of {name}", None, None, True, None, None, 1, 1)


def _plan(store: Store, sql: str, args: tuple[object, ...]) -> list[str]:
    return [row[3] for row in store._all("EXPLAIN QUERY PLAN " + sql, args)]


@pytest.fixture()
def store(tmp_path):
    store = Store(tmp_path / "state.db")
    yield store
    store.close()


def _assert_keyset_scan(plan: list[str], index: str, range_term: str) -> None:
    text = " | ".join(plan)
    assert "TEMP B-TREE" not in text, text
    assert not any(step.startswith("SCAN") for step in plan), text  # no full scan (what an OFFSET needs)
    assert f"USING INDEX {index} " in plan[0] and range_term in plan[0], text  # the outer loop walks the index


@pytest.mark.parametrize("deleted", [False, True])
def test_a_secrets_page_walks_an_index_in_key_order_from_the_last_key(store, deleted):
    for i in range(50):
        store.add_version("v", _version(f"s-{i:03d}"))
    _assert_keyset_scan(
        _plan(store, _LIST_LATEST[deleted], ("v", "s-010", 26)),
        "secrets_gone" if deleted else "secrets_live",
        "key>?",
    )


def test_a_versions_page_walks_an_index_in_creation_order_from_the_last_one(store):
    for _ in range(30):
        store.add_version("v", _version("many"))
    plan = _plan(store, _LIST_VERSIONS, ("v", "many", 5, 26))
    text = " | ".join(plan)
    assert "TEMP B-TREE" not in text and not any(step.startswith("SCAN") for step in plan), text
    assert any("USING INDEX versions_seq" in step and "seq>?" in step for step in plan), text


def test_a_state_from_before_the_new_indexes_gets_them_on_open(tmp_path):
    """An existing --state-dir carries the old index the planner sorted with: opening it swaps it."""
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE secrets (vault TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, latest TEXT NOT NULL,"
        " deleted_date INTEGER, scheduled_purge_date INTEGER, PRIMARY KEY (vault, key));"
        "CREATE INDEX secrets_deleted ON secrets (vault, deleted_date, key);"
    )
    old.close()
    Database(path).close()
    names = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"secrets_live", "secrets_gone"} <= names and "secrets_deleted" not in names


def _page_all(store: Store, deleted: bool, size: int) -> list[str]:
    names: list[str] = []
    after = ""
    while True:
        rows = store.list_latest("v", after, size + 1, deleted=deleted)
        names += [v.name for v, _ in rows[:size]]
        if len(rows) <= size:
            return names
        after = rows[size - 1][0].name.lower()


def test_paging_by_last_key_yields_every_secret_once_in_order_each_with_its_latest_version(store):
    latest: dict[str, str] = {}
    for i in range(73):
        name = f"Mixed-{(i * 37) % 73:03d}"  # inserted out of order, mixed case
        for _ in range(1 + i % 3):
            latest[name] = store.add_version("v", _version(name)).version
    store.add_version("other", _version("Mixed-000"))  # another vault's secrets never show
    gone = sorted(latest)[5::4]
    for name in gone:
        assert store.soft_delete("v", name, DeletedInfo(1, 2))
    live = sorted(set(latest) - set(gone), key=str.lower)
    for size in (1, 7, 25):
        assert _page_all(store, False, size) == live
        assert _page_all(store, True, size) == sorted(gone, key=str.lower)
    first = store.list_latest("v", "", 3)
    assert [v.version for v, _ in first] == [latest[name] for name in live[:3]]
    deleted_rows = store.list_latest("v", "", 100, deleted=True)
    assert all(info == DeletedInfo(1, 2) for _, info in deleted_rows)
