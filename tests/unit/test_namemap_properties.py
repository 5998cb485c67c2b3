"""The import name rule (`DB_PASSWORD` -> `db-password`) and the file readers, by example and by
property (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core import namemap, validate
from kvctl.core.devenv import export_text
from kvctl.core.envformat import env_name
from kvctl.core.errors import UsageError

ENV_VARS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,40}", fullmatch=True)
# Secret names as kvctl export names them back: no '-' at either end.
SECRET_NAMES = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,60}[a-z0-9])?", fullmatch=True)


@pytest.mark.parametrize(
    ("var", "name"),
    [("DB_PASSWORD", "db-password"), ("_1ST_KEY", "1st-key"), ("api.key", "api-key"), ("A__B", "a--b")],
)
def test_documented_examples(var, name):
    assert namemap.secret_name_for(var) == name


@pytest.mark.parametrize("var", ["___", "..", ""])
def test_a_variable_with_no_letters_or_digits_is_refused(var):
    with pytest.raises(UsageError):
        namemap.secret_name_for(var)


@given(st.text(max_size=200))
def test_any_variable_maps_to_a_valid_secret_name_or_a_usage_error(var):
    try:
        name = namemap.secret_name_for(var)
    except UsageError:
        return
    assert validate.SECRET_NAME.match(name)
    assert name == name.lower() and not name.startswith("-") and not name.endswith("-")


@given(SECRET_NAMES)
def test_import_reverses_export(name):
    assert namemap.secret_name_for(env_name(name)) == name


@given(SECRET_NAMES, st.from_regex(r"[a-z][a-z0-9]{0,10}-?", fullmatch=True))
def test_prefix_round_trips_with_export_prefix(name, prefix):
    full = namemap.with_prefix(prefix, name)
    # export --prefix P strips P and a '-' after it
    rest = full[len(prefix) :].lstrip("-")
    assert namemap.secret_name_for(env_name(rest)) == name


@given(st.dictionaries(ENV_VARS, st.text(max_size=50), max_size=10))
def test_an_exported_dotenv_or_json_file_reads_back(variables):
    for fmt in ("dotenv", "json"):
        try:
            text = export_text(variables, fmt)
        except UsageError:
            assert fmt == "dotenv"  # a value no dotenv quoting carries exactly is refused, never misread
            continue
        assert dict(namemap.parse_file(text, f"x.{fmt}", fmt)) == variables


@given(st.lists(ENV_VARS, min_size=2, max_size=8, unique=True))
def test_colliding_names_are_refused_before_anything(variables):
    pairs = [(v, "x") for v in variables]
    names = [namemap.secret_name_for(v) if v.strip("_") else None for v in variables]
    if None in names:
        return
    try:
        entries = namemap.map_entries(pairs, None, {}, "f")
    except UsageError as exc:
        assert "same secret name" in exc.message
        assert len(set(names)) < len(names)
        return
    assert len({e.name for e in entries}) == len(entries)


def test_case_only_collisions_are_refused():
    with pytest.raises(UsageError, match="DB_PASSWORD, db_password -> db-password"):
        namemap.map_entries([("DB_PASSWORD", "a"), ("db_password", "b")], None, {}, "f")


def test_name_map_overrides_and_must_name_a_variable():
    entries = namemap.map_entries([("A", "1"), ("B", "2")], "app", {"B": "exact-name"}, "f")
    assert [(e.variable, e.name) for e in entries] == [("A", "app-a"), ("B", "exact-name")]
    with pytest.raises(UsageError, match="does not have"):
        namemap.map_entries([("A", "1")], None, {"C": "c"}, "f")
    with pytest.raises(UsageError):
        namemap.name_overrides(["A=not_valid"])


@pytest.mark.parametrize(
    "text",
    ['{"A": 1}', '["A", "b"]', '[["A", "b"]]', '{"A": "1", "A": "2"}', '{"A": {"B": "c"}}', "{"],
)
def test_bad_json_is_a_usage_error(text):
    with pytest.raises(UsageError):
        namemap.parse_file(text, "f.json", None)


def test_a_repeated_dotenv_variable_is_refused():
    with pytest.raises(UsageError, match="twice"):
        namemap.parse_file("A=1\nA=2\n", "f.env", None)


def test_format_is_guessed_from_the_name_or_the_text():
    assert namemap.parse_file(json.dumps({"A": "1"}), "stdin", None) == [("A", "1")]
    assert namemap.parse_file("A='1'\n", "f.env", None) == [("A", "1")]
