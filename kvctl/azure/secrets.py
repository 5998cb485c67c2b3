"""`SecretBackend` on the Azure SDK's SecretClient.

Reads use the SDK's retries, backup too (its POST only reads). Writes use kvctl's (writes.py):
after a lost answer a write is checked, exactly and through metadata, before it is sent again.
Delete, recover, purge and restore finish asynchronously in the service (KEYVAULT-WIRE.md): kvctl
waits until their effect is visible before it says they are done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError
from azure.keyvault.secrets import SecretClient, SecretProperties

from ..core.backend import Waiting
from ..core.errors import ForbiddenError, KvctlError, UnavailableError
from ..core.models import Secret
from ..core.redaction import register
from . import raw_reads
from .errors import translate
from .pipeline import READ_ONLY_POST
from .secret_records import from_deleted, from_kv_secret, secret_from
from .writes import ServerClock, Unknown, WriteRunner, wait_until

T = TypeVar("T")
# How long kvctl waits for a delete, recover, purge or restore to become visible (recordings: 2-6 s).
LIFECYCLE_TIMEOUT = 120.0
# A latest version younger than this (plus clock skew) may share a creation second with a new write.
_RECENT_SECONDS = 15.0
_ACCEPTED = object()  # a check's answer: the service has taken the operation on; its effect is pending


class AzureSecretBackend:
    def __init__(
        self,
        client: SecretClient,
        vault_url: str,
        retries: int,
        sleep: Callable[[float], None] = time.sleep,
        clock: ServerClock | None = None,
    ) -> None:
        self.client = client
        self.vault_url = vault_url
        self.retries = retries
        self._sleep = sleep
        self.clock = clock or ServerClock()
        self.lifecycle_timeout = LIFECYCLE_TIMEOUT

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except KvctlError:
            raise
        except Exception as exc:
            raise translate(exc, what=what, where=self.vault_url) from exc

    def _write(
        self,
        what: str,
        send: Callable[[], T],
        took_effect: Callable[[], T | None],
        settle: Callable[[], T | None] | None = None,
    ) -> T:
        runner = WriteRunner(self.retries, self.vault_url, self._sleep)
        try:
            return runner.run(what, send, took_effect, settle)
        except KvctlError:
            raise
        except Exception as exc:  # e.g. a versions answer the SDK cannot read, in a write's check
            raise translate(exc, what=what, where=self.vault_url) from exc

    def _await(self, description: str, visible: Callable[[], T | None], waiting: Waiting | None) -> T | None:
        """`visible()` once; if the effect is not visible yet, poll it (showing `description`)."""
        try:
            found = visible()
        except (HttpResponseError, Unknown):
            found = None
        if found is not None:
            return found
        notice = waiting(description) if waiting is not None else contextlib.nullcontext()
        with notice:
            result: T | None = wait_until(visible, timeout=self.lifecycle_timeout, sleep=self._sleep)
        return result

    def _not_visible(self, what: str, hint: str) -> UnavailableError:
        return UnavailableError(
            f"{what}: the service accepted it, but it was not visible after {self.lifecycle_timeout:.0f} s",
            hint=hint,
        )

    def _live_properties(self, name: str) -> Secret | None:
        """The latest version's attributes if the secret is live and readable (a disabled one too), else None."""
        try:
            return secret_from(self.client.get_secret(name).properties)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise
        # 403: a disabled latest version, or no right to read values; the metadata still shows it.
        versions = [secret_from(p) for p in self.client.list_properties_of_secret_versions(name)]
        if not versions:
            return None
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        return max(versions, key=lambda v: v.attributes.created or epoch)

    def _has_versions(self, name: str) -> bool:
        """Whether the secret is live, from its versions list (metadata: no value is read). The
        service answers an unknown or deleted name with an empty list."""
        try:
            return next(iter(self.client.list_properties_of_secret_versions(name)), None) is not None
        except ResourceNotFoundError:
            return False

    def _deleted_or_none(self, name: str) -> Secret | None:
        try:
            return from_deleted(self.client.get_deleted_secret(name))
        except ResourceNotFoundError:
            return None

    # -- reads ---------------------------------------------------------------------------------

    def get(self, name: str, version: str | None = None) -> Secret:
        what = f"secret '{name}'" + (f" version {version}" if version else "")
        return self._call(what, raw_reads.get_secret, self.client, name, version)

    def _stream(self, what: str, pages: Any, convert: Callable[[Any], Secret]) -> Iterator[Secret]:
        """Items as the pages arrive (errors translated at each page fetch): a page at a time in memory.
        A page is converted whole before any of it is handed on, so an item kvctl cannot read
        fails the page before its first item has been printed."""
        page_iterator = pages.by_page()  # the pager sends nothing until the first next()
        while True:
            page = self._call(what, next, page_iterator, None)
            if page is None:
                return
            items: list[Any] = self._call(what, list, page)
            yield from [convert(item) for item in items]

    def list(self) -> Iterator[Secret]:
        what = "the secret list"
        pages = raw_reads.list_pages(self.client, what)
        while True:
            page = self._call(what, next, pages, None)
            if page is None:
                return
            yield from page

    def list_versions(self, name: str) -> Iterator[Secret]:
        what = f"secret '{name}'"
        pages = self._call(what, self.client.list_properties_of_secret_versions, name, max_page_size=25)
        return self._stream(what, pages, secret_from)

    def list_deleted(self) -> Iterator[Secret]:
        what = "the deleted secret list"
        return self._stream(what, self._call(what, self.client.list_deleted_secrets, max_page_size=25), from_deleted)

    def get_deleted(self, name: str) -> Secret:
        return from_deleted(self._call(f"deleted secret '{name}'", self.client.get_deleted_secret, name))

    def backup(self, name: str) -> bytes:
        return self._call(f"secret '{name}'", self.client.backup_secret, name, retry_on_methods=READ_ONLY_POST)

    # -- writes --------------------------------------------------------------------------------

    def set(
        self,
        name: str,
        value: str,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        enabled: bool | None = None,
        expires: dt.datetime | None = None,
        not_before: dt.datetime | None = None,
        newer_than: Secret | None = None,
    ) -> Secret:
        register(value)
        known = self._recent_versions(name, newer_than)
        sent_at = [time.time()]  # when the latest attempt was sent (kvctl's clock)

        def send() -> Secret:
            sent_at.append(time.time())
            return from_kv_secret(
                self.client.set_secret(
                    name,
                    value,
                    content_type=content_type,
                    tags=tags,
                    enabled=enabled,
                    expires_on=expires,
                    not_before=not_before,
                    retry_total=0,
                )
            )

        def took_effect() -> Secret | None:
            """Done only if a version created after the first attempt was sent carries every
            attribute sent, found through the versions list (metadata), and, where the version is
            enabled, the value sent. A disabled version's value is never read (it cannot be)."""
            floor = self.clock.floor(sent_at[1] if len(sent_at) > 1 else sent_at[0])
            # `created` has whole seconds: an identical version written just before this command
            # (the same value and expiry, by a script that runs `set` in a loop) can pass the floor.
            # The version that was the latest before the write is excluded, and so is anything older.
            if newer_than is not None and newer_than.attributes.created is not None:
                floor = max(floor, newer_than.attributes.created)
            excluded = known | {newer_than.version if newer_than is not None else None}
            candidates = [
                p
                for p in self.client.list_properties_of_secret_versions(name)
                if p.created_on is not None
                and p.created_on >= floor
                and p.version not in excluded
                and _same_attributes(p, content_type, tags, enabled, expires, not_before)
            ]
            epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
            for props in sorted(candidates, key=lambda p: p.created_on or epoch, reverse=True):
                if props.enabled is False:
                    return secret_from(props)
                try:
                    stored = self.client.get_secret(name, props.version)
                except HttpResponseError as exc:
                    if exc.status_code == 403:  # may write but not read: the metadata has to do
                        return secret_from(props)
                    raise
                if stored.value == value:
                    return from_kv_secret(stored)
            return None

        return self._write(f"secret '{name}'", send, took_effect)

    def _recent_versions(self, name: str, newer_than: Secret | None) -> frozenset[str]:
        """The versions that exist before a write, listed only when the latest one is seconds old.
        Then an identical version written a moment before (`set` in a loop, a second kvctl) may
        share its creation second with this write's, and only its id tells them apart when an
        answer is lost. An older latest version is told apart by time alone: no request."""
        created = newer_than.attributes.created if newer_than is not None else None
        if created is None or created.timestamp() < time.time() - _RECENT_SECONDS:
            return frozenset()
        try:
            return frozenset(p.version for p in self.client.list_properties_of_secret_versions(name) if p.version)
        except (HttpResponseError, ServiceRequestError, ServiceResponseError):
            return frozenset()  # the times still decide, as without the list

    def update(
        self,
        name: str,
        version: str | None = None,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        enabled: bool | None = None,
        expires: dt.datetime | None = None,
        not_before: dt.datetime | None = None,
    ) -> Secret:
        def send() -> Secret:
            return secret_from(
                self.client.update_secret_properties(
                    name,
                    version,
                    content_type=content_type,
                    tags=tags,
                    enabled=enabled,
                    expires_on=expires,
                    not_before=not_before,
                    retry_total=0,
                )
            )

        # Setting attributes is idempotent: after a lost answer, sending the same again is exact.
        return self._write(f"secret '{name}'", send, lambda: None)

    def delete(self, name: str, *, waiting: Waiting | None = None) -> Secret:
        def send() -> Any:
            return from_deleted(self.client.begin_delete_secret(name, retry_total=0).result())

        def took_effect() -> Any:
            deleted = self._deleted_or_none(name)
            if deleted is not None:
                return deleted
            if self._has_versions(name):
                return None  # still there: not done
            return _ACCEPTED  # gone from the live secrets, not yet among the deleted ones

        result = self._write(f"secret '{name}'", send, took_effect)
        if isinstance(result, Secret):
            level = result.attributes.recovery_level or ""
            if result.deleted is None or "Recoverable" not in level:
                return result  # no soft delete: nothing will appear among the deleted secrets
        found = self._await(f"waiting for '{name}' to show as deleted", lambda: self._deleted_or_none(name), waiting)
        if found is None:
            raise self._not_visible(f"the delete of '{name}'", "kvctl list --deleted shows it once the service is done")
        return found

    def recover(self, name: str, *, waiting: Waiting | None = None) -> Secret:
        def send() -> Any:
            self.client.begin_recover_deleted_secret(name, retry_total=0).result()
            return _ACCEPTED

        def took_effect() -> Any:
            if self._deleted_or_none(name) is not None:
                return None  # still deleted: not done
            return _ACCEPTED  # no longer among the deleted: recovered (visible or soon)

        self._write(f"deleted secret '{name}'", send, took_effect)
        found = self._await(f"waiting for '{name}' to be readable again", lambda: self._live_properties(name), waiting)
        if found is None:
            raise self._not_visible(f"the recovery of '{name}'", f"kvctl show {name} shows it once the service is done")
        return found

    def purge(self, name: str, *, waiting: Waiting | None = None) -> None:
        def send() -> bool:
            self.client.purge_deleted_secret(name, retry_total=0)
            return True

        def took_effect() -> bool | None:
            return True if self._deleted_or_none(name) is None else None

        self._write(f"deleted secret '{name}'", send, took_effect)

        def gone() -> bool | None:
            return True if self._deleted_or_none(name) is None else None

        if self._await(f"waiting for '{name}' to be purged", gone, waiting) is None:
            raise self._not_visible(f"the purge of '{name}'", "kvctl list --deleted shows when it is gone")

    def _live_names(self) -> dict[str, Secret]:
        return {s.name.lower(): s for s in self.list()}

    def restore(self, blob: bytes, *, waiting: Waiting | None = None) -> Secret:
        # The blob is opaque: which secret it holds shows only in the answer. So that a lost answer
        # can be told from "already exists", kvctl notes the names that exist before it sends.
        before: set[str] | None
        try:
            before = set(self._live_names())
        except ForbiddenError:
            before = None  # may restore but not list: a lost answer is then told by sending again

        def send() -> Any:
            return secret_from(self.client.restore_secret_backup(blob, retry_total=0))

        def new_secret() -> Any:
            if before is None:
                return None
            fresh = [s for key, s in self._live_names().items() if key not in before]
            return fresh[0] if len(fresh) == 1 else None

        def settle() -> Any:
            if before is None:
                return None
            # A 409 after a lost answer: kvctl's own first attempt may be taking effect; wait for it.
            return wait_until(new_secret, timeout=self.lifecycle_timeout, sleep=self._sleep)

        result = self._write("the backup", send, new_secret, settle)
        restored_name = result.name
        found = self._await(
            f"waiting for '{restored_name}' to be readable",
            lambda: self._live_properties(restored_name),
            waiting,
        )
        if found is None:
            raise self._not_visible(
                f"the restore of '{restored_name}'", f"kvctl show {restored_name} shows it once the service is done"
            )
        return found


def _same_instant(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return int(a.timestamp()) == int(b.timestamp())


def _same_attributes(
    props: SecretProperties,
    content_type: str | None,
    tags: dict[str, str] | None,
    enabled: bool | None,
    expires: dt.datetime | None,
    not_before: dt.datetime | None,
) -> bool:
    wanted_enabled = enabled is not False  # not sent = enabled
    return (
        (props.content_type or None) == (content_type or None)
        and (dict(props.tags) if props.tags else None) == (tags or None)
        and (props.enabled is not False) == wanted_enabled
        and _same_instant(props.expires_on, expires)
        and _same_instant(props.not_before, not_before)
    )
