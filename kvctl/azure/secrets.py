"""`SecretBackend` on the Azure SDK's SecretClient.

Reads use the SDK's retries. Writes do not: a write whose response was lost may have been done,
and the SDK would simply send it again (a second version of a secret, say). kvctl retries writes
itself and, after a lost response, first checks whether the write took effect.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.keyvault.secrets import DeletedSecret, KeyVaultSecret, SecretClient, SecretProperties

from ..core.errors import KvctlError
from ..core.models import DeletedState, Secret, SecretAttributes
from ..core.redaction import register
from .errors import translate

T = TypeVar("T")
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CLOCK_SKEW = dt.timedelta(seconds=120)


def _text(value: Any) -> str | None:
    """The SDK hands some fields over as str-enums; kvctl shows their wire value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _secret_from(props: SecretProperties, value: str | None = None, deleted: DeletedState | None = None) -> Secret:
    identifier = props.id or ""
    return Secret(
        id=identifier,
        vault_url=(props.vault_url or "").rstrip("/"),
        name=props.name or "",
        version=props.version,
        attributes=SecretAttributes(
            enabled=props.enabled,
            created=props.created_on,
            updated=props.updated_on,
            expires=props.expires_on,
            not_before=props.not_before,
            recovery_level=_text(props.recovery_level),
            recoverable_days=props.recoverable_days,
        ),
        content_type=props.content_type,
        tags=dict(props.tags) if props.tags is not None else None,
        managed=props.managed,
        kid=props.key_id,
        value=value,
        deleted=deleted,
    )


def _from_kv_secret(secret: KeyVaultSecret) -> Secret:
    register(secret.value)
    return _secret_from(secret.properties, secret.value)


def _from_deleted(secret: DeletedSecret) -> Secret:
    state = DeletedState(secret.recovery_id, secret.deleted_date, secret.scheduled_purge_date)
    return _secret_from(secret.properties, None, state)


