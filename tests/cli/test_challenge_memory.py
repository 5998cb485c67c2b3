"""The vault's authentication challenge, remembered beside the token cache: a cached-token `get` is
one request instead of two, and a remembered challenge never leads anywhere its token would not.
Real `kvctl` processes against an emulator; what crossed the wire is read from `-vv`."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from tests.conftest import EmulatorProcess, kvctl_cache_dir, run_kvctl_subprocess


def _challenges() -> Path:
    return kvctl_cache_dir() / "challenges.json"


def _get(emulator: EmulatorProcess, name: str) -> tuple[Any, list[str]]:
    """`kvctl -vv get NAME`, and the statuses of its requests to the vault, in order."""
    done = run_kvctl_subprocess(["-vv", "get", name], emulator=emulator)
    statuses = [line.split('HTTP/1.1" ')[1].split()[0] for line in done.stderr.splitlines() if "/secrets/" in line]
    return done, statuses


def _seeded(emulator: EmulatorProcess, unique: Any, value: str = "v") -> str:
    name = unique()
    done = run_kvctl_subprocess(["set", name, "--value", value, "-q"], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    return name


def _issued(emulator: EmulatorProcess) -> int:
    return int(emulator.control("GET", "state")["counters"]["tokens"])


def test_a_cached_token_get_is_one_request(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = _seeded(emulator, unique, "one")  # learns the challenge and caches the token
    done, statuses = _get(emulator, name)
    assert (done.exit_code, done.stdout) == (0, "one\n"), done.stderr
    assert statuses == ["200"], done.stderr
    assert stat.S_IMODE(_challenges().stat().st_mode) == 0o600


def test_without_the_remembered_challenge_the_sdk_asks_as_before(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = _seeded(emulator, unique)
    _challenges().unlink()
    done, statuses = _get(emulator, name)
    assert done.exit_code == 0 and statuses == ["401", "200"], done.stderr
    assert _challenges().exists(), "the challenge is remembered again"


def test_a_remembered_challenge_without_a_cached_token_is_not_used(fresh_emulator, unique):
    """With the token gone (expired) no credential is asked for a token because of a remembered
    challenge: the service is asked for its challenge first, as without the memory."""
    emulator = fresh_emulator()
    name = _seeded(emulator, unique)
    (_challenges().parent / "tokens.json").unlink()
    assert _challenges().exists()
    done, statuses = _get(emulator, name)
    assert done.exit_code == 0 and statuses == ["401", "200"], done.stderr


def test_a_planted_challenge_for_another_resource_and_tenant_is_never_followed(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = _seeded(emulator, unique, "real")
    data = json.loads(_challenges().read_text())
    (key,) = data["tokens"]
    planted = (
        'Bearer authorization="https://login.windows.net/11111111-2222-3333-4444-555555555555", '
        'resource="https://attacker.example"'
    )
    data["tokens"][key]["token"] = planted
    _challenges().write_text(json.dumps(data))
    before = _issued(emulator)
    done, statuses = _get(emulator, name)
    assert (done.exit_code, done.stdout) == (0, "real\n"), done.stderr
    assert statuses == ["401", "200"], "the planted challenge was not used: the service was asked"
    assert _issued(emulator) - before == 1  # the control call's own token only: none for the planted scope
    assert planted not in _challenges().read_text(), "the vault's real challenge replaced it"


def test_a_challenge_file_others_could_write_is_discarded_with_the_tokens(fresh_emulator, unique):
    """A file beside the tokens that is not private says the directory was tampered with: neither
    the challenge nor the tokens are trusted, whichever store notices first."""
    emulator = fresh_emulator()
    name = _seeded(emulator, unique)
    os.chmod(_challenges(), 0o644)
    before = _issued(emulator)
    done, statuses = _get(emulator, name)
    assert done.exit_code == 0 and statuses == ["401", "200"], done.stderr
    assert _issued(emulator) - before == 2, "a fresh token was fetched (and the control call took one)"
    assert stat.S_IMODE(_challenges().stat().st_mode) == 0o600  # written afresh


def test_a_revoked_cached_token_with_a_remembered_challenge_is_replaced(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = _seeded(emulator, unique, "value")
    tokens_file = kvctl_cache_dir() / "tokens.json"
    data = json.loads(tokens_file.read_text())
    for entry in data["tokens"].values():
        header, payload, _signature = entry["token"].split(".")
        entry["token"] = f"{header}.{payload}.{'A' * 43}"  # a signature the emulator rejects
    tokens_file.write_text(json.dumps(data))
    done, statuses = _get(emulator, name)
    assert (done.exit_code, done.stdout) == (0, "value\n"), done.stderr
    assert statuses[0] == "401" and statuses[-1] == "200", done.stderr


def test_logout_forgets_the_challenges_with_the_tokens(fresh_emulator, unique):
    emulator = fresh_emulator()
    _seeded(emulator, unique)
    assert _challenges().exists()
    assert run_kvctl_subprocess(["logout"], emulator=emulator).exit_code == 0
    assert not _challenges().exists()


def test_the_token_cache_off_remembers_nothing(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    env = {"KVCTL_TOKEN_CACHE": "off"}
    assert run_kvctl_subprocess(["set", name, "--value", "v", "-q"], emulator=emulator, env=env).exit_code == 0
    assert run_kvctl_subprocess(["get", name], emulator=emulator, env=env).exit_code == 0
    assert not _challenges().exists()
