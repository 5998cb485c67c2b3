"""`kvctl rotate` when the vault fails: emulators of their own, switched at run time."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import stat
import sys
from pathlib import Path

import pytest

from kvctl.core.rotation import ROTATION_TAG
from tests.conftest import CONTROL_RESOURCE, run_kvctl

# The apply command of these tests: it saves what it got on stdin, then (when asked to) switches
# the emulator to fail every request, so the vault write that follows it fails.
HOOK = """
import json, os, ssl, sys, urllib.request
value = sys.stdin.read()
with open(os.environ["HOOK_LOG"], "a") as log:
    log.write(json.dumps(value) + "\\n")
if os.environ.get("HOOK_BREAKS_VAULT"):
    request = urllib.request.Request(
        os.environ["EMU_ARM"] + "/_emulator/knobs",
        data=json.dumps({"faultRate": 1}).encode(),
        method="PUT",
        headers={"Authorization": "Bearer " + os.environ["EMU_TOKEN"], "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, context=ssl.create_default_context(cafile=os.environ["EMU_CA"]), timeout=10)
"""


def seeded(fresh_emulator, tmp_path: Path, secrets: dict, *args: str):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(secrets))
    return fresh_emulator("--seed", str(seed), *args)


def kv(emulator, tmp_path, *args, env=None):
    return run_kvctl(
        list(args),
        emulator=emulator,
        env={
            "KVCTL_RECOVERY_DIR": str(tmp_path / "recovery"),
            "KVCTL_RETRIES": "1",
            "KVCTL_ROTATION_SETTLE": "1",
            **(env or {}),
        },
    )


def versions(emulator, name):
    return next(s for s in emulator.state() if s["name"] == name)["versions"]


def test_vault_failure_after_the_hook_keeps_the_value_and_resume_stores_it_once(fresh_emulator, tmp_path):
    emulator = seeded(fresh_emulator, tmp_path, {"db": {"value": "old", "tags": {"team": "a"}, "expires": "30d"}})
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    log = tmp_path / "hook.log"
    env = {
        "HOOK_LOG": str(log),
        "HOOK_BREAKS_VAULT": "1",
        "EMU_ARM": emulator.info["armEndpoint"],
        "EMU_TOKEN": emulator.token(CONTROL_RESOURCE),
        "EMU_CA": emulator.info["caFile"],
    }
    apply = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    result = kv(emulator, tmp_path, "rotate", "db", "--apply-command", apply, "-o", "json", env=env)
    assert result.exit_code == 7, result.stderr
    [saved] = (tmp_path / "recovery").iterdir()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "recovery").stat().st_mode) == 0o700
    assert str(saved) in result.stderr and f"kvctl rotate --resume {saved}" in result.stderr
    assert result.json["status"] == "failed" and result.json["recoveryFile"] == str(saved)
    applied = json.loads(log.read_text())
    assert applied not in result.stderr and applied not in result.stdout
    emulator.knobs(faultRate=0)
    assert len(versions(emulator, "db")) == 1, "the vault did not get the new value"
    promised = json.loads(saved.read_text())["expires"]

    resumed = kv(emulator, tmp_path, "rotate", "--resume", str(saved), "-o", "json", env=env)
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json["status"] == "resumed" and not saved.exists()
    old, new = versions(emulator, "db")
    assert new["value"] == applied, "the vault has the value the target system got"
    assert new["tags"] == {"team": "a", ROTATION_TAG: resumed.json["rotationId"]}
    # The expiry fixed when the hook ran (the old version's period carried forward then) is the one
    # stored, however long the resume waited; no stopwatch needed.
    assert new["exp"] == int(dt.datetime.fromisoformat(promised).timestamp())
    assert old["exp"] - old["created"] - (new["exp"] - new["created"]) >= 0, "never longer than the old period"
    assert log.read_text().count("\n") == 1, "resume never runs the apply command again"


def test_resume_when_the_write_had_happened_writes_nothing(fresh_emulator, tmp_path):
    """The vault took the write but kvctl never heard back: resume finds it by its rotation id."""
    emulator = seeded(fresh_emulator, tmp_path, {"db": "old"})
    emulator.knobs(dropResponseRate=1)
    result = kv(emulator, tmp_path, "rotate", "db", env={"KVCTL_RETRIES": "0"})
    emulator.knobs(dropResponseRate=0)
    # With no retries the backend reports the lost answer; rotation looks for its id and finds it.
    assert result.exit_code == 0, result.stderr
    assert len(versions(emulator, "db")) == 2


@pytest.mark.parametrize("rate", ["1", "0.5"])
def test_lost_answers_never_make_two_versions(fresh_emulator, tmp_path, rate):
    names = [f"s{i}" for i in range(8)]
    emulator = seeded(
        fresh_emulator,
        tmp_path,
        {n: {"value": "old", "expires": "2d"} for n in names},
        "--drop-response-rate",
        rate,
        "--random-seed",
        "11",
    )
    result = kv(emulator, tmp_path, "rotate", "--due-within", "7d", "--expires-in", "30d", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert sorted(r["name"] for r in result.json) == names
    for name in names:
        _, new = versions(emulator, name)  # exactly one new version each
        assert new["tags"][ROTATION_TAG] == next(r["rotationId"] for r in result.json if r["name"] == name)
    single = kv(emulator, tmp_path, "rotate", "s0", "-o", "json")
    assert single.exit_code == 0 and len(versions(emulator, "s0")) == 3
    assert emulator.control("GET", "state")["counters"]["drops"] >= (9 if rate == "1" else 1)
    assert not list((tmp_path / "recovery").iterdir())


@pytest.mark.slow
def test_bulk_rotation_stays_under_the_write_limit(fresh_emulator, tmp_path):
    """310 due secrets against the service's 300 writes / 10 s: nothing is throttled, none fails."""
    names = [f"n{i:03d}" for i in range(310)]
    emulator = seeded(fresh_emulator, tmp_path, {n: {"value": "old", "expires": "1d"} for n in names}, "--throttle")
    result = kv(
        emulator,
        tmp_path,
        "rotate",
        "--due-within",
        "7d",
        "--expires-in",
        "30d",
        "-o",
        "json",
        # 32 rotations at once on a shared machine: a lease takes longer to write than alone.
        env={"KVCTL_RETRIES": "0", "KVCTL_CONCURRENCY": "32", "KVCTL_ROTATION_SETTLE": "4"},
    )
    assert result.exit_code == 0, result.stderr[-2000:]
    assert len(result.json) == 310 and all(r["status"] == "rotated" for r in result.json)
    assert emulator.control("GET", "state")["counters"]["throttled"] == 0
