"""The copy/import plan (create, update, skip and why), the writer, and diff's keyed hash: pure
core logic, with tests/fakes.py standing in for a vault."""

from __future__ import annotations

import datetime as dt

import pytest

from kvctl.core.diff import Entry, KeyedHash, Side, compare
from kvctl.core.errors import ConflictError, UnavailableError, UsageError
from kvctl.core.promote_plan import (
    Content,
    Wanted,
    check_distinct,
    destination_selection,
    parse_rename,
    plan,
    plan_item,
    renamed,
)
from kvctl.core.promote_read import CopySelection, read_both
from kvctl.core.promote_run import Writer, wait_until
from kvctl.core.ratelimit import SlidingWindowLimiter
from tests.fakes import FakeVault

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def wanted(name: str, *values: str, **attrs) -> Wanted:
    return Wanted(name, name, tuple(Content(v, **attrs) for v in values))


def stored(vault: FakeVault, name: str, value: str, **props):
    return vault.set(name, value, **props)


class TestPlan:
    def test_missing_is_created_and_deleted_is_a_conflict_by_default(self):
        item = plan_item(wanted("a", "1"), None, False)
        assert (item.action, item.reason, len(item.writes)) == ("create", "not in the destination", 1)
        blocked = plan_item(wanted("a", "1"), None, True)
        assert blocked.action == "conflict" and not blocked.writes
        assert plan_item(wanted("a", "1"), None, True, "recover").action == "recover"
        assert plan_item(wanted("a", "1"), None, True, "purge").writes

    def test_same_value_and_attributes_is_skipped(self):
        vault = FakeVault()
        latest = stored(vault, "a", "1", content_type="text/plain", tags={"k": "v"}, expires=NOW)
        want = wanted("a", "1", content_type="text/plain", tags={"k": "v"}, expires=NOW.replace(microsecond=500))
        assert plan_item(want, latest, False).action == "skip"

    @pytest.mark.parametrize(
        ("attrs", "why"),
        [
            ({"content_type": "application/json"}, "content type"),
            ({"tags": {"k": "other"}}, "tags"),
            ({"expires": NOW + dt.timedelta(days=1)}, "expires"),
            ({"not_before": NOW}, "not-before"),
        ],
    )
    def test_each_attribute_counts(self, attrs, why):
        vault = FakeVault()
        latest = stored(vault, "a", "1", tags={"k": "v"}, expires=NOW)
        base = {"tags": {"k": "v"}, "expires": NOW} | attrs
        item = plan_item(wanted("a", "1", **base), latest, False)
        assert item.action == "update" and item.reason == f"differs: {why}"

    def test_a_different_value_is_an_update_that_names_only_the_value(self):
        vault = FakeVault()
        item = plan_item(wanted("a", "new"), stored(vault, "a", "old"), False)
        assert (item.action, item.reason) == ("update", "differs: value")
        assert [c.value for c in item.writes] == ["new"]

    def test_history_continues_after_the_newest_version_the_destination_has(self):
        vault = FakeVault()
        want = wanted("a", "v1", "v2", "v3", "v4")
        assert [c.value for c in plan_item(want, None, False).writes] == ["v1", "v2", "v3", "v4"]
        half = plan_item(want, stored(vault, "a", "v2"), False)
        assert half.action == "update" and [c.value for c in half.writes] == ["v3", "v4"]
        assert plan_item(want, stored(vault, "a", "v4"), False).action == "skip"
        unrelated = plan_item(want, stored(vault, "a", "zzz"), False)
        assert [c.value for c in unrelated.writes] == ["v1", "v2", "v3", "v4"]

    def test_import_compares_only_the_value_and_keeps_the_destination_attributes(self):
        vault = FakeVault()
        latest = stored(vault, "a", "old", content_type="text/plain", tags={"owner": "me"})
        want = Wanted("A", "a", (Content("old"),), compare_attributes=False)
        assert plan_item(want, latest, False).action == "skip"
        changed = plan_item(Wanted("A", "a", (Content("new"),), compare_attributes=False), latest, False)
        assert changed.action == "update"
        assert (changed.writes[0].content_type, changed.writes[0].tags) == ("text/plain", {"owner": "me"})

    def test_plan_keys_are_case_insensitive(self):
        vault = FakeVault()
        latest = stored(vault, "App-Db", "1")
        items = plan([wanted("app-db", "1")], {"app-db": latest}, set())
        assert items[0].action == "skip"

    def test_value_repr_is_hidden(self):
        assert "hunter2" not in repr(Content("hunter2")) and "hunter2" not in repr(wanted("a", "hunter2"))


