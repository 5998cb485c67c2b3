"""Operations on secrets: each takes its inputs and a backend factory, and returns typed results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from .backend import BackendFactory, SecretBackend
from .errors import ConflictError, ForbiddenError, NotFoundError, UsageError
from .models import Secret
from .refs import SecretRef

T = TypeVar("T")


@dataclass(frozen=True)
class ListFilter:
    prefix: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    expiring_within: dt.timedelta | None = None
    include_disabled: bool = False

    def accepts(self, secret: Secret, now: dt.datetime) -> bool:
        if self.prefix and not secret.name.lower().startswith(self.prefix.lower()):
            return False
        if not self.include_disabled and secret.attributes.enabled is False:
            return False
        have = secret.tags or {}
        if any(have.get(k) != v for k, v in self.tags.items()):
            return False
        if self.expiring_within is not None:
            expires = secret.attributes.expires
            if expires is None or expires > now + self.expiring_within:
                return False
        return True


@dataclass(frozen=True)
class SecretProperties:
    """What `set` may say about a new version besides its value."""

    content_type: str | None = None
    tags: dict[str, str] | None = None
    enabled: bool | None = None
    expires: dt.datetime | None = None
    not_before: dt.datetime | None = None


def deleted_hint(backend: SecretBackend, name: str) -> str | None:
    """When a secret cannot be found, say so if it is deleted but recoverable."""
    try:
        deleted = backend.get_deleted(name)
    except (NotFoundError, ForbiddenError):
        return None
    when = deleted.deleted.deleted_date if deleted.deleted else None
    stamp = f" on {when:%Y-%m-%d %H:%M} UTC" if when else ""
    return f"'{name}' was deleted{stamp} and can be recovered: kvctl recover {name}"


def _with_deleted_hint(backend: SecretBackend, name: str, error: NotFoundError) -> NotFoundError:
    hint = deleted_hint(backend, name)
    if hint:
        error.hint = hint
    return error


def _on_live_secret(backend: SecretBackend, name: str, operation: Callable[[], T]) -> T:
    """Run an operation on a live secret; if it is not found, say whether it can be recovered."""
    try:
        return operation()
    except NotFoundError as exc:
        raise _with_deleted_hint(backend, name, exc) from None


def get_secret(factory: BackendFactory, ref: SecretRef) -> Secret:
    backend = factory(ref.vault_url)
    return _on_live_secret(backend, ref.name, lambda: backend.get(ref.name, ref.version))


def show_secret(factory: BackendFactory, ref: SecretRef) -> Secret:
    """Attributes and tags without the value; works with metadata-only rights too."""
    backend = factory(ref.vault_url)
    try:
        return backend.get(ref.name, ref.version).without_value()
    except NotFoundError as exc:
        raise _with_deleted_hint(backend, ref.name, exc) from None
    except ForbiddenError as exc:
        if not (exc.action or "").lower().endswith("getsecret/action"):
            raise
        # No right to read the value: the versions list (readMetadata) has the same attributes.
        versions = list(backend.list_versions(ref.name))
        if ref.version:
            versions = [v for v in versions if v.version == ref.version]
        if not versions:
            raise
        return newest_first(versions)[0]


def set_secret(factory: BackendFactory, ref: SecretRef, value: str, props: SecretProperties) -> Secret:
    if ref.version:
        raise UsageError("a new value makes a new version; do not name a version", hint=f"use just {ref.name}")
    backend = factory(ref.vault_url)
    try:
        return backend.set(
            ref.name,
            value,
            content_type=props.content_type,
            tags=props.tags,
            enabled=props.enabled,
            expires=props.expires,
            not_before=props.not_before,
        ).without_value()
    except ConflictError as exc:
        raise ConflictError(
            f"secret '{ref.name}' is deleted but recoverable, so its name cannot be reused yet",
            hint=f"kvctl recover {ref.name} (to get it back) or kvctl purge {ref.name} (to erase it for good)",
        ) from exc


def list_secrets(
    factory: BackendFactory, vault_url: str, filters: ListFilter, now: dt.datetime, *, deleted: bool = False
) -> Iterator[Secret]:
    """Stream matching secrets page by page; nothing is held beyond the current page."""
    backend = factory(vault_url)
    source = backend.list_deleted() if deleted else backend.list()
    for secret in source:
        if filters.accepts(secret, now):
            yield secret


def newest_first(versions: Iterable[Secret]) -> list[Secret]:
    """Versions, newest first; versions made in the same second keep the service's (creation)
    order, reversed."""
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    ordered = sorted(enumerate(versions), key=lambda iv: (iv[1].attributes.created or epoch, iv[0]), reverse=True)
    return [v for _, v in ordered]


def list_versions(factory: BackendFactory, ref: SecretRef) -> list[Secret]:
    backend = factory(ref.vault_url)
    versions = list(backend.list_versions(ref.name))
    if not versions:
        # The service answers an unknown name with an empty list; say what happened.
        raise _with_deleted_hint(backend, ref.name, NotFoundError(f"secret '{ref.name}' not found in {ref.vault_url}"))
    return newest_first(versions)


def delete_secret(factory: BackendFactory, ref: SecretRef) -> Secret:
    backend = factory(ref.vault_url)
    return _on_live_secret(backend, ref.name, lambda: backend.delete(ref.name))


def recover_secret(factory: BackendFactory, ref: SecretRef) -> Secret:
    backend = factory(ref.vault_url)
    try:
        return backend.recover(ref.name)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no deleted secret '{ref.name}' in {ref.vault_url}",
            hint="`kvctl list --deleted` shows what can be recovered",
        ) from exc


def purge_secret(factory: BackendFactory, ref: SecretRef) -> None:
    backend = factory(ref.vault_url)
    try:
        backend.purge(ref.name)
    except NotFoundError as exc:
        hint = "`kvctl list --deleted` shows what can be purged"
        try:
            backend.get(ref.name)
            hint = f"'{ref.name}' is not deleted; delete it first: kvctl delete {ref.name}"
        except Exception:  # noqa: BLE001, S110 - only choosing a hint
            pass
        raise NotFoundError(f"no deleted secret '{ref.name}' in {ref.vault_url}", hint=hint) from exc


def backup_secret(factory: BackendFactory, ref: SecretRef) -> bytes:
    backend = factory(ref.vault_url)
    return _on_live_secret(backend, ref.name, lambda: backend.backup(ref.name))


def restore_secret(factory: BackendFactory, vault_url: str, blob: bytes) -> Secret:
    return factory(vault_url).restore(blob)
