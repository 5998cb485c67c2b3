"""An in-memory SecretBackend for unit tests of core operations (end-to-end tests use the emulator)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace

from kvctl.core.errors import ConflictError, ForbiddenError, NotFoundError
from kvctl.core.models import DeletedState, Secret, SecretAttributes


class FakeVault:
    def __init__(self, vault_url: str = "https://fake.vault.azure.net", *, deny: set[str] | None = None) -> None:
        self.vault_url = vault_url
        self.versions: dict[str, list[Secret]] = {}
        self.deleted: dict[str, DeletedState] = {}
        self.deny = deny or set()  # operations that answer 403
        self.calls: list[tuple[str, str]] = []

    def _check(self, operation: str, name: str) -> None:
        self.calls.append((operation, name))
        if operation in self.deny:
            raise ForbiddenError(
                f"forbidden {operation}", action=f"Microsoft.KeyVault/vaults/secrets/{operation}/action"
            )

    def _live(self, name: str) -> list[Secret]:
        versions = self.versions.get(name.lower())
        if not versions or name.lower() in self.deleted:
            raise NotFoundError(f"secret '{name}' not found")
        return versions

    def get(self, name: str, version: str | None = None) -> Secret:
        self._check("getSecret", name)
        versions = self._live(name)
        found = versions[-1] if version is None else next((v for v in versions if v.version == version), None)
        if found is None:
            raise NotFoundError(f"secret '{name}' version {version} not found")
        return found

    def set(self, name: str, value: str, **props) -> Secret:
        self._check("setSecret", name)
        if name.lower() in self.deleted:
            raise ConflictError("deleted but recoverable")
        version = uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC)
        secret = Secret(
            id=f"{self.vault_url}/secrets/{name}/{version}",
            vault_url=self.vault_url,
            name=name,
            version=version,
            attributes=SecretAttributes(
                enabled=props.get("enabled") is not False,
                created=now,
                updated=now,
                expires=props.get("expires"),
                not_before=props.get("not_before"),
            ),
            content_type=props.get("content_type"),
            tags=props.get("tags"),
            value=value,
        )
        self.versions.setdefault(name.lower(), []).append(secret)
        return secret

    def update(self, name: str, version: str | None = None, **props) -> Secret:
        versions = self._live(name)
        self._check("update", name)
        index = -1 if version is None else next((i for i, v in enumerate(versions) if v.version == version), None)
        if index is None:
            raise NotFoundError(f"secret '{name}' version {version} not found")
        current = versions[index]
        attrs = replace(
            current.attributes,
            **{
                k: v
                for k, v in {"enabled": props.get("enabled"), "expires": props.get("expires")}.items()
                if v is not None
            },
        )
        versions[index] = replace(current, attributes=attrs, tags=props.get("tags", current.tags))
        return versions[index].without_value()

    def list(self) -> Iterator[Secret]:
        self._check("readMetadata", "")
        for name in sorted(self.versions):
            if name not in self.deleted:
                latest = self.versions[name][-1].without_value()
                yield replace(latest, id=f"{self.vault_url}/secrets/{latest.name}", version=None)

    def list_versions(self, name: str) -> Iterator[Secret]:
        self._check("readMetadata", name)
        if name.lower() in self.deleted:
            return iter(())
        return iter(v.without_value() for v in self.versions.get(name.lower(), []))

    def list_deleted(self) -> Iterator[Secret]:
        for name, state in sorted(self.deleted.items()):
            yield replace(self.versions[name][-1].without_value(), deleted=state)

    def get_deleted(self, name: str) -> Secret:
        if name.lower() not in self.deleted:
            raise NotFoundError(f"no deleted secret '{name}'")
        return replace(self.versions[name.lower()][-1].without_value(), deleted=self.deleted[name.lower()])

    def delete(self, name: str, *, waiting=None) -> Secret:
        self._live(name)
        now = dt.datetime.now(dt.UTC)
        self.deleted[name.lower()] = DeletedState(
            f"{self.vault_url}/deletedsecrets/{name}", now, now + dt.timedelta(days=90)
        )
        return self.get_deleted(name)

    def recover(self, name: str, *, waiting=None) -> Secret:
        if self.deleted.pop(name.lower(), None) is None:
            raise NotFoundError(f"no deleted secret '{name}'")
        return self.versions[name.lower()][-1].without_value()

    def purge(self, name: str, *, waiting=None) -> None:
        if self.deleted.pop(name.lower(), None) is None:
            raise NotFoundError(f"no deleted secret '{name}'")
        del self.versions[name.lower()]

    def backup(self, name: str) -> bytes:
        return name.encode()

    def restore(self, blob: bytes, *, waiting=None) -> Secret:
        return self.get(blob.decode()).without_value()
