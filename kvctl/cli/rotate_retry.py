"""`kvctl rotate --retry-failed RUNFILE`: redo what a recorded run of several secrets left undone,
with the options that run used (how values are made and applied)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import KvctlError, UsageError

if TYPE_CHECKING:
    from ..core.refs import SecretRef
    from ..core.rotation import RotationOptions, RotationResult, Rotator, ValueSource
    from ..core.rotation_runs import RunFile
    from ..core.settings import Settings

_TYPES: dict[str, tuple[type, ...]] = {
    "generator": (str,),
    "length": (int,),
    "classes": (str,),
    "from_command": (str,),
    "apply_command": (str,),
    "hook_timeout": (int, float),
    "expires_in": (str,),
    "disable_previous": (bool,),
    "keep": (int,),
}


def load_run(opts: dict[str, Any]) -> tuple[RunFile, tuple[str, ...], dict[str, Any]]:
    from ..core.rotation_runs import RunFile

    path = Path(opts["retry_failed"]).expanduser()
    run = RunFile.load(path)
    merged = dict(opts)
    for key, kinds in _TYPES.items():
        value = run.settings.get(key)
        if value is not None and not isinstance(value, kinds):
            raise UsageError(f"{path} is damaged: setting {key!r} has the wrong type")
        merged[key] = value if value is not None else opts.get(key)
    merged["hook_timeout"] = merged["hook_timeout"] or 300
    if not 1 <= merged["hook_timeout"] <= 86400:  # also false for nan, which would mean no limit
        raise UsageError(f"{path} is damaged: setting 'hook_timeout' is out of range")
    if not run.unfinished():
        raise UsageError(f"every secret in {path} was rotated already; nothing to do")
    return run, (), merged


def redo(
    rotator: Rotator,
    run: RunFile,
    targets: list[SecretRef],
    source: ValueSource,
    options: RotationOptions,
    settings: Settings,
    *,
    on_done: Callable[[RotationResult], Any],
) -> list[RotationResult]:
    """Secrets with a recovery file are finished from it (their target may hold that value); the
    others are rotated again."""
    from ..core.rotation import RotationResult
    from ..core.rotation_bulk import rotate_many

    files = {(e["vaultUrl"], e["name"]): e.get("recoveryFile") for e in run.unfinished()}
    results: list[RotationResult] = []
    fresh: list[SecretRef] = []
    for ref in targets:
        saved = files.get((ref.vault_url, ref.name))
        if not saved or not Path(saved).exists():
            fresh.append(ref)
            continue
        if rotator.interrupt.tripped:
            result = RotationResult(ref.vault_url, ref.name, "not-started")
        else:
            try:
                result = rotator.resume(Path(saved), options, settings.cloud_info)
            except KvctlError as exc:
                result = RotationResult(ref.vault_url, ref.name, "failed", recovery_file=saved, error=exc)
        on_done(result)
        results.append(result)
    results += rotate_many(rotator, fresh, source, options, concurrency=settings.concurrency, on_done=on_done)
    return results
