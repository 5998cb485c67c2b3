"""The seam between kvctl's operations and a secrets store.

`kvctl.azure` implements it with the Azure SDK; unit tests use `tests/fakes.py`.
Implementations raise kvctl errors (NotFoundError, ForbiddenError, ...), never SDK ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .models import Secret

Waiting = Callable[[str], AbstractContextManager[Any]]
"""Shows that kvctl is waiting (a spinner on a terminal) while an operation's effect is pending."""


class SecretBackend(Protocol):
    vault_url: str

    def get(self, name: str, version: str | None = None) -> Secret: ...

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
        """`newer_than` is the version that was the latest when the caller decided to write (None:
        unknown or a new name); when an answer is lost, it tells this write's version from an
        identical one written a moment before."""
        ...

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
    ) -> Secret: ...

    def list(self) -> Iterator[Secret]: ...

    def list_versions(self, name: str) -> Iterator[Secret]: ...

    def list_deleted(self) -> Iterator[Secret]: ...

    def get_deleted(self, name: str) -> Secret: ...

    def delete(self, name: str, *, waiting: Waiting | None = None) -> Secret: ...

    def recover(self, name: str, *, waiting: Waiting | None = None) -> Secret: ...

    def purge(self, name: str, *, waiting: Waiting | None = None) -> None: ...

    def backup(self, name: str) -> bytes: ...

    def restore(self, blob: bytes, *, waiting: Waiting | None = None) -> Secret: ...


BackendFactory = Callable[[str], SecretBackend]
