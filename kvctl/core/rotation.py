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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import recovery, validate
from .backend import BackendFactory, SecretBackend
from .clouds import Cloud
from .errors import ConflictError, ExitCode, KvctlError, UsageError
from .hooks import CommandOutcome, CommandRunner
from .interrupt import NEVER, Interrupt, Interrupted
from .models import Secret, iso
from .ratelimit import VaultWriteLimits
from .recovery import RecoveryRecord
from .redaction import redact, register
from .refs import SecretRef
from .rotation_lease import LEASE_MARGIN, LeaseKeeper, check_may_write, foreign_lease, without_lease
from .secrets import list_versions, newest_first

ROTATION_TAG = "kvctl-rotation-id"
DEFAULT_HOOK_TIMEOUT = 300.0

ValueSource = Callable[[SecretRef, Secret], str]
"""Gives the new value for a secret, given its current version."""


class RotationError(KvctlError):
    """A rotation step failed; the exit code is that of the cause (1 for the apply command)."""

    def __init__(self, message: str, hint: str | None = None, exit_code: ExitCode = ExitCode.UNEXPECTED) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RotationOptions:
    expires_in: dt.timedelta | None = None
    apply_command: str | None = None
    hook_timeout: float = DEFAULT_HOOK_TIMEOUT
    disable_previous: bool = False
    keep: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class RotationResult:
    vault_url: str
    name: str
    status: str  # rotated | resumed | already-stored | would-rotate | failed | interrupted | not-started
    old_version: str | None = None
    new_version: str | None = None
    new_id: str | None = None
    expires: dt.datetime | None = None
    rotation_id: str | None = None
    disabled_versions: tuple[str, ...] = ()
    recovery_file: str | None = None
    error: KvctlError | None = field(default=None, compare=False)
    apply_state: str | None = field(default=None, compare=False)  # as the recovery file records it

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def finished(self) -> bool:
        """The vault has this rotation's value (or a dry run said it would rotate)."""
        return self.ok and self.status in ("rotated", "resumed", "already-stored", "would-rotate")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vaultUrl": self.vault_url,
            "status": self.status,
            "oldVersion": self.old_version,
            "newVersion": self.new_version,
            "id": self.new_id,
            "expires": iso(self.expires),
            "rotationId": self.rotation_id,
            "disabledVersions": list(self.disabled_versions),
            "recoveryFile": self.recovery_file,
            "error": self.error.message if self.error else None,
        }


def rotation_tags(current: dict[str, str] | None, rotation_id: str) -> dict[str, str]:
    """The current tags, with this rotation's id replacing any earlier one."""
    tags = {k: v for k, v in (current or {}).items() if k != ROTATION_TAG}
    tags[ROTATION_TAG] = rotation_id
    if len(tags) > validate.MAX_TAGS:
        raise UsageError(
            f"the secret has {len(tags) - 1} tags; with {ROTATION_TAG} that is more than Key Vault's "
            f"{validate.MAX_TAGS}",
            hint=f"remove a tag first (kvctl rotate marks each new version with {ROTATION_TAG})",
        )
    return tags


def carried_expiry(current: Secret, now: dt.datetime, expires_in: dt.timedelta | None) -> dt.datetime | None:
    """--expires-in from now; else the current version's validity period (exp - created) from now.
    Whole seconds, as the service keeps them."""
    if expires_in is not None:
        return (now + expires_in).replace(microsecond=0)
    expires, created = current.attributes.expires, current.attributes.created
    if expires is None or created is None or expires <= created:
        return None
    return (now + (expires - created)).replace(microsecond=0)


def find_rotation(backend: SecretBackend, name: str, rotation_id: str) -> Secret | None:
    """The version carrying this rotation id, if the vault has one (newest versions first)."""
    versions = newest_first(backend.list_versions(name))
    return next((v for v in versions if (v.tags or {}).get(ROTATION_TAG) == rotation_id), None)


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
        backend = self.factory(ref.vault_url)
        check_may_write(backend, ref.name)
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


def lease_ttl(options: RotationOptions) -> dt.timedelta:
    """Long enough for the value command and the apply command to run to their timeouts."""
    return dt.timedelta(seconds=2 * options.hook_timeout) + LEASE_MARGIN


def older_enabled(backend: SecretBackend, name: str, new_version: str, keep: int) -> list[str]:
    """Enabled versions older than `new_version`, except the newest `keep` of them."""
    ordered = list(reversed(newest_first(backend.list_versions(name))))
    position = next((i for i, v in enumerate(ordered) if v.version == new_version), len(ordered))
    older = [v.version for v in reversed(ordered[:position]) if v.attributes.enabled and v.version]
    return older[keep:]


class RotationFailed(Exception):
    """Internal: carries a failed result (with what is known so far) out of the steps."""

    def __init__(self, result: RotationResult) -> None:
        super().__init__(result.name)
        self.result = result


def _failed(
    planned: RotationResult, error: KvctlError, recovery_file: str | None, state: str | None = None
) -> RotationResult:
    return _replace(planned, status="failed", recovery_file=recovery_file, error=error, apply_state=state)


def _replace(result: RotationResult, **changes: Any) -> RotationResult:
    return replace(result, **changes)


def _as_kvctl_error(exc: Exception) -> KvctlError:
    if isinstance(exc, KvctlError):
        return exc
    return KvctlError(f"unexpected error: {type(exc).__name__}: {redact(str(exc))[:300]}")
