"""Operations on secrets: each takes its inputs and a backend factory, and returns typed results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from .backend import BackendFactory, SecretBackend, Waiting
from .errors import ConflictError, ForbiddenError, KvctlError, NotFoundError, UsageError
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
    """What `set` may say about a new version besides its value.

    Key Vault gives a new version no tags and no content type unless they are sent; `set` sends
    the current version's unless told otherwise: `content_type` None keeps it, "" sends none;
    `tags` are added to (or replace same-named) current tags, and `clear_tags` starts from none.
    """

    content_type: str | None = None
    tags: dict[str, str] | None = None
    enabled: bool | None = None
    expires: dt.datetime | None = None
    not_before: dt.datetime | None = None
    clear_tags: bool = False


@dataclass(frozen=True)
class SetOutcome:
    secret: Secret
    dropped_expiry: dt.datetime | None = None  # the previous version's expiry, which the new one lacks
    current_unknown: bool = False  # the current version could not be read: nothing was carried over


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


KVCTL_TAG_PREFIX = "kvctl-"


class _Unreadable(Exception):
    """The caller may read neither the value nor the metadata of the current version."""


def current_metadata(backend: SecretBackend, name: str) -> Secret | None:
    """The latest version's attributes and tags, or None for a new name. Falls back to the
    versions list (metadata) where the value may not be read: disabled, or no right to read it."""
    try:
        return backend.get(name).without_value()
    except NotFoundError:
        return None
    except ForbiddenError:
        try:
            versions = newest_first(backend.list_versions(name))
        except ForbiddenError as exc:
            raise _Unreadable() from exc
        return versions[0] if versions else None


def merged_tags(current: dict[str, str] | None, props: SecretProperties) -> dict[str, str] | None:
    from .validate import MAX_TAGS

    # kvctl's own bookkeeping tags ("kvctl-...", e.g. a rotation's id) describe that one version:
    # carried over, they would make a plain `set` look like that rotation.
    kept = {k: v for k, v in (current or {}).items() if not k.startswith(KVCTL_TAG_PREFIX)}
    merged = {} if props.clear_tags else kept
    merged.update(props.tags or {})
    if len(merged) > MAX_TAGS:
        raise UsageError(
            f"with the current version's tags the new version would have {len(merged)} tags",
            hint=f"a secret can have at most {MAX_TAGS} tags; start from none with the option that clears them",
        )
    return merged or None


def set_secret(factory: BackendFactory, ref: SecretRef, value: str, props: SecretProperties) -> SetOutcome:
    if ref.version:
        raise UsageError("a new value makes a new version; do not name a version", hint=f"use just {ref.name}")
    backend = factory(ref.vault_url)
    try:
        current = current_metadata(backend, ref.name)
        unknown = False
    except _Unreadable:
        # May write without reading (or the write is refused and the error names the role):
        # the new version carries only what was given.
        current, unknown = None, True
    if props.content_type is None:
        content_type = current.content_type if current else None
    else:
        content_type = props.content_type or None
    tags = merged_tags(current.tags if current else None, props)
    try:
        stored = backend.set(
            ref.name,
            value,
            content_type=content_type,
            tags=tags,
            enabled=props.enabled,
            expires=props.expires,
            not_before=props.not_before,
            newer_than=current,
        ).without_value()
    except ConflictError as exc:
        if "being" in exc.message:  # an earlier delete, purge or recover is still running in the service
            raise ConflictError(
                f"secret '{ref.name}' is still being deleted, purged or recovered by the service",
                hint="try again in a few seconds",
            ) from exc
        raise ConflictError(
            f"secret '{ref.name}' is deleted but recoverable, so its name cannot be reused yet",
            hint=f"kvctl recover {ref.name} (to get it back) or kvctl purge {ref.name} (to erase it for good)",
        ) from exc
    previous_expiry = current.attributes.expires if current else None
    dropped = previous_expiry if previous_expiry is not None and props.expires is None else None
    return SetOutcome(stored, dropped, unknown)


@dataclass(frozen=True)
class AttributeChanges:
    """What `update` changes on one version; None (or empty) leaves a field as it is."""

    content_type: str | None = None  # "" clears it
    set_tags: dict[str, str] = field(default_factory=dict)
    remove_tags: tuple[str, ...] = ()
    enabled: bool | None = None
    expires: dt.datetime | None = None
    not_before: dt.datetime | None = None

    def empty(self) -> bool:
        return (
            self.content_type is None
            and not self.set_tags
            and not self.remove_tags
            and self.enabled is None
            and self.expires is None
            and self.not_before is None
        )


def _version_metadata(backend: SecretBackend, ref: SecretRef) -> Secret:
    """The version to update, from the versions list: its value is never read."""
    versions = newest_first(backend.list_versions(ref.name))
    if ref.version:
        versions = [v for v in versions if (v.version or "").lower() == ref.version.lower()]
    if not versions:
        what = f"secret '{ref.name}'" + (f" version {ref.version}" if ref.version else "")
        raise _with_deleted_hint(backend, ref.name, NotFoundError(f"{what} not found in {ref.vault_url}"))
    return versions[0]


def update_secret(factory: BackendFactory, ref: SecretRef, changes: AttributeChanges) -> Secret:
    """Change one version's attributes (the latest unless the ref names one); no new version."""
    from .validate import MAX_TAGS

    if changes.empty():
        raise UsageError("nothing to change", hint="give at least one attribute to change (see --help)")
    backend = factory(ref.vault_url)
    target = _version_metadata(backend, ref)
    not_before = changes.not_before or target.attributes.not_before
    expires = changes.expires or target.attributes.expires
    if not_before is not None and expires is not None and not_before >= expires:
        raise UsageError(
            f"not-before ({not_before:%Y-%m-%d %H:%M}) would not be earlier than the expiry ({expires:%Y-%m-%d %H:%M})"
        )
    tags: dict[str, str] | None = None
    if changes.set_tags or changes.remove_tags:
        tags = {k: v for k, v in (target.tags or {}).items() if k not in changes.remove_tags}
        tags.update(changes.set_tags)
        if len(tags) > MAX_TAGS:
            raise UsageError(f"the version would have {len(tags)} tags", hint=f"a secret can have at most {MAX_TAGS}")
    try:
        return backend.update(
            ref.name,
            target.version,
            content_type=changes.content_type,
            tags=tags,
            enabled=changes.enabled,
            expires=changes.expires,
            not_before=changes.not_before,
        )
    except NotFoundError as exc:
        raise _with_deleted_hint(backend, ref.name, exc) from None


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