class TestNames:
    def test_rename(self):
        rename = parse_rename("dev-=prod-")
        assert renamed("dev-db", rename) == "prod-db"
        assert renamed("DEV-db", rename) == "prod-db"
        assert renamed("other", rename) == "other"
        assert renamed("dev-db", parse_rename("dev-=")) == "db"

    @pytest.mark.parametrize("text", ["nope", "=x", "a b=c", "a=b_c"])
    def test_bad_rename_is_a_usage_error(self, text):
        with pytest.raises(UsageError):
            parse_rename(text)

    def test_a_rename_that_leaves_no_name_is_refused(self):
        with pytest.raises(UsageError):
            renamed("dev-", parse_rename("dev-="))

    def test_two_sources_for_one_name_are_refused(self):
        with pytest.raises(UsageError, match="one name"):
            check_distinct([Wanted("dev-a", "a", ()), Wanted("a", "a", ())])

    def test_destination_selection_covers_renamed_and_unrenamed_names(self):
        sel = destination_selection((), ("dev-app-",), ("dev-", "prod-"))
        assert set(sel.prefixes) == {"dev-app-", "prod-app-"}
        wide = destination_selection((), ("d",), ("dev-", "prod-"))
        assert set(wide.prefixes) == {"d", "prod-"}
        assert destination_selection(("dev-x",), (), ("dev-", "prod-")).names == frozenset({"prod-x"})


class TestReadAndWrite:
    def make(self):
        source, dest = FakeVault("https://src.vault.azure.net"), FakeVault("https://dst.vault.azure.net")
        vaults = {source.vault_url: source, dest.vault_url: dest}
        return source, dest, vaults.__getitem__

    def test_copy_then_rerun_writes_nothing(self):
        source, dest, factory = self.make()
        stored(source, "app-a", "1", tags={"t": "x"})
        stored(source, "app-b", "2", content_type="text/plain")
        stored(source, "other", "3")
        sel = CopySelection(source.vault_url, dest.vault_url, prefixes=("app-",))
        for expected in ({"create"}, {"skip"}):
            wanted_, state = read_both(factory, factory, sel, concurrency=4, now=NOW, on_read=lambda n: None)
            items = plan(wanted_, state.latest, state.deleted)
            assert {i.action for i in items} == expected
            Writer(dest, SlidingWindowLimiter()).run(items, concurrency=4)
        assert sorted(dest.versions) == ["app-a", "app-b"]
        assert all(len(v) == 1 for v in dest.versions.values())
        assert dest.versions["app-a"][0].tags == {"t": "x"}

    def test_disabled_source_secrets_are_not_copied(self):
        source, dest, factory = self.make()
        stored(source, "app-off", "1", enabled=False)
        sel = CopySelection(source.vault_url, dest.vault_url, prefixes=("app-",))
        wanted_, _ = read_both(factory, factory, sel, concurrency=2, now=NOW, on_read=lambda n: None)
        assert wanted_ == []

    def test_deleted_destination_names_are_found(self):
        source, dest, factory = self.make()
        stored(source, "a", "1")
        stored(dest, "a", "old")
        dest.delete("a")
        sel = CopySelection(source.vault_url, dest.vault_url, names=("a",))
        wanted_, state = read_both(factory, factory, sel, concurrency=2, now=NOW, on_read=lambda n: None)
        assert state.deleted == {"a"}
        items = plan(wanted_, state.latest, state.deleted, "recover")
        results = Writer(dest, SlidingWindowLimiter(), sleep=lambda s: None).run(items, concurrency=2)
        assert results[0].status == "updated" and [v.value for v in dest.versions["a"]] == ["old", "1"]

    def test_a_failure_is_per_secret_and_the_others_go_on(self):
        source, dest, _factory = self.make()
        for name in ("a", "b", "c"):
            stored(source, name, name)

        class Flaky(FakeVault):
            def set(self, name, value, **props):
                if name == "b":
                    raise UnavailableError("throttled")
                return super().set(name, value, **props)

        flaky = Flaky(dest.vault_url)
        items = plan([wanted(n, n) for n in ("a", "b", "c")], {}, set())
        results = Writer(flaky, SlidingWindowLimiter()).run(items, concurrency=3)
        assert [r.status for r in results] == ["created", "failed", "created"]
        assert isinstance(results[1].error, UnavailableError)

    def test_writes_pass_the_limiter(self):
        clock = [0.0]
        limiter = SlidingWindowLimiter(
            2, 10.0, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s)
        )
        dest = FakeVault()
        items = plan([wanted(f"s{i}", "v") for i in range(5)], {}, set())
        Writer(dest, limiter).run(items, concurrency=1)
        assert len(dest.versions) == 5 and clock[0] >= 20.0

    def test_a_conflict_item_fails_with_exit_6(self):
        items = plan([wanted("a", "1")], {}, {"a"})
        result = Writer(FakeVault(), SlidingWindowLimiter()).run(items, concurrency=1)[0]
        assert isinstance(result.error, ConflictError) and int(result.error.exit_code) == 6

    def test_wait_until_polls_until_true_or_timeout(self):
        clock = [0.0]
        answers = iter([False, False, True])
        assert wait_until(lambda: next(answers), 10, lambda: clock[0], lambda s: clock.__setitem__(0, clock[0] + s))
        clock[0] = 0.0
        assert not wait_until(lambda: False, 5, lambda: clock[0], lambda s: clock.__setitem__(0, clock[0] + s))
        assert clock[0] >= 5


