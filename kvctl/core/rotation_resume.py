"""`kvctl rotate --resume FILE`: finish a rotation from its recovery file.

The file is locked for the whole run, so two resumes of one file cannot both write. When the
file says the target may not have the value (the apply command had not started, was running, or
was stopped part-way), the apply command runs again first - under the rotation lease, after the
same write-rights check as a rotation. A value the vault already has is not written again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import recovery, validate
from .clouds import Cloud
from .errors import ConflictError, UsageError
from .refs import SecretRef, vault_url
from .rotation import ROTATION_TAG, RotationFailed, RotationOptions, RotationResult, lease_ttl
from .rotation_lease import check_may_write
from .secrets import list_versions

if TYPE_CHECKING:
    from .rotation import Rotator


def resume(rotator: Rotator, path: Path, options: RotationOptions, cloud: Cloud, *, force: bool) -> RotationResult:
    recovery.load(path)  # a clear error for a missing or foreign file before anything else
    with recovery.locked(path):
        if not path.exists():
            raise UsageError(f"{path} is gone: another kvctl finished this rotation meanwhile")
        record = recovery.load(path)
        # The file is input like any other: it must not send a token to a host that is not a vault.
        if vault_url(record.vault_url, cloud) != record.vault_url.lower().rstrip("/"):
            raise UsageError(f"{path} names an unusual vault URL {record.vault_url!r}")
        validate.secret_name(record.name)
        validate.secret_value(record.value)
        backend = rotator.factory(record.vault_url)
        versions = list_versions(rotator.factory, SecretRef(record.vault_url, record.name))
        found = next((v for v in versions if (v.tags or {}).get(ROTATION_TAG) == record.rotation_id), None)
        planned = RotationResult(
            record.vault_url,
            record.name,
            "would-rotate",
            record.old_version,
            expires=record.expires,
            rotation_id=record.rotation_id,
        )
        if found is not None:
            recovery.remove(path)
            result = rotator._result(record, found, "already-stored", None)
            return rotator._finish(backend, result, options)
        newest = versions[0]
        if not force and record.old_version and newest.version != record.old_version:
            raise ConflictError(
                f"'{record.name}' has a newer version ({newest.version}) than the one this rotation "
                f"replaced ({record.old_version}); writing the saved value would replace it",
                hint=f"check which value the target system uses; --force writes it anyway; {path} is kept",
            )
        check_may_write(backend, record.name)
        if record.target_may_lack_value:
            # The apply command runs again: no other rotation may run meanwhile.
            rotator.leases.acquire(backend, record.name, record.rotation_id, lease_ttl(options), rotator.now())
        try:
            return rotator.complete(backend, record, path, planned, options, status="resumed", force=force)
        except RotationFailed as failed:
            if failed.result.error is not None and failed.result.status == "failed":
                raise failed.result.error from None
            return failed.result
