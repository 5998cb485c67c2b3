"""Core of run/export: which values are references, variable names, precedence, the child's
environment, export formats, and bulk fetching (against the in-memory fake vault)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.core.bulk import Listing, fetch_bulk
from kvctl.core.clouds import CLOUDS
from kvctl.core.devenv import (
    PRISTINE_KEEP,
    RUN_DEPTH_VAR,
    child_environment,
    entries_from_env_file,
    entry_from_option,
    export_text,
    is_reference,
    refuse_nested,
    render_export,
    resolve,
    variable_names,
)
from kvctl.core.envformat import dotenv_line, parse_dotenv
from kvctl.core.errors import ExitCode, ForbiddenError, NotFoundError, PartialFailure, UsageError
from kvctl.core.process import exit_status
from kvctl.core.refs import SecretRef
from kvctl.core.secrets import ListFilter
from kvctl.core.validate import ENV_VAR
from tests.fakes import FakeVault

PUBLIC = CLOUDS["public"]
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
names = st.text(NAME_CHARS, min_size=1, max_size=40)
values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80)


# -- what is a reference ---------------------------------------------------------------------


@given(names, st.sampled_from(["myvault", "127.0.0.1:8443", "localhost:1234"]))
def test_akv_references_are_references(name, vault):
    assert is_reference(f"akv://{vault}/{name}")
    assert is_reference(f"AKV://{vault}/{name}")


@given(names, st.sampled_from(["kv.vault.azure.net", "kv.vault.azure.cn", "kv.vault.usgovcloudapi.net", "127.0.0.1:9"]))
def test_secret_identifiers_of_any_cloud_or_loopback_are_references(name, host):
    assert is_reference(f"https://{host}/secrets/{name}")


@given(values)
def test_only_akv_and_vault_urls_are_references(text):
    looks_like = text.strip().lower().startswith(("akv://", "https://"))
    if not looks_like:
        assert not is_reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/secrets/x",
        "https://myapp.azurewebsites.net/secrets/x",
        "https://kv.vault.azure.net/keys/k",
        "http://kv.vault.azure.net/secrets/x",
        "postgres://u:p@host/db",
        "plain",
        "",
    ],
)
def test_other_values_pass_through(text):
    assert not is_reference(text)


def test_env_file_entries_resolve_references_and_pass_plain_values():
    text = (
        "# comment\n"
        "DB=akv://myvault/db-password\n"
        "export API=https://other.vault.azure.net/secrets/api-key/" + "a" * 32 + "\n"
        "PLAIN=hello world # trailing comment\n"
        "QUOTED='# not a comment'\n"
        "URL=https://example.com/secrets/x\n"
    )
    entries = entries_from_env_file(text, ".env", None, PUBLIC)
    assert [(e.var, e.source) for e in entries] == [
        ("DB", ".env:2"),
        ("API", ".env:3"),
        ("PLAIN", ".env:4"),
        ("QUOTED", ".env:5"),
        ("URL", ".env:6"),
    ]
    assert entries[0].ref == SecretRef("https://myvault.vault.azure.net", "db-password")
    assert entries[1].ref == SecretRef("https://other.vault.azure.net", "api-key", "a" * 32)
    assert entries[2].value == "hello world" and entries[2].ref is None
    assert entries[4].value == "https://example.com/secrets/x"


def test_quoted_references_are_references_too_and_errors_name_the_line():
    with pytest.raises(UsageError) as info:
        entries_from_env_file("A=1\nB='akv://x'\n", "app.env", None, PUBLIC)
    assert info.value.message.startswith("app.env:2: invalid secret reference")


def test_env_file_syntax_errors_name_the_line():
    with pytest.raises(UsageError, match="line 2"):
        entries_from_env_file("A=1\nnot a line\n", "f", None, PUBLIC)


def test_env_option_takes_a_bare_name_with_a_vault():
    entry = entry_from_option("DB_PASSWORD=db-password", "myvault", PUBLIC)
    assert entry.ref == SecretRef("https://myvault.vault.azure.net", "db-password")
    for bad in ("NOEQUALS", "1BAD=x", "A=", "A=bad_name"):
        with pytest.raises(UsageError):
            entry_from_option(bad, "myvault", PUBLIC)
    with pytest.raises(UsageError, match="no vault"):
        entry_from_option("A=name", None, PUBLIC)


# -- variable names --------------------------------------------------------------------------


def _secret(vault, name, value="v"):
    return vault.set(name, value)


@given(st.lists(names, min_size=1, max_size=10, unique_by=str.lower))
def test_mapped_names_are_valid_variables_or_collisions_are_reported(secret_names):
    vault = FakeVault()
    secrets = [_secret(vault, n) for n in secret_names]
    try:
        mapped = variable_names(secrets, None)
    except UsageError as exc:
        assert exc.exit_code == ExitCode.USAGE and "$" in exc.message
    else:
        assert all(ENV_VAR.match(var) for var in mapped)
        assert sorted(s.name for s in mapped.values()) == sorted(secret_names)


def test_prefix_is_stripped_with_a_following_dash():
    vault = FakeVault()
    secrets = [_secret(vault, n) for n in ("myapp-db-password", "myapp-api-key", "myapp-2fa")]
    for prefix in ("myapp-", "myapp", "MYAPP-"):
        assert sorted(variable_names(secrets, prefix)) == ["API_KEY", "DB_PASSWORD", "_2FA"]
    assert sorted(variable_names(secrets, None)) == ["MYAPP_2FA", "MYAPP_API_KEY", "MYAPP_DB_PASSWORD"]


def test_a_prefix_that_ends_inside_a_word_is_not_stripped():
    vault = FakeVault()
    secrets = [_secret(vault, n) for n in ("app-db", "application-key", "apps")]
    assert variable_names(secrets, "app").keys() == {"DB", "APPLICATION_KEY", "APPS"}
    assert variable_names(secrets[1:2], "application").keys() == {"KEY"}
    assert variable_names(secrets[1:2], "applica").keys() == {"APPLICATION_KEY"}


def test_every_collision_is_listed():
    vault = FakeVault()
    secrets = [_secret(vault, n) for n in ("1st", "-1st", "ok", "x-1", "-x-1")]
    with pytest.raises(UsageError) as info:
        variable_names(secrets, None)
    assert info.value.message.endswith(": $_1ST <- 1st, -1st"), "only the real collision is listed"
    prefixed = [_secret(vault, n) for n in ("app-db", "appdb", "app--db", "app-ok", "app")]
    with pytest.raises(UsageError) as info:
        variable_names(prefixed, "app")
    assert "$DB <- app-db, app--db" in info.value.message, "appdb keeps its whole name: APPDB"
    assert "'app' leaves no variable name" in info.value.message
    assert "APP_OK" not in info.value.message and "$OK" not in info.value.message


# -- precedence, the child's environment -----------------------------------------------------


def test_later_sources_win_and_values_are_fetched_once():
    vault = FakeVault()
    for name, value in {"p-db": "from-prefix", "p-api": "api", "db": "from-env", "other": "o"}.items():
        vault.set(name, value)
    entries = [
        *entries_from_env_file("DB=akv://fake/db\nKEEP=plain\nAPI=akv://fake/p-api\n", "f", None, PUBLIC),
        entry_from_option("KEEP=other", vault.vault_url, PUBLIC),
    ]
    listing = Listing(vault.vault_url, ListFilter(prefix="p-"), NOW)
    resolved = resolve(lambda url: vault, entries, listing, "p-", concurrency=4)
    assert resolved.variables == {"DB": "from-env", "API": "api", "KEEP": "o"}
    assert resolved.sources["KEEP"] == "--env KEEP" and resolved.sources["DB"] == "f:1"
    assert resolved.secrets == 4 and resolved.matched == 2
    gets = [name for op, name in vault.calls if op == "getSecret"]
    assert sorted(gets) == ["db", "other", "p-api", "p-db"], "listed and referenced: fetched once"


def test_a_nul_byte_cannot_go_into_an_environment():
    vault = FakeVault()
    vault.set("nul", "a\0b")
    entry = entry_from_option("X=nul", vault.vault_url, PUBLIC)
    with pytest.raises(UsageError, match="NUL"):
        resolve(lambda url: vault, [entry], None, None, concurrency=2)


def test_child_environment_inherits_marks_and_reports_overrides():
    parent = {"PATH": "/bin", "HOME": "/h", "DB": "old", "SAME": "x", "JUNK": "j"}
    env, overridden = child_environment(parent, {"DB": "new", "SAME": "x", "NEW": "n"}, pristine=False)
    assert env == {**parent, "DB": "new", "NEW": "n", RUN_DEPTH_VAR: "1"}
    assert overridden == ["DB"]
    env, overridden = child_environment(parent, {"HOME": "/secret-home"}, pristine=True)
    assert env == {"PATH": "/bin", "HOME": "/secret-home", RUN_DEPTH_VAR: "1"}
    assert overridden == ["HOME"]
    assert set(PRISTINE_KEEP) >= {"PATH", "HOME"}


def test_nesting_is_refused():
    refuse_nested({"PATH": "/bin"})
    with pytest.raises(UsageError) as info:
        refuse_nested({RUN_DEPTH_VAR: "1"})
    assert info.value.exit_code == ExitCode.USAGE and info.value.hint


def test_exit_status_of_a_signalled_child():
    assert exit_status(0) == 0 and exit_status(7) == 7
    assert exit_status(-15) == 143 and exit_status(-2) == 130


# -- export formats --------------------------------------------------------------------------

env_vars = st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True)


@given(st.dictionaries(env_vars, values, max_size=6))
def test_export_dotenv_and_json_read_back_exactly_or_refuse(variables):
    rendered = render_export(variables, "dotenv")
    if rendered.refused:
        assert rendered.text == "", "nothing is written when one value is refused"
        assert {var for var, _ in rendered.refused} <= set(variables)
    else:
        assert {name: value for name, value, _ in parse_dotenv(rendered.text)} == variables
    assert json.loads(export_text(variables, "json")) == variables


@settings(max_examples=20, deadline=None)
@given(st.dictionaries(env_vars, values, min_size=1, max_size=4))
def test_export_shell_evaluates_to_the_same_bytes(variables):
    script = export_text(variables, "shell") + "".join(f'printf "%s\\0" "${v}"\n' for v in variables)
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.decode().split("\0")[:-1] == list(variables.values())


def test_dotenv_lines_are_the_envformat_ones():
    assert export_text({"A": "it's"}, "dotenv") == dotenv_line("A", "it's")


# -- bulk fetching ---------------------------------------------------------------------------


def test_fetch_bulk_keeps_list_order_and_reference_order():
    vault = FakeVault()
    for i in range(60):
        vault.set(f"s-{i:02d}", f"v{i}")
    vault.set("off", "x", enabled=False)
    refs = [SecretRef(vault.vault_url, "s-05"), SecretRef(vault.vault_url, "S-05"), SecretRef(vault.vault_url, "s-01")]
    seen = []
    lock = threading.Lock()

    def progress(n):
        with lock:
            seen.append(n)

    result = fetch_bulk(
        lambda url: vault, refs, listing=Listing(vault.vault_url, ListFilter(), NOW), concurrency=8, on_fetched=progress
    )
    assert [s.name for s in result.matched] == [f"s-{i:02d}" for i in range(60)], "disabled skipped, order kept"
    assert [s.value for s in result.matched][:3] == ["v0", "v1", "v2"]
    assert [s.value for s in result.referenced] == ["v5", "v5", "v1"]
    assert result.count == 60 and len(seen) == 60


def test_fetch_bulk_lists_every_failure_and_returns_nothing():
    vault = FakeVault()
    for name in ("a", "b", "c"):
        vault.set(name, "v")
    refs = [SecretRef(vault.vault_url, n) for n in ("a", "missing-1", "b", "missing-2")]
    with pytest.raises(PartialFailure) as info:
        fetch_bulk(lambda url: vault, refs, listing=Listing(vault.vault_url, ListFilter(), NOW), concurrency=4)
    assert [name for name, _ in info.value.failures] == ["missing-1", "missing-2"]
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "2 of 5" in info.value.message and "missing-1" in info.value.message


def test_fetch_bulk_with_metadata_only_rights_fails_as_forbidden():
    vault = FakeVault(deny={"getSecret"})
    vault.set("a", "v")
    with pytest.raises(ForbiddenError):
        fetch_bulk(lambda url: vault, listing=Listing(vault.vault_url, ListFilter(), NOW), concurrency=2)


def test_a_failing_list_stops_the_fetch():
    vault = FakeVault()
    vault.set("a", "v")
    vault.deny = {"readMetadata"}
    with pytest.raises(ForbiddenError):
        fetch_bulk(lambda url: vault, listing=Listing(vault.vault_url, ListFilter(), NOW), concurrency=2)


def test_not_found_single_reference_keeps_its_own_error():
    vault = FakeVault()
    with pytest.raises(NotFoundError):
        fetch_bulk(lambda url: vault, [SecretRef(vault.vault_url, "nope")], concurrency=2)
