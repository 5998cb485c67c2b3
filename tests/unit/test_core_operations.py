"""Core operations against the in-memory fake backend."""

from __future__ import annotations

import datetime as dt

import pytest

from kvctl.core.bulk import fetch_values
from kvctl.core.errors import ConflictError, NotFoundError, PartialFailure
from kvctl.core.refs import SecretRef
from kvctl.core.secrets import (
    ListFilter,
    SecretProperties,
    get_secret,
    list_secrets,
    list_versions,
    set_secret,
    show_secret,
)
from tests.fakes import FakeVault

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def vault():
    return FakeVault()


def ref(vault, name, version=None):
    return SecretRef(vault.vault_url, name, version)


def test_list_filters(vault):
    vault.set("app-a", "1", tags={"team": "x"}, expires=NOW + dt.timedelta(days=3))
    vault.set("app-b", "1", tags={"team": "y"})
    vault.set("other", "1", expires=NOW - dt.timedelta(days=1))
    vault.set("app-off", "1", enabled=False)
    names = lambda f: [s.name for s in list_secrets(lambda url: vault, vault.vault_url, f, NOW)]  # noqa: E731
    assert names(ListFilter(prefix="APP-")) == ["app-a", "app-b"]
    assert names(ListFilter(prefix="app-", include_disabled=True)) == ["app-a", "app-b", "app-off"]
    assert names(ListFilter(tags={"team": "y"})) == ["app-b"]
    assert names(ListFilter(expiring_within=dt.timedelta(days=7))) == ["app-a", "other"]


def test_not_found_mentions_a_recoverable_secret(vault):
    vault.set("gone", "x")
    vault.delete("gone")
    with pytest.raises(NotFoundError) as info:
        get_secret(lambda url: vault, ref(vault, "gone"))
    assert "kvctl recover gone" in (info.value.hint or "")


def test_show_falls_back_to_metadata_when_values_are_forbidden(vault):
    vault.set("meta", "x", tags={"a": "b"})
    vault.deny.add("getSecret")
    shown = show_secret(lambda url: vault, ref(vault, "meta"))
    assert shown.value is None and shown.tags == {"a": "b"}


def test_set_on_a_deleted_name_explains_the_way_out(vault):
    vault.set("old", "x")
    vault.delete("old")
    with pytest.raises(ConflictError) as info:
        set_secret(lambda url: vault, ref(vault, "old"), "y", SecretProperties())
    assert "kvctl recover old" in info.value.hint and "kvctl purge old" in info.value.hint


def test_versions_of_an_unknown_secret_is_not_found(vault):
    with pytest.raises(NotFoundError):
        list_versions(lambda url: vault, ref(vault, "nobody"))


def test_bulk_fetch_deduplicates_and_keeps_order(vault):
    vault.set("a", "1")
    vault.set("b", "2")
    refs = [ref(vault, "b"), ref(vault, "a"), ref(vault, "B")]
    values = [s.value for s in fetch_values(lambda url: vault, refs, concurrency=4)]
    assert values == ["2", "1", "2"]
    assert len([c for c in vault.calls if c[0] == "getSecret"]) == 2


def test_bulk_fetch_names_every_failure(vault):
    vault.set("a", "1")
    refs = [ref(vault, n) for n in ("a", "missing-1", "missing-2")]
    with pytest.raises(PartialFailure) as info:
        fetch_values(lambda url: vault, refs, concurrency=4)
    assert "missing-1" in info.value.message and "missing-2" in info.value.message
    assert int(info.value.exit_code) == 3
