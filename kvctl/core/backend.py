"""The seam between kvctl's operations and a secrets store.

`kvctl.azure` implements it with the Azure SDK; unit tests use `tests/fakes.py`.
Implementations raise kvctl errors (NotFoundError, ForbiddenError, ...), never SDK ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Protocol

from .models import Secret


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
    ) -> Secret: ...

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

    def delete(self, name: str) -> Secret: ...

    def recover(self, name: str) -> Secret: ...

    def purge(self, name: str) -> None: ...

    def backup(self, name: str) -> bytes: ...

    def restore(self, blob: bytes) -> Secret: ...


BackendFactory = Callable[[str], SecretBackend]