class AzureSecretBackend:
    def __init__(
        self, client: SecretClient, vault_url: str, retries: int, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client
        self.vault_url = vault_url
        self.retries = retries
        self._sleep = sleep

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except KvctlError:
            raise
        except Exception as exc:
            raise translate(exc, what=what, where=self.vault_url) from exc

    def _backoff(self, attempt: int, exc: BaseException | None) -> None:
        retry_after = None
        response = getattr(exc, "response", None)
        if response is not None:
            header = response.headers.get("Retry-After") if hasattr(response, "headers") else None
            if header and header.isdigit():
                retry_after = float(header)
        delay = retry_after if retry_after is not None else min(8.0, 0.25 * 2**attempt)
        self._sleep(delay * (0.75 + random.random() / 2))

    def _write(self, what: str, send: Callable[[], T], took_effect: Callable[[], T | None]) -> T:
        """Send a write with kvctl's retries; after a lost response, ask `took_effect` first. Until
        that check has answered, the write is not sent again: it may have been done already."""
        last: BaseException | None = None
        unsure = False  # a write may have taken effect, and no check has said whether it did
        for attempt in range(self.retries + 1):
            if attempt:
                self._backoff(attempt - 1, last)
            if unsure:
                done, unsure = self._check(took_effect)
                if done is not None:
                    return done
                if unsure:
                    continue
            try:
                return send()
            except KvctlError:
                raise
            except ServiceRequestError as exc:  # never reached the service
                last = exc
                continue
            except HttpResponseError as exc:
                if exc.status_code not in _TRANSIENT_STATUS:
                    if attempt and isinstance(last, ServiceResponseError):
                        done, _ = self._check(took_effect)
                        if done is not None:
                            return done
                    raise translate(exc, what=what, where=self.vault_url) from exc
                last = exc
            except ServiceResponseError as exc:  # sent, but the answer was lost
                last = exc
            done, unsure = self._check(took_effect)
            if done is not None:
                return done
        assert last is not None
        raise translate(last, what=what, where=self.vault_url) from last

    @staticmethod
    def _check(took_effect: Callable[[], T | None]) -> tuple[T | None, bool]:
        """(the result if the write took effect, whether that is still unknown)."""
        try:
            return took_effect(), False
        except (KvctlError, HttpResponseError, ServiceRequestError, ServiceResponseError):
            return None, True

    # -- reads ---------------------------------------------------------------------------------

    def get(self, name: str, version: str | None = None) -> Secret:
        what = f"secret '{name}'" + (f" version {version}" if version else "")
        return _from_kv_secret(self._call(what, self.client.get_secret, name, version))

    def _stream(self, what: str, pages: Any, convert: Callable[[Any], Secret]) -> Iterator[Secret]:
        """Items as the pages arrive (errors translated at each page fetch): a page at a time in memory."""
        iterator = iter(pages)  # the pager sends nothing until the first next()
        while True:
            item = self._call(what, next, iterator, None)
            if item is None:
                return
            yield convert(item)

    def list(self) -> Iterator[Secret]:
        what = "the secret list"
        return self._stream(
            what, self._call(what, self.client.list_properties_of_secrets, max_page_size=25), _secret_from
        )

    def list_versions(self, name: str) -> Iterator[Secret]:
        what = f"secret '{name}'"
        pages = self._call(what, self.client.list_properties_of_secret_versions, name, max_page_size=25)
        return self._stream(what, pages, _secret_from)

    def list_deleted(self) -> Iterator[Secret]:
        what = "the deleted secret list"
        return self._stream(what, self._call(what, self.client.list_deleted_secrets, max_page_size=25), _from_deleted)

    def get_deleted(self, name: str) -> Secret:
        return _from_deleted(self._call(f"deleted secret '{name}'", self.client.get_deleted_secret, name))

    def backup(self, name: str) -> bytes:
        return self._call(f"secret '{name}'", self.client.backup_secret, name)

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
    ) -> Secret:
        register(value)
        started = dt.datetime.now(dt.UTC)

        def send() -> Secret:
            return _from_kv_secret(
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
            try:
                latest = self.client.get_secret(name)
            except ResourceNotFoundError:
                return None  # a definite answer: a new secret that was not written
            created = latest.properties.created_on
            same = (
                latest.value == value
                and latest.properties.content_type == content_type
                and (latest.properties.tags or None) == (tags or None)
            )
            if same and created is not None and created >= started - _CLOCK_SKEW:
                return _from_kv_secret(latest)
            return None

        return self._write(f"secret '{name}'", send, took_effect)

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
            return _secret_from(
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

        # Updating attributes is idempotent: after a lost answer, sending it again is the check.
        return self._write(f"secret '{name}'", send, lambda: None)

    def delete(self, name: str) -> Secret:
        def send() -> Secret:
            return _from_deleted(self.client.begin_delete_secret(name, retry_total=0).result())

        def took_effect() -> Secret | None:
            try:
                return _from_deleted(self.client.get_deleted_secret(name))
            except ResourceNotFoundError:
                return None

        return self._write(f"secret '{name}'", send, took_effect)

    def recover(self, name: str) -> Secret:
        def send() -> Secret:
            return _secret_from(self.client.begin_recover_deleted_secret(name, retry_total=0).result())

        def took_effect() -> Secret | None:
            try:
                self.client.get_deleted_secret(name)
                return None
            except ResourceNotFoundError:
                pass
            try:
                return _secret_from(self.client.get_secret(name).properties)
            except HttpResponseError as exc:
                if exc.status_code == 403:  # disabled latest version: recovered all the same
                    return _secret_from(next(iter(self.client.list_properties_of_secret_versions(name))))
                return None

        return self._write(f"deleted secret '{name}'", send, took_effect)

    def purge(self, name: str) -> None:
        def send() -> bool:
            self.client.purge_deleted_secret(name, retry_total=0)
            return True

        def took_effect() -> bool | None:
            try:
                self.client.get_deleted_secret(name)
                return None
            except ResourceNotFoundError:
                return True

        self._write(f"deleted secret '{name}'", send, took_effect)

    def restore(self, blob: bytes) -> Secret:
        def send() -> Secret:
            return _secret_from(self.client.restore_secret_backup(blob, retry_total=0))

        # The blob is opaque, so a lost answer cannot be checked by name: a repeat then reports
        # the conflict ("already exists") and the secret is there either way.
        return self._write("the backup", send, lambda: None)
