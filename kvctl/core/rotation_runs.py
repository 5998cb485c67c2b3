"""Run files: what a rotation of several secrets did to each, so a later run does only the rest.

A run file (0600, beside the recovery files) names the vault, the options that decide how a new
value is made and applied, and per secret its outcome: `pending`, `rotated`/`resumed`/
`already-stored` (finished), `failed`, `interrupted` or `not-started`, with its recovery file when
there is one. `kvctl rotate --retry-failed FILE` rotates the secrets that did not finish (resuming
those with a recovery file) and updates the same file; once every secret has finished the file is
removed.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .files import read_input_file, write_private
from .refs import SecretRef
from .rotation import RotationResult

FORMAT = "kvctl-rotation-run"
FORMAT_VERSION = 1
FINISHED = ("rotated", "resumed", "already-stored")


@dataclass
class RunFile:
    path: Path
    settings: dict[str, Any]  # how values are made and applied: given back to --retry-failed
    entries: list[dict[str, Any]] = field(default_factory=list)  # vaultUrl, name, status, recoveryFile, error
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, directory: Path, refs: list[SecretRef], settings: dict[str, Any], now: dt.datetime) -> RunFile:
        stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"run_{stamp}_{secrets.token_hex(4)}.json"
        entries = [
            {"vaultUrl": r.vault_url, "name": r.name, "status": "pending", "recoveryFile": None, "error": None}
            for r in refs
        ]
        run = cls(path, settings, entries)
        run._save()
        return run

    @classmethod
    def load(cls, path: Path) -> RunFile:
        try:
            data = json.loads(read_input_file(path, "run file"))
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("formatVersion") != FORMAT_VERSION:
            raise UsageError(f"{path} is not a kvctl rotation run file")
        entries, settings = data.get("secrets"), data.get("settings")
        if (
            not isinstance(entries, list)
            or not isinstance(settings, dict)
            or not all(
                isinstance(e, dict) and isinstance(e.get("vaultUrl"), str) and isinstance(e.get("name"), str)
                for e in entries
            )
        ):
            raise UsageError(f"{path} is damaged: a field is missing or has the wrong type")
        return cls(path, settings, [dict(e) for e in entries])

    def unfinished(self) -> list[dict[str, Any]]:
        """The entries whose secret does not have this run's value yet (with the recovery file, if any)."""
        return [e for e in self.entries if e.get("status") not in FINISHED]

    def record(self, result: RotationResult) -> None:
        with self._lock:
            for entry in self.entries:
                if (entry["vaultUrl"], entry["name"].lower()) == (result.vault_url, result.name.lower()):
                    entry.update(
                        status=result.status,
                        recoveryFile=result.recovery_file,
                        error=result.error.message if result.error else None,
                    )
            self._save()

    def close(self) -> bool:
        """Remove the file when every secret finished; True if it stays (something is left to do)."""
        if self.unfinished():
            return True
        self.path.unlink(missing_ok=True)
        return False

    def _save(self) -> None:
        data = {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "settings": self.settings,
            "secrets": self.entries,
        }
        write_private(self.path, json.dumps(data, indent=2) + "\n")
