"""Property tests for what the emulator parses from outside: bearer tokens, `$filter`, seeds."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.emulator.arm_groups import FilterError, parse_resource_filter
from kvctl.emulator.seed import MAX_INSTANT, SeedError, parse_seed
from kvctl.emulator.tokens import Identity, TokenAuthority, TokenError

NOW = 1_800_000_000.0
AUTHORITY = TokenAuthority(b"k" * 32, "00000000-0000-0000-0000-000000000001")
ME = Identity("me", "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", 0.0)


# -- tokens ------------------------------------------------------------------------------------


@given(st.text(max_size=300))
def test_any_text_is_a_token_error_or_claims(text):
    try:
        claims = AUTHORITY.verify(text, None)
    except TokenError:
        return
    assert isinstance(claims, dict)


@given(st.text(min_size=1, max_size=40), st.integers(0, 2))
def test_a_tampered_segment_is_refused(junk, which):
    token, _ = AUTHORITY.issue(ME, "https://vault.azure.net")
    parts = token.split(".")
    parts[which] = junk if junk != parts[which] else junk + "x"
    with pytest.raises(TokenError):
        AUTHORITY.verify(".".join(parts), None)


def test_non_ascii_and_bad_base64_are_token_errors():
    token, _ = AUTHORITY.issue(ME, "https://vault.azure.net")
    _, payload, signature = token.split(".")
    for bad in (f"é.{payload}.{signature}", f"a.{payload}.{signature}=", "a.b", "a.bbbbb.c", "..", "a.b.c.d"):
        with pytest.raises(TokenError):
            AUTHORITY.verify(bad, None)
    assert AUTHORITY.verify(token, frozenset({"https://vault.azure.net"}))["oid"] == ME.object_id
    with pytest.raises(TokenError):
        AUTHORITY.verify(token, frozenset({"https://emulator.localhost"}))


# -- $filter -----------------------------------------------------------------------------------

_FIELDS = ["resourceType", "name", "resourceGroup"]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@given(
    st.dictionaries(st.sampled_from(_FIELDS), st.text(max_size=20), min_size=1),
    st.lists(st.sampled_from([" ", "  ", "\t"]), min_size=3, max_size=3),
    st.booleans(),
)
def test_filters_built_from_clauses_parse_back(clauses, spaces, shout):
    sep, inner, _ = spaces
    parts = [f"{f.upper() if shout else f}{inner}eq{inner}{_quote(v)}" for f, v in clauses.items()]
    text = f"{sep}and{sep}".join(parts)
    assert parse_resource_filter(text) == clauses


@given(st.text(max_size=80))
def test_any_filter_text_parses_or_is_refused(text):
    try:
        parsed = parse_resource_filter(text)
    except FilterError:
        return
    assert set(parsed) <= set(_FIELDS) and parsed


# -- seeds -------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_names = st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True)


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=10), _json, max_size=5))
def test_any_json_is_a_seed_or_a_seed_error(data):
    try:
        seed = parse_seed(data, NOW)
    except SeedError as exc:
        assert "\n" not in str(exc)
        return
    for secret in seed.default_secrets:
        assert secret.expires is None or 0 <= secret.expires <= MAX_INSTANT


@given(
    st.dictionaries(_names, st.text(min_size=1, max_size=30), min_size=1, max_size=8),
    st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=15),
    st.one_of(st.integers(0, MAX_INSTANT), st.from_regex(r"-?[0-9]{1,3}[smhdw]", fullmatch=True)),
)
def test_valid_seeds_load(values, tags, expires):
    values = {n.lower(): v for n, v in values.items()}
    data = {name: {"value": value, "tags": tags, "expires": expires} for name, value in values.items()}
    seed = parse_seed(json.loads(json.dumps(data)), NOW)
    assert {s.name: s.value for s in seed.default_secrets} == values
    assert all(s.tags == tags for s in seed.default_secrets)


@given(st.integers(16, 40))
def test_more_than_fifteen_tags_are_refused(count):
    with pytest.raises(SeedError, match="at most 15"):
        parse_seed({"x": {"value": "v", "tags": {f"t{i}": "v" for i in range(count)}}}, NOW)


@pytest.mark.parametrize(
    "data",
    [
        {"x": {"value": "v", "expires": 1e400}},
        {"x": {"value": "v", "expires": float("nan")}},
        {"x": {"value": "v", "expires": 99999999999999999999}},
        {"x": {"value": "v", "expires": -1}},
        {"x": {"value": "v", "expires": "99999999999999999999d"}},
        {"x": {"value": "v", "expires": "10000-01-01T00:00:00Z"}},
        {"x": {"value": "v", "expiry": "1d"}},
        {"x": {"value": ""}},
        {"x": "a", "X": "b"},
        {"_vaults": {"a": {}}},
        {"_vaults": {"bad--name": {}}},
        {"_vaults": {"good": {"properties": {"softDeleteRetentionInDays": "x"}}}},
        {"_vaults": {"good": {"properties": {"softDeleteRetentionInDays": 6}}}},
        {"_vaults": {"good": {"properties": {"softDeleteRetentionInDays": 30.5}}}},
        {"_vaults": {"good": {"properties": {"enablePurgeProtection": True, "enableSoftDelete": False}}}},
        {"_vaults": {"good": {"properties": {"vaultUri": "https://evil"}}}},
        {"_vaults": {"good": {"secret": {}}}},
    ],
)
def test_seeds_the_service_could_not_hold_are_refused(data):
    with pytest.raises(SeedError):
        parse_seed(data, time.time())
