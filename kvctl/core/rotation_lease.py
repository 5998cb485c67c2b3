"""What must hold before a rotation may start anything: the caller may write the secret, and
no other rotation of it is under way.

Write rights (the preflight). kvctl asks the vault itself with a request that changes nothing: an
attributes update of a version that does not exist. Key Vault checks the caller's rights before
it looks the version up, so 404 means "may update this secret" and 403 means "may not"; anything
else means it cannot be established, and the rotation does not start. (A custom role that allows
`secrets/update/action` but not `secrets/setSecret/action` passes this check; the built-in roles
and access policies grant both together.)

The lease. Key Vault has no conditional writes, so rotators agree through a tag on the current
version (attributes update: no new version):

1. read the newest version; if it carries another rotation's lease that has not expired, stop (6);
2. write `kvctl-rotation-lease: ROTATION_ID/UNTIL` on it; if more than SETTLE seconds passed since
   step 1's read began, stop (6): a rival may have read before our write and written after;
3. wait SETTLE seconds and read it back: the newest version must still be the one leased and the
   tag must still be ours, else stop (6) - a rival wrote after us and won.

If two rotators both confirm, each wrote its tag within SETTLE of its own read, and each read back
after SETTLE: the later writer's read came after the earlier writer's tag was written, so it saw
that lease and stopped in step 1. Just before the vault write, the newest version must still be
the one this rotation replaced (else 6), which also covers a lease that expired meanwhile.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from . import validate
from .arm import ArmBackend, VaultResource, find_vault
from .backend import SecretBackend
from .errors import ConflictError, ForbiddenError, KvctlError, NotFoundError, UsageError
from .models import Secret, iso
from .secrets import newest_first

LEASE_TAG = "kvctl-rotation-lease"
DEFAULT_SETTLE_SECONDS = 2.0
LEASE_MARGIN = dt.timedelta(minutes=5)
WRITER_ROLE = "Key Vault Secrets Officer"
# A version id that no secret has: a request for it is authorized first, then answered 404.
PROBE_VERSION = "0" * 32


@dataclass(frozen=True)
class Lease:
    holder: str
    until: dt.datetime

    def text(self) -> str:
        return f"{self.holder}/{int(self.until.timestamp())}"


def lease_of(tags: dict[str, str] | None) -> Lease | None:
    raw = (tags or {}).get(LEASE_TAG)
    if not raw:
        return None
    holder, _, until = raw.rpartition("/")
    try:
        return Lease(holder, dt.datetime.fromtimestamp(int(until), dt.UTC))
    except (ValueError, OverflowError, OSError):
        return Lease(holder or raw, dt.datetime.max.replace(tzinfo=dt.UTC))  # unreadable: treat as held


def without_lease(tags: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (tags or {}).items() if k != LEASE_TAG}


def check_may_write(backend: SecretBackend, name: str) -> None:
    """Raise ForbiddenError (exit 5, naming the role) unless the caller may write secret `name`."""
    try:
        backend.update(name, PROBE_VERSION)
    except NotFoundError:
        return  # authorized; the version just does not exist
    except ForbiddenError as exc:
        raise denied(name, backend.vault_url, "the vault refused a check that changes nothing") from exc
    raise UsageError(f"the vault answered a check of write rights on '{name}' unexpectedly; nothing was run")


def foreign_lease(current: Secret, rotation_id: str, now: dt.datetime) -> Lease | None:
    lease = lease_of(current.tags)
    if lease is None or lease.holder == rotation_id or lease.until <= now:
        return None
    return lease


def _busy(name: str, lease: Lease) -> ConflictError:
    return ConflictError(
        f"'{name}' is being rotated by another kvctl (rotation {lease.holder[:8]}, lease until "
        f"{iso(lease.until)}); nothing was run or changed",
        hint="let that rotation finish, then check whether this one is still needed",
    )


@dataclass
class LeaseKeeper:
    settle: float = DEFAULT_SETTLE_SECONDS
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def acquire(
        self, backend: SecretBackend, name: str, rotation_id: str, ttl: dt.timedelta, now: dt.datetime
    ) -> Secret:
        """Take the lease on the newest version; return that version (its tags without the lease)."""
        began = self.monotonic()
        current = newest_first(backend.list_versions(name))[0]
        lease = foreign_lease(current, rotation_id, now)
        if lease is not None:
            raise _busy(name, lease)
        tags = without_lease(current.tags)
        if len(tags) + 1 > validate.MAX_TAGS:
            raise UsageError(
                f"'{name}' has {len(tags)} tags; the rotation lease needs one more than Key Vault's "
                f"{validate.MAX_TAGS}",
                hint="remove a tag first",
            )
        mine = Lease(rotation_id, (now + ttl).replace(microsecond=0))
        try:
            backend.update(name, current.version, tags={**tags, LEASE_TAG: mine.text()})
        except KvctlError:
            # The answer may have been lost after the tag was written: the vault has the last word.
            if not self._holds(backend, name, current.version, rotation_id):
                raise
        if self.monotonic() - began > self.settle:
            self.release(backend, name, current.version, rotation_id)
            raise ConflictError(
                f"taking the rotation lease on '{name}' took longer than {self.settle:g} s, so another "
                "rotation could have started meanwhile; nothing was run or changed",
                hint="the vault answered slowly; run it again",
            )
        self.sleep(self.settle)
        self.confirm(backend, name, current.version, rotation_id)
        return current

    @staticmethod
    def _holds(backend: SecretBackend, name: str, version: str | None, rotation_id: str) -> bool:
        try:
            newest = newest_first(backend.list_versions(name))[0]
        except KvctlError:
            return False
        lease = lease_of(newest.tags)
        return newest.version == version and lease is not None and lease.holder == rotation_id

    def confirm(self, backend: SecretBackend, name: str, version: str | None, rotation_id: str) -> None:
        newest = newest_first(backend.list_versions(name))[0]
        if newest.version != version:
            raise ConflictError(
                f"'{name}' got a new version ({newest.version}) while this rotation was starting; "
                "nothing was run or changed",
                hint="another kvctl or tool rotated it; check whether this rotation is still needed",
            )
        lease = lease_of(newest.tags)
        if lease is None or lease.holder != rotation_id:
            if lease is not None:
                raise _busy(name, lease)
            raise ConflictError(f"the rotation lease on '{name}' was removed by someone else; nothing was run")

    @staticmethod
    def still_current(backend: SecretBackend, name: str, version: str | None) -> None:
        """Just before the vault write: the version this rotation replaces must still be the newest."""
        newest = newest_first(backend.list_versions(name))[0]
        if newest.version != version:
            raise ConflictError(
                f"'{name}' has a newer version ({newest.version}) than the one this rotation replaces "
                f"({version}); the new value was not stored"
            )

    @staticmethod
    def release(backend: SecretBackend, name: str, version: str | None, rotation_id: str) -> None:
        """Remove our lease tag (best effort: an unremoved lease expires by itself)."""
        try:
            found = next((v for v in backend.list_versions(name) if v.version == version), None)
            lease = lease_of(found.tags if found else None)
            if found is not None and lease is not None and lease.holder == rotation_id:
                backend.update(name, version, tags=without_lease(found.tags))
        except Exception:  # noqa: BLE001, S110 - the lease expires by itself
            pass


SET_ACTION = "Microsoft.KeyVault/vaults/secrets/setSecret/action"


def arm_rights(arm: Callable[[], ArmBackend]) -> Callable[[str, str], tuple[bool | None, str]]:
    """`verdict(vault_url, name)` from ARM, finding each vault once."""
    vaults: dict[str, VaultResource | KvctlError] = {}
    lock = threading.Lock()

    def verdict(vault_url: str, name: str) -> tuple[bool | None, str]:
        with lock:
            if vault_url not in vaults:
                try:
                    vaults[vault_url] = find_vault(arm(), vault_url)
                except KvctlError as exc:
                    vaults[vault_url] = exc
            found = vaults[vault_url]
        if isinstance(found, KvctlError):
            return None, found.message
        return arm_verdict(arm(), found, name)

    return verdict


def arm_verdict(arm: ArmBackend, vault: VaultResource, name: str) -> tuple[bool | None, str]:
    """Whether ARM says the caller may write secret `name`: True, False, or None with the reason it
    cannot tell (an access-policy vault, no answer, a conditional assignment)."""
    if not vault.rbac:
        return None, "the vault uses access policies, which the vault itself applies"
    try:
        granted = arm.permissions(f"{vault.id}/secrets/{name}")
    except KvctlError as exc:
        return None, exc.message
    if any(_matches(p.data_actions, SET_ACTION) and not _matches(p.not_data_actions, SET_ACTION) for p in granted):
        return True, ""
    if any(p.conditional for p in granted):
        return None, "a role assignment has a condition"
    return False, ""


def _matches(patterns: tuple[str, ...], action: str) -> bool:
    # ARM's action patterns: `*` matches any text, '/' included, case-insensitively.
    lowered = action.lower()
    return any(fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def denied(name: str, vault_url: str, how: str) -> ForbiddenError:
    return ForbiddenError(
        f"you may not write secret '{name}' in {vault_url} ({how}), so it cannot be rotated; "
        "nothing was run or changed",
        hint=f"ask for '{WRITER_ROLE}' on the secret or the vault (or the secret 'set' permission in its "
        "access policy)",
        action=SET_ACTION,
    )
