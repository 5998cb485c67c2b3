"""KVCTL_TOKEN_CACHE takes only the spellings of a switch (`maybe` was silently "on"), and
`kvctl logout --client-id ID` clears that identity's tokens only (it ignored the option and
cleared everything). Real `kvctl` processes against an emulator that counts the tokens it issues."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.core.errors import UsageError
from kvctl.core.settings import TOKEN_CACHE_OFF, TOKEN_CACHE_ON, token_cache_enabled
from tests.conftest import EmulatorProcess, kvctl_cache_dir, run_kvctl_subprocess


def _cache_file() -> Path:
    return kvctl_cache_dir() / "tokens.json"


def _entries() -> dict[str, Any]:
    return dict(json.loads(_cache_file().read_text())["tokens"])


def _tokens_issued(emulator: EmulatorProcess) -> int:
    return int(emulator.control("GET", "state")["counters"]["tokens"])


@pytest.mark.parametrize("value", ["maybe", "disable", "of", "2", "onn", "true\x1b[31m"])
def test_a_token_cache_value_that_is_not_a_switch_is_a_usage_error_before_any_request(fresh_emulator, value):
    emulator = fresh_emulator()
    before = _tokens_issued(emulator)
    requests_before = int(emulator.control("GET", "state")["counters"]["requests"])
    done = run_kvctl_subprocess(["get", "anything"], emulator=emulator, env={"KVCTL_TOKEN_CACHE": value})
    lines = done.stderr.splitlines()
    assert done.exit_code == 2, done.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith("kvctl: error: KVCTL_TOKEN_CACHE=") and "off/on" in lines[0], lines
    assert "\x1b" not in done.stderr and "Traceback" not in done.stderr
    # No token asked for (the control call above takes one of its own) and no vault request made.
    assert _tokens_issued(emulator) == before + 2
    assert int(emulator.control("GET", "state")["counters"]["requests"]) == requests_before
    assert not _cache_file().exists()


def test_logout_refuses_a_token_cache_value_it_cannot_read(fresh_emulator):
    emulator = fresh_emulator()
    done = run_kvctl_subprocess(["logout"], emulator=emulator, env={"KVCTL_TOKEN_CACHE": "maybe"})
    assert done.exit_code == 2 and done.stderr.startswith("kvctl: error: KVCTL_TOKEN_CACHE="), done.stderr


@pytest.mark.parametrize(("value", "cached"), [("OFF", False), ("No", False), ("0", False), ("yes", True), ("", True)])
def test_the_accepted_spellings_work_in_any_case(fresh_emulator, unique, value, cached):
    emulator = fresh_emulator()
    name = unique()
    seeded = run_kvctl_subprocess(
        ["set", name, "--value", "v", "-q"], emulator=emulator, env={"KVCTL_TOKEN_CACHE": "off"}
    )
    assert seeded.exit_code == 0, seeded.stderr
    done = run_kvctl_subprocess(["get", name], emulator=emulator, env={"KVCTL_TOKEN_CACHE": value})
    assert (done.exit_code, done.stdout) == (0, "v\n"), done.stderr
    assert _cache_file().exists() is cached


@given(st.text(max_size=12))
def test_token_cache_switch_accepts_exactly_the_documented_spellings(text):
    known = text.strip().lower()
    try:
        result = token_cache_enabled(text)
    except UsageError as exc:
        assert known not in ("", *TOKEN_CACHE_ON, *TOKEN_CACHE_OFF)
        assert "KVCTL_TOKEN_CACHE" in exc.message and "\n" not in exc.message
    else:
        assert result is (known not in TOKEN_CACHE_OFF)
        assert known in ("", *TOKEN_CACHE_ON, *TOKEN_CACHE_OFF)


def _whoami(emulator: EmulatorProcess, *extra: str, env: dict[str, str | None] | None = None) -> Any:
    done = run_kvctl_subprocess(
        ["whoami", "-o", "json", "--vault", emulator.vault_url, *extra], emulator=emulator, env=env
    )
    assert done.exit_code == 0, done.stderr
    return done.json


def test_logout_with_a_client_id_clears_only_that_identitys_tokens(fresh_emulator):
    emulator = fresh_emulator("--identity", "app")
    app = emulator.identity("app")["clientId"]
    assert _whoami(emulator)["name"] == "admin"
    assert _whoami(emulator, "--client-id", app)["name"] == "app"
    assert len(_entries()) == 2
    done = run_kvctl_subprocess(["logout", "--client-id", app], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert done.stderr == f"removed 1 cached token for --client-id {app} from {_cache_file()} (1 other kept)\n"
    assert len(_entries()) == 1
    # The admin's token is still served from the cache; the app's is asked for again.
    before = _tokens_issued(emulator)
    assert _whoami(emulator)["name"] == "admin"
    assert _tokens_issued(emulator) == before + 1  # only the control call's own token
    before = _tokens_issued(emulator)
    assert _whoami(emulator, "--client-id", app)["name"] == "app"
    assert _tokens_issued(emulator) == before + 2  # the control call's and the app's new one


def test_logout_with_a_client_id_that_matches_nothing_says_so_and_keeps_everything(fresh_emulator):
    emulator = fresh_emulator("--identity", "app")
    assert _whoami(emulator)["name"] == "admin"
    assert _whoami(emulator, "--client-id", emulator.identity("app")["clientId"])["name"] == "app"
    other = "00000000-0000-0000-0000-000000000042"
    done = run_kvctl_subprocess(["--client-id", other, "logout"], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert done.stderr == f"no cached token matched --client-id {other}; 2 cached tokens kept in {_cache_file()}\n"
    assert len(_entries()) == 2


def test_plain_logout_clears_every_identity_even_with_azure_client_id_set(fresh_emulator):
    """AZURE_CLIENT_ID (the environment of --client-id) is not a filter: a CI job's plain
    `kvctl logout` still clears every token."""
    emulator = fresh_emulator("--identity", "app")
    app = emulator.identity("app")["clientId"]
    assert _whoami(emulator)["name"] == "admin"
    assert _whoami(emulator, "--client-id", app)["name"] == "app"
    done = run_kvctl_subprocess(["logout"], emulator=emulator, env={"AZURE_CLIENT_ID": app})
    assert done.exit_code == 0, done.stderr
    assert done.stderr == f"removed 2 cached tokens from {_cache_file()}\n"
    assert not _cache_file().exists()


def test_logout_with_a_client_id_and_no_cache_file(fresh_emulator):
    emulator = fresh_emulator()
    done = run_kvctl_subprocess(["logout", "--client-id", "00000000-0000-0000-0000-000000000042"], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert done.stderr.startswith("no cached token matched --client-id 00000000-0000-0000-0000-000000000042; 0 ")


def test_logout_shows_a_client_id_with_a_control_character_escaped(fresh_emulator):
    emulator = fresh_emulator()
    done = run_kvctl_subprocess(["logout", "--client-id", "a\x1b[31mb"], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert "\x1b" not in done.stderr and "'a\\x1b[31mb'" in done.stderr, done.stderr
