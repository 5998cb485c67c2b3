"""Recovery files: where `kvctl rotate` keeps a new value until the vault has it.

A rotation saves the new value here before anything else sees it (the apply command, the vault)
and removes the file only once the vault has confirmed the new version. If the vault write fails,
the file stays and `kvctl rotate --resume FILE` finishes the job. Files are 0600 in a 0700
directory: they hold a secret value.

The file also records the apply command and how far it got (`applyState`): `none` (no apply
command), `not-started`, `running`, `finished`, `unknown` (stopped part-way or timed out). So
`--resume` knows whether the target may still lack the value and must be given it again.
Whoever works on a file holds an exclusive lock (a `.NAME.lock` file beside it, there only while held).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConflictError, UsageError
from .files import read_input_file, write_private
from .models import iso
from .redaction import register

FORMAT = "kvctl-rotation-recovery"
FORMAT_VERSION = 1
DIR_MODE = 0o700
APPLY_STATES = ("none", "not-started", "running", "finished", "unknown")


@dataclass(frozen=True)
class RecoveryRecord:
    vault_url: str
    name: str
    value: str
    rotation_id: str
    content_type: str | None
    tags: dict[str, str]
    expires: dt.datetime | None
    old_version: str | None
    created: dt.datetime
    apply_command: str | None = None
    apply_state: str = "none"
    hook_timeout: float | None = None

    def with_state(self, state: str) -> RecoveryRecord:
        return replace(self, apply_state=state)

    @property
    def target_may_lack_value(self) -> bool:
        """True when the apply command must run (again) before the vault may take the value."""
        return self.apply_command is not None and self.apply_state != "finished"

    def __repr__(self) -> str:  # the value must never reach a log line or traceback
        return f"RecoveryRecord(vault_url={self.vault_url!r}, name={self.name!r}, rotation_id={self.rotation_id!r})"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "vaultUrl": self.vault_url,
            "name": self.name,
            "value": self.value,
            "rotationId": self.rotation_id,
            "contentType": self.content_type,
            "tags": self.tags,
            "expires": iso(self.expires),
            "oldVersion": self.old_version,
            "created": iso(self.created),
            "applyCommand": self.apply_command,
            "applyState": self.apply_state,
            "hookTimeout": self.hook_timeout,
        }


def default_dir(env: Mapping[str, str], home: Path) -> Path:
    """`${XDG_STATE_HOME:-~/.local/state}/kvctl/recovery` (KVCTL_RECOVERY_DIR is handled by the CLI)."""
    state = env.get("XDG_STATE_HOME") or ""
    base = Path(state) if os.path.isabs(state) else home / ".local" / "state"
    return base / "kvctl" / "recovery"


def prepare_dir(directory: Path) -> Path:
    """Create the directory 0700 (or tighten it to 0700); refuse one that belongs to someone else."""
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as exc:
        raise UsageError(
            f"cannot create the recovery directory {directory}: {exc.strerror}",
            hint="choose another with --recovery-dir DIR or KVCTL_RECOVERY_DIR",
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"the recovery directory {directory} is not a directory")
    if info.st_uid != os.getuid():
        raise UsageError(
            f"the recovery directory {directory} belongs to another user",
            hint="choose your own with --recovery-dir DIR or KVCTL_RECOVERY_DIR",
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, DIR_MODE)
    return directory


def path_for(directory: Path, record: RecoveryRecord) -> Path:
    host = (urlsplit(record.vault_url).netloc or "vault").replace(":", "-")
    stamp = record.created.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"{host}_{record.name}_{stamp}_{record.rotation_id[:8]}.json"


def save(directory: Path, record: RecoveryRecord) -> Path:
    path = path_for(directory, record)
    write(path, record)
    return path


def write(path: Path, record: RecoveryRecord) -> None:
    """Replace the file atomically: a crash leaves the old or the new record, never half of one."""
    write_private(path, json.dumps(record.to_json(), indent=2) + "\n")


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the file's exclusive lock, or refuse at once (exit 6) when another kvctl holds it.
    The lock file exists only while it is held (a crashed holder may leave it; the lock is
    released by the kernel all the same)."""
    lock = _lock_path(path)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot lock {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConflictError(
                f"another kvctl is working on {path} right now",
                hint="let it finish; then check the secret with kvctl versions NAME",
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder before us removed this lock file as we opened it: take the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)


def remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # a leftover recovery file is harmless; `--resume` on it finds the version and removes it


def load(path: str | os.PathLike[str]) -> RecoveryRecord:
    raw = read_input_file(path, "recovery file")
    where = os.fspath(path)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{where} is not a kvctl recovery file")
    if data.get("formatVersion") != FORMAT_VERSION:
        found = data.get("formatVersion")
        raise UsageError(f"{where} has recovery format {found!r}; this kvctl reads {FORMAT_VERSION}")
    try:
        record = RecoveryRecord(
            vault_url=_text(data, "vaultUrl"),
            name=_text(data, "name"),
            value=_text(data, "value"),
            rotation_id=_text(data, "rotationId"),
            content_type=_optional_text(data, "contentType"),
            tags=_tags(data.get("tags")),
            expires=_instant(data.get("expires")),
            old_version=_optional_text(data, "oldVersion"),
            created=_instant(data.get("created")) or dt.datetime.now(dt.UTC),
            apply_command=_optional_text(data, "applyCommand"),
            # Files from before apply states were recorded: whether the command finished is unknown.
            apply_state=_state(data.get("applyState", "unknown" if data.get("applyCommand") else "none")),
            hook_timeout=_optional_number(data, "hookTimeout"),
        )
    except (TypeError, ValueError):
        raise UsageError(f"{where} is damaged: a field is missing or has the wrong type") from None
    register(record.value)
    return record


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(key)
    return value


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(key)
    return value


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError("tags")
    return dict(value)


def _instant(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("instant")
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _state(value: Any) -> str:
    if value not in APPLY_STATES:
        raise ValueError("applyState")
    return str(value)


def _optional_number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise TypeError(key)
    return float(value)
