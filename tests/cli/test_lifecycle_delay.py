"""kvctl against `kvctl emulator --lifecycle-delay 3` (issue 13, item 6): every lifecycle command
waits until its effect is visible, so the next command works at once. Real kvctl processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import _ISOLATED_ENV, EmulatorProcess, kvctl_in

pytestmark = pytest.mark.timeout(300)  # several processes, each waiting out the delay, on a shared machine


@pytest.fixture
def slow_vault(fresh_emulator) -> EmulatorProcess:
    return fresh_emulator("--lifecycle-delay", "3")


def test_delete_then_purge_then_set_at_once(slow_vault, tmp_path):
    assert kvctl_in(slow_vault, tmp_path, "set", "gone", input=b"one").exit_code == 0
    deleted = kvctl_in(slow_vault, tmp_path, "delete", "gone", "--yes")
    assert deleted.exit_code == 0 and "deleted 'gone'" in deleted.stderr, deleted.stderr
    listed = kvctl_in(slow_vault, tmp_path, "list", "--deleted", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["gone"]
    purged = kvctl_in(slow_vault, tmp_path, "purge", "gone", "--yes")
    assert purged.exit_code == 0, purged.stderr
    again = kvctl_in(slow_vault, tmp_path, "set", "gone", input=b"two")  # the purge is still running: 409, retried
    assert again.exit_code == 0, again.stderr
    assert kvctl_in(slow_vault, tmp_path, "get", "gone").stdout == "two\n"


def test_recover_returns_when_the_secret_can_be_read(slow_vault, tmp_path):
    assert kvctl_in(slow_vault, tmp_path, "set", "back", "--tag", "t=1", input=b"val").exit_code == 0
    assert kvctl_in(slow_vault, tmp_path, "delete", "back", "--yes").exit_code == 0
    recovered = kvctl_in(slow_vault, tmp_path, "recover", "back", "-o", "json")
    assert recovered.exit_code == 0, recovered.stderr
    assert '"t": "1"' in recovered.stdout
    assert kvctl_in(slow_vault, tmp_path, "get", "back").stdout == "val\n"


def test_recover_of_a_disabled_secret_returns_when_it_is_visible(slow_vault, tmp_path):
    assert kvctl_in(slow_vault, tmp_path, "set", "sleepy", "--disabled", input=b"zz").exit_code == 0
    assert kvctl_in(slow_vault, tmp_path, "delete", "sleepy", "--yes").exit_code == 0
    recovered = kvctl_in(slow_vault, tmp_path, "recover", "sleepy")
    assert recovered.exit_code == 0, recovered.stderr
    assert kvctl_in(slow_vault, tmp_path, "update", "sleepy", "--enable").exit_code == 0
    assert kvctl_in(slow_vault, tmp_path, "get", "sleepy").stdout == "zz\n"


def test_backup_delete_purge_restore_get(slow_vault, tmp_path):
    assert kvctl_in(slow_vault, tmp_path, "set", "kept", "--content-type", "text/plain", input=b"body").exit_code == 0
    blob = tmp_path / "kept.blob"
    assert kvctl_in(slow_vault, tmp_path, "backup", "kept", "--file", str(blob)).exit_code == 0
    assert kvctl_in(slow_vault, tmp_path, "delete", "kept", "--yes").exit_code == 0
    assert kvctl_in(slow_vault, tmp_path, "purge", "kept", "--yes").exit_code == 0
    restored = kvctl_in(slow_vault, tmp_path, "restore", "--file", str(blob), "-o", "json")
    assert restored.exit_code == 0, restored.stderr
    assert "restored 'kept'" in restored.stderr and '"contentType": "text/plain"' in restored.stdout
    assert kvctl_in(slow_vault, tmp_path, "get", "kept").stdout == "body\n"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_demo_works_with_the_delay(tmp_path):
    """...and leaves nothing in the user's cache or state directories (its tokens are a throwaway
    emulator's; a new user found them in ~/.cache/kvctl)."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")
    env["XDG_STATE_HOME"] = str(tmp_path / "user-state")
    result = subprocess.run(
        [sys.executable, "-m", "kvctl", "demo", "--lifecycle-delay", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=590,
        check=False,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "recoverable until" in result.stdout and "kvctl: error" not in result.stdout
    assert not (tmp_path / "user-cache").exists() and not (tmp_path / "user-state").exists()


def test_ctrl_c_while_waiting_says_the_service_goes_on(fresh_emulator, tmp_path):
    """Ctrl-C after the service accepted a delete must not claim "aborted": the delete happens."""
    import signal
    import time

    vault = fresh_emulator("--lifecycle-delay", "6")
    assert kvctl_in(vault, tmp_path, "set", "going", input=b"v").exit_code == 0
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env.update(vault.env)
    env["KVCTL_NO_PROGRESS"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "kvctl", "-v", "delete", "going", "--yes"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Wait until the delete has been accepted (the deleted list shows nothing yet, the live secret is gone).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(s["name"] == "going" and not s["deleted"] for s in vault.state()):
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    stderr = err.decode()
    assert process.returncode == 130, stderr
    assert "aborted" not in stderr and "already accepted" in stderr, stderr
    time.sleep(6)
    listed = kvctl_in(vault, tmp_path, "list", "--deleted", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["going"]
