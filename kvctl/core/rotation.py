"""Rotating a secret: a new version with a new value that can never be lost.

The order of steps is the guarantee:

1. read the current version (metadata only); establish that the caller may write the secret
   (rotation_lease.check_may_write) and take the rotation lease on the current version, so no
   other rotation of it runs at the same time; refuse what cannot work before anything has a
   new value;
2. get the new value, and save it in a recovery file (0600, locked) before anyone else sees it;
3. run the apply command (new value on stdin), recording in the file that it is running and then
   that it finished; if it fails, stop: the vault is unchanged;
4. check that the version replaced is still the newest (else exit 6), then write the new version,
   tagged with a fresh rotation id. After a failed or unanswered write, look for that id before
   concluding anything, so a write is never made twice;
5. only when the vault has the new version, remove the recovery file. Otherwise the file stays,
   and `resume` finishes the job later (running the apply command again only when the file says
   the target may not have the value).

An interrupt (see core/interrupt.py) is honoured between steps and stops a running command.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import recovery, validate
from .backend import BackendFactory, SecretBackend
from .clouds import Cloud
from .errors import ConflictError, KvctlError, UsageError
from .hooks import CommandOutcome, CommandRunner
from .interrupt import NEVER, Interrupt, Interrupted
from .models import Secret
from .ratelimit import VaultWriteLimits
from .recovery import RecoveryRecord
from .redaction import register
from .refs import SecretRef
from .rotation_lease import LeaseKeeper, check_may_write, denied, foreign_lease, without_lease
from .rotation_types import (
    DEFAULT_HOOK_TIMEOUT,
    ROTATION_TAG,
    RotationError,
    RotationFailed,
    RotationOptions,
    RotationResult,
    ValueSource,
    _as_kvctl_error,
    _failed,
    _replace,
    carried_expiry,
    find_rotation,
    lease_ttl,
    older_enabled,
    rotation_tags,
)
from .secrets import list_versions

__all__ = [
    "DEFAULT_HOOK_TIMEOUT",
    "ROTATION_TAG",
    "RotationError",
    "RotationFailed",
    "RotationOptions",
    "RotationResult",
    "Rotator",
    "ValueSource",
    "carried_expiry",
    "find_rotation",
    "lease_ttl",
    "older_enabled",
    "rotation_tags",
]


@dataclass
class Rotator:
    """Rotates secrets with its collaborators: backends, recovery directory, command runner, clock."""

    factory: BackendFactory
    runner: CommandRunner
    env: Mapping[str, str]
    now: Callable[[], dt.datetime]
    recovery_dir: Path | None = None  # needed unless dry run
    limits: VaultWriteLimits = field(default_factory=VaultWriteLimits)
    new_rotation_id: Callable[[], str] = lambda: secrets.token_hex(16)
    interrupt: Interrupt = NEVER
    leases: LeaseKeeper = field(default_factory=LeaseKeeper)
    # The caller's write rights as ARM sees them (vault URL, name) -> (True/False/None, why not known).
    rights: Callable[[str, str], tuple[bool | None, str]] | None = None
    notify: Callable[[str], None] = lambda message: None
    _noted: set[str] = field(default_factory=set, repr=False)

    def rotate(self, ref: SecretRef, source: ValueSource, options: RotationOptions) -> RotationResult:
        """Rotate one secret. Failures come back in the result, so bulk work can go on."""
        if self.interrupt.tripped:
            return RotationResult(ref.vault_url, ref.name, "not-started")
        try:
            return self._rotate(ref, source, options)
        except RotationFailed as failed:
            return failed.result
        except KvctlError as exc:
            return RotationResult(ref.vault_url, ref.name, "failed", error=exc)

    def resume(self, path: Path, options: RotationOptions, cloud: Cloud, *, force: bool = False) -> RotationResult:
        from .rotation_resume import resume

        return resume(self, path, options, cloud, force=force)

    # -- the steps -------------------------------------------------------------------------------

    def _rotate(self, ref: SecretRef, source: ValueSource, options: RotationOptions) -> RotationResult:
        if ref.version:
            raise UsageError("rotate makes a new version; name the secret without a version", hint=f"use {ref.name}")
        current = list_versions(self.factory, ref)[0]
        if current.managed:
            raise UsageError(
                f"'{ref.name}' is managed by a Key Vault certificate", hint="rotate the certificate instead"
            )
        carried_expiry(current, self.now(), options.expires_in)  # refuse what cannot be carried, before anything
        backend = self._preflight(ref)
        rotation_id = self.new_rotation_id()
        now = self.now()
        if options.dry_run:
            rotation_tags(without_lease(current.tags), rotation_id)
            busy = foreign_lease(current, rotation_id, now)
            if busy is not None:
                raise ConflictError(f"'{ref.name}' is being rotated by another kvctl (rotation {busy.holder[:8]})")
            expires = carried_expiry(current, now, options.expires_in)
            return RotationResult(
                ref.vault_url, ref.name, "would-rotate", current.version, expires=expires, rotation_id=rotation_id
            )
        rotation_tags(without_lease(current.tags), rotation_id)  # refuse too many tags before the lease
        current = self.leases.acquire(backend, ref.name, rotation_id, lease_ttl(options), now)
        now = self.now()  # the lease took a while: the new validity period starts now
        tags = rotation_tags(without_lease(current.tags), rotation_id)
        expires = carried_expiry(current, now, options.expires_in)
        planned = RotationResult(
            ref.vault_url, ref.name, "would-rotate", current.version, expires=expires, rotation_id=rotation_id
        )
        try:
            self._check_interrupt()
            value = source(ref, current)
        except (Interrupted, KvctlError) as exc:
            self.leases.release(backend, ref.name, current.version, rotation_id)
            if isinstance(exc, Interrupted):
                raise RotationFailed(self._stopped(planned, None, "none")) from None
            raise
        register(value)
        validate.secret_value(value)
        if not value:
            self.leases.release(backend, ref.name, current.version, rotation_id)
            raise UsageError(f"the new value for '{ref.name}' is empty")
        if self.recovery_dir is None:
            raise UsageError("no recovery directory")
        record = RecoveryRecord(
            ref.vault_url, ref.name, value, rotation_id, current.content_type, tags, expires, current.version, now,
            apply_command=options.apply_command,
            apply_state="not-started" if options.apply_command else "none",
            hook_timeout=options.hook_timeout,
        )  # fmt: skip
        path = recovery.path_for(self.recovery_dir, record)
        recovery.write(path, record)
        with recovery.locked(path):
            return self.complete(backend, record, path, planned, options, status="rotated")

    def _preflight(self, ref: SecretRef) -> SecretBackend:
        """Establish that the caller may write the secret, before anything runs. ARM's permissions
        for an RBAC vault first (they name setSecret exactly); then, always, the vault itself."""
        if self.rights is not None:
            verdict, why = self.rights(ref.vault_url, ref.name)
            if verdict is False:
                raise denied(ref.name, ref.vault_url, "your role assignments, as ARM lists them, do not allow it")
            if verdict is None and ref.vault_url not in self._noted:
                self._noted.add(ref.vault_url)
                self.notify(
                    f"note: ARM cannot tell whether you may write secrets in {ref.vault_url} ({why}); "
                    "asking the vault with a check that changes nothing"
                )
        backend = self.factory(ref.vault_url)
        check_may_write(backend, ref.name)
        return backend

    def complete(
        self,
        backend: SecretBackend,
        record: RecoveryRecord,
        path: Path,
        planned: RotationResult,
        options: RotationOptions,
        *,
        status: str,
        force: bool = False,
    ) -> RotationResult:
        """Steps 3 to 5 for a record saved in `path` (whose lock the caller holds)."""
        if self.interrupt.tripped and record.apply_state in ("none", "not-started"):
            # Nothing outside kvctl has the value: forget it and leave the vault as it was.
            recovery.remove(path)
            self.leases.release(backend, record.name, record.old_version, record.rotation_id)
            raise RotationFailed(self._stopped(planned, None, record.apply_state))
        if record.target_may_lack_value:
            record = self._apply(record, path, planned, options)
        if self.interrupt.tripped:
            raise RotationFailed(self._stopped(planned, path, record.apply_state))
        applied = " (the apply command has already applied it)" if record.apply_state == "finished" else ""
        try:
            if not force:
                self.leases.still_current(backend, record.name, record.old_version)
            written = self._write(backend, record, fresh=status == "rotated")
        except Exception as raw:  # noqa: BLE001 - whatever went wrong, the file's path must be told
            exc = _as_kvctl_error(raw)
            if isinstance(exc, ConflictError) and not applied:
                recovery.remove(path)
                self.leases.release(backend, record.name, record.old_version, record.rotation_id)
                raise RotationFailed(_failed(planned, exc, None)) from exc
            hint = f"once the vault is reachable: kvctl rotate --resume {path}"
            if isinstance(exc, ConflictError):
                hint = f"check which value the target uses; kvctl rotate --resume {path} --force stores this one"
            error = RotationError(
                f"could not store the new version of '{record.name}' in {record.vault_url}: {exc.message}. "
                f"The new value{applied} is saved in {path}",
                hint=hint,
                exit_code=exc.exit_code,
            )
            raise RotationFailed(_failed(planned, error, str(path), record.apply_state)) from exc
        recovery.remove(path)
        return self._finish(backend, self._result(record, written, status, None), options)

    def _check_interrupt(self) -> None:
        if self.interrupt.tripped:
            raise Interrupted(self.interrupt.name)

    def _stopped(self, planned: RotationResult, path: Path | None, state: str) -> RotationResult:
        what = {
            "unknown": "the apply command was stopped part-way; the target may hold the new value",
            "finished": "the apply command had finished: the target holds the new value, the vault does not yet",
        }.get(state, "nothing was changed")
        hint = f"finish it with: kvctl rotate --resume {path}" if path else None
        error = KvctlError(f"stopped by {self.interrupt.name}: {what}", hint=hint)
        return _replace(
            planned,
            status="interrupted",
            recovery_file=str(path) if path else None,
            error=error,
            apply_state=state if path else None,
        )

    def _apply(
        self, record: RecoveryRecord, path: Path, planned: RotationResult, options: RotationOptions
    ) -> RecoveryRecord:
        assert record.apply_command is not None
        record = record.with_state("running")
        recovery.write(path, record)
        outcome = self._run_apply(record)
        if outcome.exit_code == 0:
            record = record.with_state("finished")
            recovery.write(path, record)
            return record
        if outcome.interrupted:
            record = record.with_state("unknown")
            recovery.write(path, record)
            raise RotationFailed(self._stopped(planned, path, "unknown"))
        timeout = record.hook_timeout or options.hook_timeout
        if outcome.timed_out:
            # It may have applied the value before it was stopped: keep the value, just in case.
            recovery.write(path, record.with_state("unknown"))
            error = RotationError(
                f"the apply command for '{record.name}' timed out after {timeout:g} s and was "
                f"stopped; the vault is unchanged. In case the target took the new value, it is saved in {path}",
                hint=f"kvctl rotate --resume {path} runs the apply command again and stores the value; "
                f"or delete {path} to give up",
            )
            raise RotationFailed(_failed(planned, error, str(path), "unknown"))
        recovery.remove(path)
        backend = self.factory(record.vault_url)
        self.leases.release(backend, record.name, record.old_version, record.rotation_id)
        error = RotationError(
            f"the apply command for '{record.name}' failed ({outcome.describe()}); the vault is unchanged",
            hint="its output is above; the rotation can simply be run again",
        )
        raise RotationFailed(_failed(planned, error, None))

    def _run_apply(self, record: RecoveryRecord) -> CommandOutcome:
        assert record.apply_command is not None
        env = {
            **self.env,
            "KVCTL_SECRET_NAME": record.name,
            "KVCTL_SECRET_VERSION_OLD": record.old_version or "",
            "KVCTL_VAULT_URL": record.vault_url,
        }
        return self.runner(
            record.apply_command,
            stdin=record.value.encode("utf-8"),
            env=env,
            timeout=record.hook_timeout or DEFAULT_HOOK_TIMEOUT,
            capture=False,
        )

    def _write(self, backend: SecretBackend, record: RecoveryRecord, *, fresh: bool) -> Secret:
        """Write the new version once. The backend retries and checks lost answers itself; here the
        rotation id is the final word on whether a write happened."""
        if not fresh:
            found = find_rotation(backend, record.name, record.rotation_id)
            if found is not None:
                return found
        self.limits.for_vault(backend.vault_url).acquire()
        try:
            return backend.set(
                record.name,
                record.value,
                content_type=record.content_type,
                tags=record.tags,
                expires=record.expires,
            ).without_value()
        except Exception as exc:
            try:
                found = find_rotation(backend, record.name, record.rotation_id)
            except Exception:  # noqa: BLE001 - the vault may still be unreachable; the write's error says it
                found = None
            if found is not None:
                return found
            if isinstance(exc, ConflictError):
                raise ConflictError(
                    f"'{record.name}' was deleted meanwhile (deleted but recoverable)", hint=exc.hint
                ) from exc
            raise

    def _finish(self, backend: SecretBackend, result: RotationResult, options: RotationOptions) -> RotationResult:
        if not options.disable_previous or result.new_version is None:
            return result
        disabled: list[str] = []
        try:
            for version in older_enabled(backend, result.name, result.new_version, options.keep):
                backend.update(result.name, version, enabled=False)
                disabled.append(version)
        except KvctlError as exc:
            error = RotationError(
                f"rotated '{result.name}' to version {result.new_version}, but could not disable the older "
                f"versions ({len(disabled)} done): {exc.message}",
                hint=exc.hint or f"kvctl versions {result.name} shows which are still enabled",
                exit_code=exc.exit_code,
            )
            return _replace(result, disabled_versions=tuple(disabled), error=error)
        return _replace(result, disabled_versions=tuple(disabled))

    @staticmethod
    def _result(record: RecoveryRecord, written: Secret, status: str, path: str | None) -> RotationResult:
        return RotationResult(
            record.vault_url,
            record.name,
            status,
            record.old_version,
            written.version,
            written.id,
            written.attributes.expires,
            record.rotation_id,
            recovery_file=path,
        )
