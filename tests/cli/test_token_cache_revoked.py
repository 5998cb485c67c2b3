"""A cached token the service refuses, end to end and deterministic: the emulator revokes every
token it has issued (`POST /_emulator/revoke`, no clock involved), with a plain 401 or with a CAE
claims challenge (WWW-Authenticate error="insufficient_claims", claims=...). kvctl evicts the
cached token, fetches exactly one fresh token and succeeds; when the fresh token is refused too
(`alsoNext`), it stops with exit 4 and one line instead of asking again."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EmulatorProcess, kvctl_cache_dir, run_kvctl_subprocess


def _cache_file() -> Path:
    return kvctl_cache_dir() / "tokens.json"


def _cached_tokens() -> set[str]:
    return {entry["token"] for entry in json.loads(_cache_file().read_text())["tokens"].values()}


def _issued(emulator: EmulatorProcess) -> int:
    """Tokens issued so far to anyone but the control calls (each takes an admin token of its own)."""
    calls = _CONTROL_TOKENS.get(id(emulator), 0) + 1
    _CONTROL_TOKENS[id(emulator)] = calls
    return int(emulator.control("GET", "state")["counters"]["tokens"]) - calls


def _revoke(emulator: EmulatorProcess, **body: Any) -> Any:
    _CONTROL_TOKENS[id(emulator)] = _CONTROL_TOKENS.get(id(emulator), 0) + 1
    return emulator.control("POST", "revoke", body)


_CONTROL_TOKENS: dict[int, int] = {}


def _seeded(emulator: EmulatorProcess, name: str) -> None:
    done = run_kvctl_subprocess(["set", name, "--value", "kept", "-q"], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert len(_cached_tokens()) == 1  # the vault token of that process, now cached


def _vault_answer(emulator: EmulatorProcess, token: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{emulator.vault_url}/secrets?api-version=7.5", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=emulator.ssl_context()) as response:
            return response.status, ""
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("WWW-Authenticate", "")


@pytest.mark.parametrize("claims_challenge", [False, True], ids=["plain-401", "cae-claims"])
def test_the_emulator_refuses_a_revoked_token_as_asked(fresh_emulator, claims_challenge):
    """The knob itself: a revoked token gets 401, with a decodable CAE claims challenge when asked."""
    emulator = fresh_emulator()
    token = emulator.token("https://vault.azure.net")
    assert _vault_answer(emulator, token)[0] == 200
    answer = emulator.control("POST", "revoke", {"claimsChallenge": claims_challenge})
    assert answer["revoked"] >= 1
    status, challenge = _vault_answer(emulator, token)
    assert status == 401
    assert ('error="insufficient_claims"' in challenge) is claims_challenge
    if claims_challenge:
        encoded = challenge.split('claims="', 1)[1].split('"', 1)[0]
        claims = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        assert claims["access_token"]["nbf"]["essential"] is True
    assert _vault_answer(emulator, emulator.token("https://vault.azure.net"))[0] == 200  # a new one works


@pytest.mark.parametrize("claims_challenge", [False, True], ids=["plain-401", "cae-claims"])
def test_a_revoked_cached_token_is_evicted_and_one_fresh_token_serves(fresh_emulator, unique, claims_challenge):
    emulator = fresh_emulator()
    name = unique()
    _seeded(emulator, name)
    (revoked,) = _cached_tokens()
    _revoke(emulator, claimsChallenge=claims_challenge)
    before = _issued(emulator)
    done = run_kvctl_subprocess(["get", name], emulator=emulator)
    assert (done.exit_code, done.stdout, done.stderr) == (0, "kept\n", ""), done.stderr
    assert _issued(emulator) - before == 1, "exactly one fresh token"
    fresh = _cached_tokens()
    assert revoked not in fresh and len(fresh) == 1
    # The next process uses the fresh token from the cache: no token request at all.
    before = _issued(emulator)
    again = run_kvctl_subprocess(["get", name], emulator=emulator)
    assert (again.exit_code, again.stdout) == (0, "kept\n"), again.stderr
    assert _issued(emulator) == before


@pytest.mark.parametrize("claims_challenge", [False, True], ids=["plain-401", "cae-claims"])
def test_a_fresh_token_refused_too_is_exit_4_and_one_line_not_a_loop(fresh_emulator, unique, claims_challenge):
    emulator = fresh_emulator()
    name = unique()
    _seeded(emulator, name)
    _revoke(emulator, claimsChallenge=claims_challenge, alsoNext=1000)
    before = _issued(emulator)
    done = run_kvctl_subprocess(["get", name], emulator=emulator)
    lines = done.stderr.splitlines()
    assert done.exit_code == 4, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert lines[0].startswith("kvctl: error: ") and "rejected the token" in lines[0], lines
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), lines
    assert _issued(emulator) - before == 1, "one fresh token, not one per retry"
    # Neither the revoked token nor the refused fresh one is kept to fail the next process.
    assert not _cache_file().exists() or not _cached_tokens()


def test_the_revoke_control_refuses_what_it_does_not_know(fresh_emulator):
    emulator = fresh_emulator()
    for body in ({"claimsChallenge": "yes"}, {"alsoNext": -1}, {"alsoNext": True}, {"forever": True}, [1]):
        with pytest.raises(urllib.error.HTTPError) as err:
            emulator.control("POST", "revoke", body)
        assert err.value.code == 400
