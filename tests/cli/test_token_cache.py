"""The token cache across invocations, end to end: real `kvctl` processes against an emulator that
counts every token it issues (`counters.tokens` in /_emulator/state)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import EmulatorProcess, kvctl_cache_dir, run_kvctl_subprocess

_CONTROL_CALLS: dict[int, int] = {}


def _issued(emulator: EmulatorProcess) -> int:
    """Tokens the emulator has issued so far to anyone but these counting calls (each of which
    takes one admin token for the control API)."""
    calls = _CONTROL_CALLS[id(emulator)] = _CONTROL_CALLS.get(id(emulator), 0) + 1
    return int(emulator.control("GET", "state")["counters"]["tokens"]) - calls


def _cache_file() -> Path:
    return kvctl_cache_dir() / "tokens.json"


def _entries() -> dict[str, Any]:
    return dict(json.loads(_cache_file().read_text())["tokens"])


def _seed(emulator: EmulatorProcess, name: str, value: str = "v") -> None:
    done = run_kvctl_subprocess(
        ["set", name, "--value", value, "-q"], emulator=emulator, env={"KVCTL_TOKEN_CACHE": "off"}
    )
    assert done.exit_code == 0, done.stderr


def _get(emulator: EmulatorProcess, name: str, env: dict[str, str | None] | None = None) -> Any:
    return run_kvctl_subprocess(["get", name], emulator=emulator, env=env)


def test_a_second_process_uses_the_cached_token(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name, "one")
    before = _issued(emulator)
    first = _get(emulator, name)
    assert (first.exit_code, first.stdout) == (0, "one\n"), first.stderr
    after_first = _issued(emulator)
    assert after_first - before == 1
    second = _get(emulator, name)
    assert (second.exit_code, second.stdout) == (0, "one\n"), second.stderr
    assert _issued(emulator) == after_first, "the second process asked for a token again"


def test_the_cache_file_is_private_and_holds_no_secret(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name, "do-not-store-me")
    assert _get(emulator, name).exit_code == 0
    path = _cache_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "do-not-store-me" not in text and emulator.info["identityHeader"] not in text
    # Only access tokens: nothing that looks like a refresh token or a secret.
    # (labels: hashes of the cloud, tenant, credential kind and client id, for `logout --client-id`).
    for entry in _entries().values():
        assert set(entry) <= {"token", "expires_on", "labels"}
        assert all(len(label) == 64 and int(label, 16) >= 0 for label in entry.get("labels", []))
        assert emulator.identity("admin")["clientId"] not in text


def test_a_group_readable_cache_directory_is_tightened(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name)
    directory = _cache_file().parent
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    assert _get(emulator, name).exit_code == 0
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_off_asks_every_time_and_writes_nothing(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name)
    before = _issued(emulator)
    for _ in range(2):
        assert _get(emulator, name, env={"KVCTL_TOKEN_CACHE": "off"}).exit_code == 0
    assert _issued(emulator) - before == 2
    assert not _cache_file().exists()


def test_a_token_within_five_minutes_of_expiry_is_not_used(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name)
    assert _get(emulator, name).exit_code == 0
    entries = _entries()
    (key,) = [k for k, e in entries.items() if e["token"]]  # the vault token
    old = entries[key]["token"]

    def rewrite(expires_on: int) -> None:
        _cache_file().write_text(json.dumps({"version": 1, "tokens": {key: {"token": old, "expires_on": expires_on}}}))

    rewrite(int(time.time()) + 400)  # more than 5 minutes left: still used
    before = _issued(emulator)
    assert _get(emulator, name).exit_code == 0
    assert _issued(emulator) == before
    rewrite(int(time.time()) + 240)  # less than 5 minutes left: a new one is fetched and stored
    assert _get(emulator, name).exit_code == 0
    assert _issued(emulator) - before == 1
    assert _entries()[key]["token"] != old


def test_a_rejected_cached_token_is_evicted_and_replaced_once(fresh_emulator, unique):
    """A revoked token (here: one whose signature the emulator no longer accepts) gets a 401; kvctl
    drops it, gets one fresh token and the command succeeds."""
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name, "value")
    assert _get(emulator, name).exit_code == 0
    entries = _entries()
    (key,) = list(entries)
    header, payload, _signature = entries[key]["token"].split(".")
    revoked = f"{header}.{payload}.{'A' * 43}"
    entries[key]["token"] = revoked
    _cache_file().write_text(json.dumps({"version": 1, "tokens": entries}))
    before = _issued(emulator)
    done = _get(emulator, name)
    assert (done.exit_code, done.stdout) == (0, "value\n"), done.stderr
    assert _issued(emulator) - before == 1
    assert _entries()[key]["token"] not in (revoked, "")


def test_logout_clears_the_cache(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name)
    assert _get(emulator, name).exit_code == 0
    assert _entries()
    done = run_kvctl_subprocess(["logout"], emulator=emulator)
    assert done.exit_code == 0 and "removed 1 cached token" in done.stderr, done.stderr
    assert not _cache_file().exists()
    before = _issued(emulator)
    assert _get(emulator, name).exit_code == 0
    assert _issued(emulator) - before == 1
    again = run_kvctl_subprocess(["logout"], emulator=emulator)
    assert again.exit_code == 0


def test_identities_get_their_own_tokens(fresh_emulator, unique):
    """--client-id is part of the key: the app's token is never handed to the admin, or back."""
    emulator = fresh_emulator("--identity", "app")
    name = unique()
    _seed(emulator, name)
    app = emulator.identity("app")["clientId"]
    who = run_kvctl_subprocess(["whoami", "-o", "json", "--vault", emulator.vault_url], emulator=emulator)
    assert who.json["name"] == "admin"
    who_app = run_kvctl_subprocess(
        ["whoami", "-o", "json", "--vault", emulator.vault_url, "--client-id", app], emulator=emulator
    )
    assert who_app.json["name"] == "app"
    again = run_kvctl_subprocess(["whoami", "-o", "json", "--vault", emulator.vault_url], emulator=emulator)
    assert again.json["name"] == "admin"
    assert len(_entries()) == 2


