"""The token cache trusts only files it could have written itself: a directory that was wider than
0700 (or a file that is not a private regular file, or a symlink) gets its tokens discarded, and a
symlink is never followed. A token the service still rejects after the one refresh is evicted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.conftest import kvctl_cache_dir, run_kvctl_subprocess

PLANTED = {"version": 1, "tokens": {"planted": {"token": "planted.token.x", "expires_on": int(time.time()) + 7200}}}


def _dir() -> Path:
    return kvctl_cache_dir()


def _seed(emulator: Any, name: str) -> None:
    done = run_kvctl_subprocess(
        ["set", name, "--value", "v", "-q"], emulator=emulator, env={"KVCTL_TOKEN_CACHE": "off"}
    )
    assert done.exit_code == 0, done.stderr


def _entries() -> dict[str, Any]:
    return dict(json.loads((_dir() / "tokens.json").read_text())["tokens"])


def test_tokens_planted_while_the_directory_was_open_are_discarded(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name)
    _dir().mkdir(parents=True)
    _dir().chmod(0o777)
    planted = _dir() / "tokens.json"
    planted.write_text(json.dumps(PLANTED))
    planted.chmod(0o600)
    done = run_kvctl_subprocess(["-v", "get", name], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert "planted" not in _entries(), "the planted entry was not kept"
    assert _entries(), "the command's own token is cached"
    assert "not private" in done.stderr and "Traceback" not in done.stderr
    assert (_dir().stat().st_mode & 0o777) == 0o700


def test_a_world_readable_cache_file_is_not_trusted(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name)
    _dir().mkdir(parents=True, mode=0o700)
    (_dir() / "tokens.json").write_text(json.dumps(PLANTED))
    (_dir() / "tokens.json").chmod(0o644)
    done = run_kvctl_subprocess(["-v", "get", name], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert "planted" not in _entries()
    assert (_dir() / "tokens.json").stat().st_mode & 0o777 == 0o600


def test_symlinked_lock_and_cache_files_are_not_followed(fresh_emulator, unique, tmp_path):
    emulator = fresh_emulator()
    name = unique()
    _seed(emulator, name)
    _dir().mkdir(parents=True, mode=0o700)
    lock_target = tmp_path / "lock-target"
    cache_target = tmp_path / "cache-target"
    cache_target.write_text(json.dumps(PLANTED))
    cache_target.chmod(0o600)
    (_dir() / "tokens.lock").symlink_to(lock_target)
    (_dir() / "tokens.json").symlink_to(cache_target)
    done = run_kvctl_subprocess(["-v", "get", name], emulator=emulator)
    assert done.exit_code == 0, done.stderr
    assert not lock_target.exists(), "the lock's symlink target was not created"
    assert json.loads(cache_target.read_text()) == PLANTED, "the symlink's target is untouched"
    assert not (_dir() / "tokens.lock").is_symlink() and not (_dir() / "tokens.json").is_symlink()
    assert "planted" not in _entries()
