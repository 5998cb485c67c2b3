"""Rotating many secrets, and where new values come from.

Bulk rotation runs a bounded number of rotations at once; writes also pass the per-vault write
limiter, so a large batch does not run into the service's throttling. One failure does not stop
the others; the caller gets every result, in the order asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .backend import BackendFactory
from .errors import KvctlError, PartialFailure, UsageError, unexpected
from .files import decode_value
from .generators import GeneratorSpec, generate
from .hooks import CommandRunner
from .interrupt import Interrupted
from .models import Secret
from .refs import SecretRef
from .rotation import RotationOptions, RotationResult, Rotator, ValueSource, carried_expiry
from .secrets import ListFilter, list_secrets


def generator_source(spec: GeneratorSpec) -> ValueSource:
    return lambda ref, current: generate(spec)


def fixed_source(value: str) -> ValueSource:
    return lambda ref, current: value


def command_source(runner: CommandRunner, command: str, env: Mapping[str, str], timeout: float) -> ValueSource:
    """The value is what COMMAND prints on stdout (one trailing newline dropped); it learns which
    secret it is making a value for from KVCTL_SECRET_NAME, KVCTL_SECRET_VERSION_OLD, KVCTL_VAULT_URL."""

    def source(ref: SecretRef, current: Secret) -> str:
        outcome = runner(
            command,
            stdin=b"",
            env={
                **env,
                "KVCTL_SECRET_NAME": ref.name,
                "KVCTL_SECRET_VERSION_OLD": current.version or "",
                "KVCTL_VAULT_URL": ref.vault_url,
            },
            timeout=timeout,
            capture=True,
        )
        if outcome.interrupted:
            raise Interrupted("--from-command")
        if outcome.exit_code != 0:
            raise UsageError(
                f"--from-command failed for '{ref.name}' ({outcome.describe()}); nothing was changed",
                hint="its error output is above",
            )
        value = decode_value(outcome.stdout, "--from-command", strip_newline=True)
        if not value:
            raise UsageError(
                f"--from-command printed no value for '{ref.name}'; nothing was changed",
                hint="the command must print the new value on its stdout",
            )
        return value

    return source


def select_due(
    factory: BackendFactory, vault_url: str, window: dt.timedelta, filters: ListFilter, now: dt.datetime
) -> list[Secret]:
    """Enabled secrets that expire within `window` (already expired ones too), certificate-backed
    ones excepted: those rotate with their certificate."""
    due = ListFilter(prefix=filters.prefix, tags=filters.tags, expiring_within=window, include_disabled=False)
    return [secret for secret in list_secrets(factory, vault_url, due, now) if not secret.managed]


def due_again(due: Sequence[Secret], window: dt.timedelta, now: dt.datetime) -> list[tuple[str, dt.timedelta]]:
    """The secrets whose carried-forward validity would put the new expiry within `window` again,
    with that validity period: rotating them would not make them any less due."""
    short: list[tuple[str, dt.timedelta]] = []
    for secret in due:
        try:
            expires = carried_expiry(secret, now, None)
        except UsageError:  # expires, with no validity period to carry: it would be due again at once
            short.append((secret.name, dt.timedelta(0)))
            continue
        if expires is not None and expires - now <= window:
            short.append((secret.name, expires - now))
    return short


def unique_refs(refs: Sequence[SecretRef]) -> list[SecretRef]:
    """Each secret once: rotating one secret twice at the same time would make two versions."""
    seen: dict[tuple[str, str], SecretRef] = {}
    for ref in refs:
        seen.setdefault(ref.key[:2], ref)
    return list(seen.values())


def rotate_many(
    rotator: Rotator,
    refs: Sequence[SecretRef],
    source: ValueSource,
    options: RotationOptions,
    *,
    concurrency: int,
    on_done: Callable[[RotationResult], None] = lambda result: None,
) -> list[RotationResult]:
    def one(ref: SecretRef) -> RotationResult:
        try:
            result = rotator.rotate(ref, source, options)
        except Exception as exc:  # noqa: BLE001 - a bug in one rotation must not stop the others
            error = unexpected(exc)
            result = RotationResult(ref.vault_url, ref.name, "failed", error=error)
        on_done(result)
        return result

    if len(refs) <= 1:
        return [one(ref) for ref in refs]
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(refs)))) as pool:
        return list(pool.map(one, refs))


def failure(results: Sequence[RotationResult], run_file: Path | None = None) -> KvctlError | None:
    """One error for the whole run: None when all went well, else a PartialFailure naming each."""
    failed = [r for r in results if r.error is not None]
    if not failed:
        return None
    listed = "; ".join(f"{r.name}: {r.error.message}" for r in failed[:20] if r.error is not None)
    more = f" (and {len(failed) - 20} more)" if len(failed) > 20 else ""
    saved = [r.recovery_file for r in failed if r.recovery_file]
    if run_file is not None:
        hint = f"kvctl rotate --retry-failed {run_file} redoes only the {len(failed)} that did not finish" + (
            f" ({len(saved)} from their recovery files)" if saved else ""
        )
    elif saved:
        hint = f"{len(saved)} new value(s) are saved; finish each with kvctl rotate --resume FILE (paths above)"
    else:
        hint = "the others were rotated; run the same command again for the failed ones"
    return PartialFailure(
        f"{len(failed)} of {len(results)} secret(s) were not rotated: {listed}{more}",
        [(r.name, r.error) for r in failed if r.error is not None],
        hint=hint,
    )
