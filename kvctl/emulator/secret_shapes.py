"""How the secrets API shapes its answers: records, attributes, deleted records, and paging."""

from __future__ import annotations

import base64
import json
from typing import Any

from .http import ApiError, Request
from .store import DeletedInfo, SecretVersion
from .world import World, recovery_of

MAX_PAGE = 25
SUPPORTED_API_VERSIONS = (
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
    "2026-04-01",
)
LATEST_API_VERSION = SUPPORTED_API_VERSIONS[-1]


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadParameter", message)


class SecretShapes:
    def __init__(self, world: World, vault_name: str, base_url: str) -> None:
        self.world = world
        self.vault_name = vault_name
        self.base_url = base_url

    def recovery(self) -> tuple[str, int | None]:
        return recovery_of(self.world.vault(self.vault_name).properties)

    def attributes(self, v: SecretVersion) -> dict[str, Any]:
        level, days = self.recovery()
        attrs: dict[str, Any] = {"enabled": v.enabled}
        if v.nbf is not None:
            attrs["nbf"] = v.nbf
        if v.exp is not None:
            attrs["exp"] = v.exp
        attrs["created"] = v.created
        attrs["updated"] = v.updated
        attrs["recoveryLevel"] = level
        if days is not None:
            attrs["recoverableDays"] = days
        return attrs

    def bundle(self, v: SecretVersion, *, with_value: bool, versioned: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if with_value:
            body["value"] = v.value
        body["id"] = f"{self.base_url}/secrets/{v.name}" + (f"/{v.version}" if versioned else "")
        if v.content_type is not None:
            body["contentType"] = v.content_type
        body["attributes"] = self.attributes(v)
        if v.tags is not None:
            body["tags"] = v.tags
        return body

    def deleted_bundle(self, v: SecretVersion, info: DeletedInfo, *, versioned: bool) -> dict[str, Any]:
        return {
            "recoveryId": f"{self.base_url}/deletedsecrets/{v.name}",
            "deletedDate": info.deleted_date,
            "scheduledPurgeDate": info.scheduled_purge_date,
            **self.bundle(v, with_value=False, versioned=versioned),
        }

    @staticmethod
    def page_size(request: Request) -> int:
        raw = request.query.get("maxresults")
        if raw is None or raw == "":
            return MAX_PAGE
        try:
            size = int(raw)
        except ValueError as exc:
            raise _bad(f"Invalid value for maxresults: {raw}") from exc
        if not 1 <= size <= MAX_PAGE:
            raise _bad(f"The value of maxresults must be between 1 and {MAX_PAGE}.")
        return size

    @staticmethod
    def cursor(request: Request) -> Any:
        token = request.query.get("$skiptoken")
        if not token:
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["after"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _bad("The $skiptoken is invalid.") from exc

    def next_link(self, request: Request, path: str, after: Any, size: int) -> str:
        token = base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).rstrip(b"=").decode()
        version = request.query.get("api-version", LATEST_API_VERSION)
        return f"{self.base_url}{path}?api-version={version}&$skiptoken={token}&maxresults={size}"
