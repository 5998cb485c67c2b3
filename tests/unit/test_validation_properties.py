"""Property-based tests of what users type: names, references, durations, tags, dates."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.core import validate
from kvctl.core.clouds import CLOUDS
from kvctl.core.errors import UsageError
from kvctl.core.refs import parse_ref, vault_url
from kvctl.emulator.secrets_api import NAME_PATTERN

PUBLIC = CLOUDS["public"]
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
names = st.text(NAME_CHARS, min_size=1, max_size=127)
versions = st.text("0123456789abcdef", min_size=32, max_size=32)
vault_names = st.from_regex(r"[a-z][a-z0-9]{1,20}[a-z0-9]", fullmatch=True)


@given(names)
def test_valid_names_pass_kvctl_and_the_emulator(name):
    assert validate.secret_name(name) == name
    assert NAME_PATTERN.match(name)


@given(st.text(max_size=200))
def test_kvctl_and_the_emulator_agree_on_every_name(text):
    emulator_accepts = bool(NAME_PATTERN.match(text))
    try:
        validate.secret_name(text)
        kvctl_accepts = True
    except UsageError:
        kvctl_accepts = False
    assert kvctl_accepts == emulator_accepts == bool(re.fullmatch(r"[0-9a-zA-Z-]{1,127}", text))


@given(names, st.one_of(st.none(), versions), vault_names)
def test_akv_references_round_trip(name, version, vault):
    text = f"akv://{vault}/{name}" + (f"/{version}" if version else "")
    ref = parse_ref(text, None, PUBLIC)
    assert (ref.vault_url, ref.name, ref.version) == (f"https://{vault}.vault.azure.net", name, version)
    assert parse_ref(str(ref), None, PUBLIC) == ref, "the identifier URL names the same secret"


@given(names, st.integers(1024, 65535))
def test_loopback_host_port_references(name, port):
    ref = parse_ref(f"akv://127.0.0.1:{port}/{name}", None, PUBLIC)
    assert ref.vault_url == f"https://127.0.0.1:{port}"


@given(names, vault_names)
def test_a_bare_name_uses_the_default_vault(name, vault):
    assert parse_ref(name, vault, PUBLIC) == parse_ref(f"akv://{vault}/{name}", None, PUBLIC)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_reference_text_is_parsed_or_refused_cleanly(text):
    try:
        ref = parse_ref(text, "myvault", PUBLIC)
    except UsageError as exc:
        assert exc.message and "\n" not in exc.message
    else:
        assert validate.SECRET_NAME.match(ref.name)


@given(st.lists(st.tuples(st.integers(0, 500), st.sampled_from("smhdwy")), min_size=1, max_size=4))
def test_durations_add_up(parts):
    text = "".join(f"{n}{u}" for n, u in parts)
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total = sum(n * seconds[u] for n, u in parts)
    if total > 100 * 31536000:
        with pytest.raises(UsageError, match="too long"):
            validate.duration(text)
    else:
        assert validate.duration(text).total_seconds() == total


@given(st.text(max_size=20))
def test_durations_refuse_anything_else_cleanly(text):
    if re.fullmatch(r"\s*(\d+[smhdwySMHDWY])+\s*", text):
        return
    with pytest.raises(UsageError):
        validate.duration(text)


@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(9000, 1, 1), timezones=st.just(dt.UTC)))
def test_dates_round_trip(moment):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert validate.instant(moment.isoformat(), now) == moment


@given(st.text(min_size=1, max_size=100).filter(lambda s: "=" not in s and s.strip()), st.text(max_size=100))
def test_tags_split_at_the_first_equals(name, value):
    assert validate.tag(f"{name}={value}") == (name.strip(), value)


@given(st.dictionaries(st.text("abc", min_size=1, max_size=3), st.text(max_size=5), min_size=16, max_size=30))
def test_more_than_fifteen_tags_are_refused(tags):
    with pytest.raises(UsageError):
        validate.tags([f"{k}={v}" for k, v in tags.items()])


@given(st.text(max_size=30))
def test_vault_urls_are_https_azure_or_loopback(text):
    try:
        url = vault_url(text, PUBLIC)
    except UsageError:
        return
    assert url.startswith("https://")
    host = url.removeprefix("https://").rsplit(":", 1)[0]
    assert host.endswith(".vault.azure.net") or host in ("127.0.0.1", "localhost", "[::1]") or host.startswith("127.")


@pytest.mark.parametrize("text", ["name\n", "0\n", "a" * 127 + "\n"])
def test_a_trailing_newline_is_not_a_valid_name(text):
    with pytest.raises(UsageError):
        validate.secret_name(text)
    assert not NAME_PATTERN.match(text)


@given(
    st.text("abcdefghij.-:0123456789", min_size=1, max_size=20),
    st.sampled_from("@/\\#?% "),
    st.text("abcdefghij.-", min_size=1, max_size=20),  # (surrounding spaces are stripped, as for any input)
)
def test_a_host_with_a_url_delimiter_is_always_refused(before, delimiter, after):
    for vault in (f"{before}{delimiter}{after}.vault.azure.net", f"{before}{delimiter}{after}"):
        with pytest.raises(UsageError):
            vault_url(vault, PUBLIC)
        with pytest.raises(UsageError):
            parse_ref(f"akv://{vault}/name", None, PUBLIC)