def delete_secret(factory: BackendFactory, ref: SecretRef, waiting: Waiting | None = None) -> Secret:
    backend = factory(ref.vault_url)
    return _on_live_secret(backend, ref.name, lambda: backend.delete(ref.name, waiting=waiting))


def recover_secret(factory: BackendFactory, ref: SecretRef, waiting: Waiting | None = None) -> Secret:
    backend = factory(ref.vault_url)
    try:
        return backend.recover(ref.name, waiting=waiting)
    except NotFoundError as exc:
        raise NotFoundError(
            f"no deleted secret '{ref.name}' in {ref.vault_url}",
            hint="`kvctl list --deleted` shows what can be recovered",
        ) from exc


def purge_secret(factory: BackendFactory, ref: SecretRef, waiting: Waiting | None = None) -> None:
    backend = factory(ref.vault_url)
    try:
        backend.purge(ref.name, waiting=waiting)
    except NotFoundError as exc:
        hint = "`kvctl list --deleted` shows what can be purged"
        try:
            backend.get(ref.name)
            hint = f"'{ref.name}' is not deleted; delete it first: kvctl delete {ref.name}"
        except KvctlError:  # only choosing a hint
            pass
        raise NotFoundError(f"no deleted secret '{ref.name}' in {ref.vault_url}", hint=hint) from exc


def backup_secret(factory: BackendFactory, ref: SecretRef) -> bytes:
    backend = factory(ref.vault_url)
    return _on_live_secret(backend, ref.name, lambda: backend.backup(ref.name))


def restore_secret(factory: BackendFactory, vault_url: str, blob: bytes, waiting: Waiting | None = None) -> Secret:
    return factory(vault_url).restore(blob, waiting=waiting)
