"""`kvctl update` (attributes only) and what `set` carries over (issue 11, items 5 and 9), through
the real CLI against the emulator."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import run_kvctl


def _state(emulator, name):
    return next(s for s in emulator.state() if s["name"] == name)["versions"]


def test_update_changes_attributes_without_a_new_version(kvctl, emulator, unique):
    name = unique("upd")
    assert kvctl("set", name, "--tag", "owner=a", "--tag", "temp=1", input="keep-me").exit_code == 0
    result = kvctl(
        "update",
        name,
        "--expires",
        "90d",
        "--not-before",
        "2020-01-01",
        "--tag",
        "owner=b",
        "--tag",
        "env=prod",
        "--remove-tag",
        "temp",
        "--content-type",
        "text/plain",
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    data = result.json
    assert data["tags"] == {"owner": "b", "env": "prod"}
    assert data["contentType"] == "text/plain"
    assert "value" not in data
    expires = dt.datetime.fromisoformat(data["attributes"]["expires"])
    assert abs((expires - dt.datetime.now(dt.UTC)) - dt.timedelta(days=90)) < dt.timedelta(minutes=1)
    versions = _state(emulator, name)
    assert len(versions) == 1, "update never makes a version"
    assert versions[0]["value"] == "keep-me"
    assert versions[0]["tags"] == {"owner": "b", "env": "prod"}


def test_update_enables_a_disabled_version_without_reading_its_value(kvctl, emulator, unique):
    """The value of a disabled version cannot be read (403): update works on metadata alone."""
    name = unique("dis")
    assert kvctl("set", name, "--disabled", input="dormant").exit_code == 0
    assert kvctl("get", name).exit_code == 5
    result = kvctl("update", name, "--enable", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json["attributes"]["enabled"] is True
    assert kvctl("get", name).stdout == "dormant\n"
    assert kvctl("update", name, "--disable").exit_code == 0
    assert _state(emulator, name)[0]["enabled"] is False


def test_update_a_named_version_leaves_the_latest_alone(kvctl, emulator, unique):
    name = unique("ver")
    first = kvctl("set", name, "-o", "json", input="one").json["id"].rsplit("/", 1)[1]
    assert kvctl("set", name, input="two").exit_code == 0
    result = kvctl("update", name, "--version", first, "--disable", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json["id"].endswith(first)
    enabled = {v["version"]: v["enabled"] for v in _state(emulator, name)}
    assert enabled[first] is False and sum(enabled.values()) == 1
    assert kvctl("get", name).stdout == "two\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "nothing to change"),
        (["--expires", "soon"], "soon"),
        (["--expires", "1d", "--not-before", "2d"], "--not-before"),
        (["--tag", "novalue"], "invalid tag"),
        (["--tag", "a=1", "--remove-tag", "a"], "both set"),
        (["--version", "nothex"], "invalid secret version"),
        (["--enable", "--disable"], "contradict"),
    ],
)
def test_update_validates_before_any_request(args, fragment):
    """Against a vault nobody listens on: a request would exit 7; validation exits 2 first."""
    result = run_kvctl(["update", "x", "--vault", "https://127.0.0.1:9", *args])
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_update_of_an_unknown_secret_exits_3(kvctl, unique):
    result = kvctl("update", unique("nope"), "--expires", "1d")
    assert result.exit_code == 3 and "not found" in result.stderr


def test_too_many_tags_after_merging_is_refused(kvctl, emulator, unique):
    name = unique("tags")
    tags = [f"--tag=t{i}=v" for i in range(15)]
    assert kvctl("set", name, *tags, input="x").exit_code == 0
    result = kvctl("update", name, "--tag", "one=more")
    assert result.exit_code == 2 and "15" in result.stderr


_TAGS = st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text(max_size=3), max_size=12)


@settings(max_examples=200, deadline=None)
@given(current=_TAGS, given_tags=_TAGS, clear=st.booleans())
def test_set_merges_tags_exactly_or_refuses(current, given_tags, clear):
    from kvctl.core.errors import UsageError
    from kvctl.core.secrets import SecretProperties, merged_tags

    current = {**current, "kvctl-rotation-id": "r1"}  # kvctl's bookkeeping is never carried over
    props = SecretProperties(tags=given_tags or None, clear_tags=clear)
    kept = {k: v for k, v in current.items() if not k.startswith("kvctl-")}
    expected = {**({} if clear else kept), **given_tags}
    if len(expected) > 15:
        with pytest.raises(UsageError):
            merged_tags(current, props)
        return
    assert merged_tags(current, props) == (expected or None)


def test_set_keeps_content_type_and_tags_and_warns_about_a_lost_expiry(kvctl, unique):
    name = unique("keep")
    first = kvctl("set", name, "--content-type", "application/json", "--tag", "owner=a", "--expires", "30d", input="{}")
    assert first.exit_code == 0, first.stderr
    second = kvctl("set", name, "--tag", "env=prod", "-o", "json", input="{}")
    assert second.exit_code == 0, second.stderr
    assert second.json["contentType"] == "application/json"
    assert second.json["tags"] == {"owner": "a", "env": "prod"}
    assert second.json["attributes"]["expires"] is None
    assert "warning:" in second.stderr and "no expiry" in second.stderr and "kvctl update" in second.stderr
    # With an expiry given, nothing to warn about.
    third = kvctl("set", name, "--expires", "10d", input="{}")
    assert third.exit_code == 0 and "warning" not in third.stderr


def test_set_clears_tags_and_content_type_when_told(kvctl, unique):
    name = unique("clear")
    assert kvctl("set", name, "--content-type", "text/plain", "--tag", "a=1", input="x").exit_code == 0
    result = kvctl("set", name, "--no-tags", "--content-type", "", "-o", "json", input="y")
    assert result.exit_code == 0, result.stderr
    assert result.json["tags"] == {} and result.json["contentType"] is None
    fresh = kvctl("set", name, "--no-tags", "--tag", "b=2", "-o", "json", input="z")
    assert fresh.json["tags"] == {"b": "2"}


def test_set_carries_tags_from_a_disabled_latest_version(kvctl, unique):
    name = unique("fromdisabled")
    assert kvctl("set", name, "--disabled", "--tag", "owner=ops", input="old").exit_code == 0
    result = kvctl("set", name, "-o", "json", input="new")
    assert result.exit_code == 0, result.stderr
    assert result.json["tags"] == {"owner": "ops"}
