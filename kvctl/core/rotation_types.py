"""The parts of a rotation that other modules share: options, results, errors, and the rules
for the new version's tags and expiry (rotation.py runs the steps)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import validate
from .backend import SecretBackend
from .errors import ExitCode, KvctlError, UsageError, unexpected
from .models import Secret, iso
from .refs import SecretRef
from .rotation_lease import LEASE_MARGIN
from .secrets import newest_first

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
    Whole seconds, as the service keeps them. A current version that expires but has no validity
    period to carry (it expired before it was created, e.g. seeded that way) is refused: quietly
    giving the new version no expiry would turn an expiring secret into one that never expires."""
    try:
        if expires_in is not None:
            return (now + expires_in).replace(microsecond=0)
        expires, created = current.attributes.expires, current.attributes.created
        if expires is None:
            return None
        if created is None or expires <= created:
            raise UsageError(
                f"'{current.name}' expires ({expires:%Y-%m-%d}) but has no validity period to carry forward "
                "(it expires no later than it was created)",
                hint="give the new version's validity with --expires-in DURATION",
            )
        return (now + (expires - created)).replace(microsecond=0)
    except OverflowError:
        raise UsageError(
            f"the new expiry of '{current.name}' would fall after the year 9999",
            hint="give a shorter validity with --expires-in DURATION",
        ) from None


def find_rotation(backend: SecretBackend, name: str, rotation_id: str) -> Secret | None:
    """The version carrying this rotation id, if the vault has one (newest versions first)."""
    versions = newest_first(backend.list_versions(name))
    return next((v for v in versions if (v.tags or {}).get(ROTATION_TAG) == rotation_id), None)


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
    return unexpected(exc)