def test_token_latency_is_paid_once(fresh_emulator, unique):
    """With a slow token endpoint the second process does not wait for it: counted, not timed."""
    emulator = fresh_emulator("--token-latency", "1000")
    name = unique()
    _seed(emulator, name)
    before = _issued(emulator)
    for _ in range(3):
        assert _get(emulator, name).exit_code == 0
    assert _issued(emulator) - before == 1


def test_two_processes_at_once_keep_both_entries(fresh_emulator, unique):
    """Concurrent writers: each process adds its own identity's token; neither overwrites the other."""
    emulator = fresh_emulator("--identity", "a", "--identity", "b", "--identity", "c")
    env = {**os.environ, **emulator.env, "KVCTL_NO_PROGRESS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kvctl", "whoami", "-o", "json", "--vault", emulator.vault_url, "--client-id", cid],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for cid in [emulator.identity(n)["clientId"] for n in ("a", "b", "c")]
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert len(_entries()) == 3


def test_grant_wait_under_rbac_propagation_then_a_get_needs_no_new_token(fresh_emulator, unique):
    """`access grant --wait` outlasts --rbac-propagation-delay (it checks the data plane with the
    caller's own Key Vault token); the next process reuses that token and asks for none."""
    emulator = fresh_emulator("--rbac-propagation-delay", "3")
    name = unique()
    _seed(emulator, name, "granted")
    grant = run_kvctl_subprocess(
        ["access", "grant", "--assignee", "admin", "--role", "Key Vault Reader", "--wait", "60s", "-o", "json"],
        emulator=emulator,
    )
    assert grant.exit_code == 0, grant.stderr
    assert grant.json["propagation"] == "effective"
    before = _issued(emulator)
    done = _get(emulator, name)
    assert (done.exit_code, done.stdout) == (0, "granted\n"), done.stderr
    assert _issued(emulator) == before


def test_an_unusable_cache_location_never_fails_a_command(fresh_emulator, unique, tmp_path):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name, "still-works")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    done = _get(emulator, name, env={"XDG_CACHE_HOME": str(blocker)})
    assert (done.exit_code, done.stdout, done.stderr) == (0, "still-works\n", "")


def test_rejected_cached_arm_and_graph_tokens_are_replaced_too(fresh_emulator):
    emulator = fresh_emulator()
    first = run_kvctl_subprocess(["access", "list", "-o", "json"], emulator=emulator)
    assert first.exit_code == 0, first.stderr
    entries = _entries()
    assert entries
    for entry in entries.values():  # every cached token now fails its signature check
        header, payload, _ = entry["token"].split(".")
        entry["token"] = f"{header}.{payload}.{'B' * 43}"
    _cache_file().write_text(json.dumps({"version": 1, "tokens": entries}))
    again = run_kvctl_subprocess(["access", "list", "-o", "json"], emulator=emulator)
    assert again.exit_code == 0, again.stderr
    assert again.json == first.json
    assert all(not e["token"].endswith("B" * 43) for e in _entries().values())
