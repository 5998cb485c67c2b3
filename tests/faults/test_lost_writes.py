"""Writes that are exact (issue 11, item 6), through real `kvctl` processes against an emulator that
fails requests before doing them and loses answers after doing them.

A *lost write* is an exit 0 that names a version this command did not create, or a version that
lacks an attribute that was sent: the user believes the vault holds something it does not. The
figure must be 0. Each test prints its figures (`pytest -s` shows them).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.conftest import EmulatorProcess, kvctl_in

pytestmark = pytest.mark.faults

TRIES = 30


def _versions(emulator: EmulatorProcess, name: str) -> list[dict[str, Any]]:
    for secret in emulator.state():
        if secret["name"] == name:
            return list(secret["versions"])
    return []


@pytest.mark.timeout(900)
def test_set_with_an_expiry_never_acknowledges_the_old_version(fresh_emulator, tmp_path):
    """`echo -n same | kvctl set renew-me --expires 30d`, again and again, under 10% faults and 5%
    lost answers: every exit 0 names a version made by that run, carrying the expiry sent."""
    emulator = fresh_emulator("--fault-rate", "0.1", "--drop-response-rate", "0.05", "--random-seed", "7")
    lost, acknowledged, failed = 0, 0, 0
    for _ in range(TRIES):
        before = {v["version"] for v in _versions(emulator, "renew-me")}
        sent = dt.datetime.now(dt.UTC)
        result = kvctl_in(emulator, tmp_path, "set", "renew-me", "--expires", "30d", "-o", "json", input=b"same")
        done = dt.datetime.now(dt.UTC)
        if result.exit_code != 0:
            failed += 1
            assert result.exit_code == 7, result.stderr  # unavailable after retries, said so
            assert "Traceback" not in result.stderr
            continue
        acknowledged += 1
        reported = json.loads(result.stdout)
        version = reported["id"].rsplit("/", 1)[1]
        stored = {v["version"]: v for v in _versions(emulator, "renew-me")}
        # kvctl reads "30d" from its own clock, somewhere between sending and returning (a loaded
        # machine may take seconds to start a process): the stored expiry must fall in that window.
        earliest = int((sent + dt.timedelta(days=30)).timestamp()) - 1
        latest = int((done + dt.timedelta(days=30)).timestamp()) + 1
        if version in before or version not in stored or not earliest <= stored[version]["exp"] <= latest:
            lost += 1
    counters = emulator.control("GET", "state")["counters"]
    print(
        f"\nset --expires: {TRIES} tries, {acknowledged} acknowledged, {failed} failed, lost writes: {lost}; {counters}"
    )
    assert lost == 0
    assert counters["faults"] + counters["resets"] + counters["drops"] > 0, "the faults did happen"


@pytest.mark.timeout(600)
def test_set_disabled_with_a_lost_answer_reports_success(fresh_emulator, tmp_path):
    """Every answer to a write is lost: the check finds the disabled version through metadata
    (its value cannot be read) and reports it, once; no duplicate is made."""
    emulator = fresh_emulator("--drop-response-rate", "1")
    for attempt in range(5):
        result = kvctl_in(
            emulator, tmp_path, "set", "dormant", "--disabled", "-o", "json", input=f"v{attempt}".encode()
        )
        assert result.exit_code == 0, result.stderr
        version = json.loads(result.stdout)["id"].rsplit("/", 1)[1]
        stored = _versions(emulator, "dormant")
        assert len(stored) == attempt + 1, "one version per run: the lost answer was not answered by a resend"
        assert stored[-1]["version"] == version and stored[-1]["enabled"] is False
        assert stored[-1]["value"] == f"v{attempt}"
    assert emulator.control("GET", "state")["counters"]["drops"] >= 5


@pytest.mark.timeout(600)
def test_a_503_is_retried_as_a_write_never_taken_for_done(fresh_emulator, tmp_path):
    """Under faults only (nothing done is ever lost), every exit 0 of a repeated identical set
    names a new version: a 503 means "not done", so it is never answered by a check."""
    emulator = fresh_emulator("--fault-rate", "0.3", "--random-seed", "3")
    lost = 0
    for _ in range(10):
        before = {v["version"] for v in _versions(emulator, "same-value")}
        result = kvctl_in(emulator, tmp_path, "set", "same-value", "-o", "json", input=b"same")
        if result.exit_code == 0:
            lost += json.loads(result.stdout)["id"].rsplit("/", 1)[1] in before
    print(f"\n503s: lost writes: {lost}")
    assert lost == 0


@pytest.mark.timeout(600)
def test_lifecycle_writes_with_every_answer_lost(fresh_emulator, tmp_path):
    """delete, recover, purge and restore whose answers are all lost still say exactly what happened
    (restore never says "already exists" about the secret it has just restored)."""
    emulator = fresh_emulator("--lifecycle-delay", "1")
    assert kvctl_in(emulator, tmp_path, "set", "cycled", "--tag", "k=v", input=b"one").exit_code == 0
    blob = tmp_path / "cycled.blob"
    assert kvctl_in(emulator, tmp_path, "backup", "cycled", "--file", str(blob)).exit_code == 0
    emulator.knobs(dropResponseRate=1)
    steps = [
        ("delete", "cycled", "--yes"),
        ("recover", "cycled"),
        ("delete", "cycled", "--yes"),
        ("purge", "cycled", "--yes"),
        ("restore", "--file", str(blob)),
    ]
    for step in steps:
        result = kvctl_in(emulator, tmp_path, *step)
        assert result.exit_code == 0, (step, result.stderr)
        assert "already exists" not in result.stderr
    state = _versions(emulator, "cycled")
    assert [v["value"] for v in state] == ["one"] and state[0]["tags"] == {"k": "v"}
    assert emulator.control("GET", "state")["counters"]["drops"] >= len(steps)
    emulator.knobs(dropResponseRate=0)
    assert kvctl_in(emulator, tmp_path, "get", "cycled").stdout == "one\n"
