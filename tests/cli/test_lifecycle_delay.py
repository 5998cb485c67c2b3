"""kvctl against `kvctl emulator --lifecycle-delay 3` (issue 13, item 6): every lifecycle command
waits until its effect is visible, so the next command works at once. Real kvctl processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _ISOLATED_ENV, EmulatorProcess

pytestmark = pytest.mark.timeout(300)  # several processes, each waiting out the delay, on a shared machine


@pytest.fixture
def slow_vault(fresh_emulator) -> EmulatorProcess:
    return fresh_emulator("--lifecycle-delay", "3")


def _kv(emulator: EmulatorProcess, cwd: Path, *args: str, input: bytes = b"") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env.update(emulator.env)
    env["KVCTL_NO_PROGRESS"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "kvctl", *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        timeout=280,
        check=False,
    )
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())


def test_delete_then_purge_then_set_at_once(slow_vault, tmp_path):
    assert _kv(slow_vault, tmp_path, "set", "gone", input=b"one").returncode == 0
    deleted = _kv(slow_vault, tmp_path, "delete", "gone", "--yes")
    assert deleted.returncode == 0 and "deleted 'gone'" in deleted.stderr, deleted.stderr
    listed = _kv(slow_vault, tmp_path, "list", "--deleted", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["gone"]
    purged = _kv(slow_vault, tmp_path, "purge", "gone", "--yes")
    assert purged.returncode == 0, purged.stderr
    again = _kv(slow_vault, tmp_path, "set", "gone", input=b"two")  # the purge is still running: 409, retried
    assert again.returncode == 0, again.stderr
    assert _kv(slow_vault, tmp_path, "get", "gone").stdout == "two\n"


def test_recover_returns_when_the_secret_can_be_read(slow_vault, tmp_path):
    assert _kv(slow_vault, tmp_path, "set", "back", "--tag", "t=1", input=b"val").returncode == 0
    assert _kv(slow_vault, tmp_path, "delete", "back", "--yes").returncode == 0
    recovered = _kv(slow_vault, tmp_path, "recover", "back", "-o", "json")
    assert recovered.returncode == 0, recovered.stderr
    assert '"t": "1"' in recovered.stdout
    assert _kv(slow_vault, tmp_path, "get", "back").stdout == "val\n"


def test_recover_of_a_disabled_secret_returns_when_it_is_visible(slow_vault, tmp_path):
    assert _kv(slow_vault, tmp_path, "set", "sleepy", "--disabled", input=b"zz").returncode == 0
    assert _kv(slow_vault, tmp_path, "delete", "sleepy", "--yes").returncode == 0
    recovered = _kv(slow_vault, tmp_path, "recover", "sleepy")
    assert recovered.returncode == 0, recovered.stderr
    assert _kv(slow_vault, tmp_path, "update", "sleepy", "--enable").returncode == 0
    assert _kv(slow_vault, tmp_path, "get", "sleepy").stdout == "zz\n"


def test_backup_delete_purge_restore_get(slow_vault, tmp_path):
    assert _kv(slow_vault, tmp_path, "set", "kept", "--content-type", "text/plain", input=b"body").returncode == 0
    blob = tmp_path / "kept.blob"
    assert _kv(slow_vault, tmp_path, "backup", "kept", "--file", str(blob)).returncode == 0
    assert _kv(slow_vault, tmp_path, "delete", "kept", "--yes").returncode == 0
    assert _kv(slow_vault, tmp_path, "purge", "kept", "--yes").returncode == 0
    restored = _kv(slow_vault, tmp_path, "restore", "--file", str(blob), "-o", "json")
    assert restored.returncode == 0, restored.stderr
    assert "restored 'kept'" in restored.stderr and '"contentType": "text/plain"' in restored.stdout
    assert _kv(slow_vault, tmp_path, "get", "kept").stdout == "body\n"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_demo_works_with_the_delay(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
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


def test_ctrl_c_while_waiting_says_the_service_goes_on(fresh_emulator, tmp_path):
    """Ctrl-C after the service accepted a delete must not claim "aborted": the delete happens."""
    import signal
    import time

    vault = fresh_emulator("--lifecycle-delay", "6")
    assert _kv(vault, tmp_path, "set", "going", input=b"v").returncode == 0
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
    listed = _kv(vault, tmp_path, "list", "--deleted", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["going"]