class TestDiff:
    def test_keyed_hash_depends_on_the_run_key(self):
        one, two = KeyedHash(), KeyedHash()
        assert one.digest("x") == one.digest("x") != two.digest("x")
        assert "key" not in repr(one).replace("<key hidden>", "")

    def test_compare(self):
        h = KeyedHash()
        attrs = Content("", "text/plain")
        left = {
            "a": Entry("a", h.digest("1"), attrs),
            "b": Entry("b", h.digest("2"), attrs),
            "only-a": Entry("only-a", h.digest("3"), attrs),
        }
        right = {
            "a": Entry("A", h.digest("1"), attrs),
            "b": Entry("b", h.digest("2"), Content("", "application/json")),
            "only-b": Entry("only-b", h.digest("4"), None),
        }
        result = compare(Side("x", "vault"), Side("y", "vault"), left, right)
        assert (result.only_a, result.only_b, result.same) == (["only-a"], ["only-b"], 1)
        assert [(d.name, d.fields) for d in result.different] == [("b", ("content type",))]
        assert not result.equal and "valueA" not in str(result.to_json())

    def test_a_file_side_compares_values_only(self):
        h = KeyedHash()
        left = {"a": Entry("a", h.digest("1"), Content("", "text/plain"))}
        right = {"a": Entry("a", h.digest("1"), None)}
        assert compare(Side("v", "vault"), Side("f", "file"), left, right).equal


def test_a_disabled_latest_destination_version_gets_an_enabled_one_on_top():
    from kvctl.core.promote_read import read_destination_by_name

    class DisabledReads(FakeVault):
        def get(self, name, version=None):
            found = super().get(name, version)
            if found.attributes.enabled is False:
                from kvctl.core.errors import ForbiddenError

                raise ForbiddenError("Operation get is not allowed on a disabled secret.")
            return found

    dest = DisabledReads()
    dest.set("off", "old", enabled=False)
    dest.set("on", "v")
    latest = read_destination_by_name({dest.vault_url: dest}.__getitem__, dest.vault_url, ["off", "on"], concurrency=2)
    assert set(latest) == {"on"}
    item = plan([wanted("off", "old")], latest, set())[0]
    assert item.action == "create"
