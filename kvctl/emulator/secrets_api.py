"""The Key Vault secrets data plane, answered as the service answers it (KEYVAULT-WIRE.md §1)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from . import audit_log
from . import secret_rules as rules
from .authz import authorize_secret_operation
from .backup_blob import seal, unseal
from .http import ApiError, Request, Response
from .lifecycle import DELETING, PURGING, RECOVERING, RESTORING
from .secret_shapes import SUPPORTED_API_VERSIONS, SecretShapes
from .store import DeletedInfo, NameConflict, SecretVersion
from .tokens import CAE_MESSAGE, VAULT_AUDIENCES, TokenError
from .world import World, recovery_of

NAME_PATTERN = re.compile(r"^[0-9a-zA-Z-]{1,127}\Z")
VERSION_PATTERN = re.compile(r"^[0-9a-fA-F]{32}\Z")
MAX_VALUE_BYTES = 25 * 1024
_PURGE_SWEEP_SECONDS = 60.0
_CREATE_OPERATIONS = frozenset({"set"})
_WRITE_OPERATIONS = frozenset({"set", "update", "delete", "recover", "purge", "restore"})


def _not_found(name: str, version: str | None = None) -> ApiError:
    what = f"{name}/{version}" if version else name
    return ApiError(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {what} was not found in this key vault. If you recently deleted this "
        "secret you may be able to recover it using the correct recovery command. For help resolving this "
        "issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
    )


def _deleted_not_found(name: str) -> ApiError:
    return ApiError(404, "SecretNotFound", f"Deleted Secret not found: {name}")


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadParameter", message)


@dataclass(frozen=True)
class _Route:
    operation: str
    secret: str | None
    run: Callable[[Request], Response]


class VaultService:
    """One emulated vault, served on its own port."""

    def __init__(self, world: World, vault_name: str, base_url: str) -> None:
        self.world = world
        self.vault_name = vault_name
        self.base_url = base_url.rstrip("/")
        self.shapes = SecretShapes(world, vault_name, self.base_url)
        self.lifecycle = world.lifecycle
        self._next_sweep = 0.0

    # -- request pipeline ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        knobs = self.world.knobs
        knobs.before_work()
        started = time.time()
        claims: dict[str, Any] | None = None
        authorized: bool | None = None
        try:
            claims = self._authenticate(request)
            self._check_api_version(request)
            route = self._route(request)
            authorized = False
            authorize_secret_operation(self.world, self.vault_name, claims, route.operation, route.secret)
            authorized = True
            knobs.throttle(self.vault_name, route.operation in _CREATE_OPERATIONS)
            response = route.run(request)
        except ApiError as err:
            audit_log.record_request(self, request, started, err, claims, authorized)
            raise
        audit_log.record_request(self, request, started, response, claims, authorized)  # work done, if dropped
        if route.operation in _WRITE_OPERATIONS and response.status < 300:
            knobs.after_write()
        return response

    def _challenge(self, message: str) -> ApiError:
        header = (
            f'Bearer authorization="https://login.windows.net/{self.world.site.tenant_id}", '
            'resource="https://vault.azure.net"'
        )
        return ApiError(401, "Unauthorized", message, headers={"WWW-Authenticate": header})

    def _authenticate(self, request: Request) -> dict[str, Any]:
        token = request.bearer_token()
        if token is None:
            raise self._challenge("AKV10000: Request is missing a Bearer or PoP token.")
        try:
            claims = self.world.tokens.verify(token, VAULT_AUDIENCES)
        except TokenError as exc:
            if str(exc) == "revoked" and self.world.tokens.claims_challenge:
                header = self.world.tokens.claims_challenge_header()  # continuous access evaluation
                raise ApiError(401, "Unauthorized", CAE_MESSAGE, headers={"WWW-Authenticate": header}) from exc
            reason = {
                "audience": "AKV10022: Invalid audience.",
                "expired": "AKV10032: Token expired.",
            }.get(str(exc), "AKV10031: The token could not be validated.")
            raise self._challenge(reason) from exc
        if self.world.find_identity(object_id=str(claims.get("oid"))) is None:
            raise self._challenge("AKV10031: The token could not be validated.")
        return claims

    @staticmethod
    def _check_api_version(request: Request) -> None:
        version = request.query.get("api-version")
        if not version:
            raise _bad("The api-version query parameter is required.")
        if version not in SUPPORTED_API_VERSIONS:
            raise _bad(
                f"The specified version ({version}) is not recognized. Consider using the latest supported "
                f"version ({SUPPORTED_API_VERSIONS[-1]})."
            )

    def _route(self, request: Request) -> _Route:
        segments = request.path.strip("/").split("/") if request.path.strip("/") else []
        trailing = request.path.endswith("/") and len(segments) > 0
        method = request.method
        collection = segments[0].lower() if segments else ""
        rest = segments[1:]

        def name_at(index: int) -> str:
            name = rest[index]
            if not NAME_PATTERN.match(name):
                raise _bad(f"The request URI contains an invalid name: {name}")
            return name

        if collection == "secrets":
            if not rest and method == "GET":
                return _Route("list", None, self._list)
            if rest == ["restore"] and method == "POST":
                return _Route("restore", None, self._restore)
            if len(rest) == 1:
                name = name_at(0)
                if method == "PUT" and not trailing:
                    return _Route("set", name, lambda r: self._set(r, name))
                if method == "DELETE" and not trailing:
                    return _Route("delete", name, lambda r: self._delete(name))
                if method == "GET":
                    return _Route("get", name, lambda r: self._get(name, None))
                if method == "PATCH":
                    return _Route("update", name, lambda r: self._update(r, name, None))
            if len(rest) == 2:
                name = name_at(0)
                tail = rest[1]
                if tail.lower() == "versions" and method == "GET":
                    return _Route("list", name, lambda r: self._list_versions(r, name))
                if tail.lower() == "backup" and method == "POST":
                    return _Route("backup", name, lambda r: self._backup(name))
                version = tail or None
                if method == "GET":
                    return _Route("get", name, lambda r: self._get(name, version))
                if method == "PATCH":
                    return _Route("update", name, lambda r: self._update(r, name, version))
        elif collection == "deletedsecrets":
            if not rest and method == "GET":
                return _Route("list", None, self._list_deleted)
            if len(rest) == 1:
                name = name_at(0)
                if method == "GET":
                    return _Route("list", name, lambda r: self._get_deleted(name))
                if method == "DELETE":
                    return _Route("purge", name, lambda r: self._purge(name))
            if len(rest) == 2 and rest[1].lower() == "recover" and method == "POST":
                name = name_at(0)
                return _Route("recover", name, lambda r: self._recover(name))
        raise ApiError(404, "NotFound", f"The requested resource {request.path} was not found.")

    # -- operations ----------------------------------------------------------------------------

    def _sweep(self) -> None:
        now = time.time()
        if now >= self._next_sweep:
            self._next_sweep = now + _PURGE_SWEEP_SECONDS
            self.world.store.purge_expired(self.vault_name, int(now))

    def _set(self, request: Request, name: str) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        value = body.get("value")
        if not isinstance(value, str):
            raise _bad("Property 'value' is required and must be a string.")
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise _bad(f"The secret value exceeds the maximum allowed size of {MAX_VALUE_BYTES} bytes.")
        content_type = rules.content_type(body.get("contentType"))
        tags = rules.tags(body.get("tags"))
        attrs = rules.attributes_in(body.get("attributes"))
        now = int(time.time())
        self._sweep()
        self.lifecycle.refuse_write(self.vault_name, name)
        version = SecretVersion(
            name=name,
            version=uuid.uuid4().hex,
            value=value,
            content_type=content_type,
            tags=tags,
            enabled=attrs.get("enabled", True),
            nbf=attrs.get("nbf"),
            exp=attrs.get("exp"),
            created=now,
            updated=now,
        )
        try:
            stored = self.world.store.add_version(self.vault_name, version)
        except NameConflict as exc:
            raise rules.deleted_conflict(name) from exc
        return Response(200, self.shapes.bundle(stored, with_value=True))

    def _arriving(self, name: str) -> bool:
        """A recovered or restored secret that is not visible yet (--lifecycle-delay)."""
        return self.lifecycle.pending(self.vault_name, name) in (RECOVERING, RESTORING)

    def _readable(self, name: str, version: str | None) -> SecretVersion:
        if version is not None and not VERSION_PATTERN.match(version):
            raise _not_found(name, version)
        if self._arriving(name):
            raise _not_found(name, version)
        found = self.world.store.get_version(self.vault_name, name, version)
        if found is None:
            raise _not_found(name, version)
        return found

    def _get(self, name: str, version: str | None) -> Response:
        found = self._readable(name, version)
        if not found.enabled:
            raise ApiError(403, "Forbidden", "Operation get is not allowed on a disabled secret.")
        return Response(200, self.shapes.bundle(found, with_value=True))

    def _update(self, request: Request, name: str, version: str | None) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise _bad("The request body must be a JSON object.")
        attrs = rules.attributes_in(body.get("attributes"))
        content_type = rules.content_type(body["contentType"]) if "contentType" in body else None
        tags = rules.tags(body["tags"]) if "tags" in body else None
        with self.world.store.transaction():  # read and write as one: concurrent updates all land
            found = self._readable(name, version)
            updated = replace(
                found,
                content_type=content_type if "contentType" in body else found.content_type,
                tags=tags if "tags" in body else found.tags,
                enabled=attrs.get("enabled", found.enabled),
                nbf=attrs.get("nbf", found.nbf),
                exp=attrs.get("exp", found.exp),
                updated=int(time.time()),
            )
            self.world.store.update_version(self.vault_name, updated)
        return Response(200, self.shapes.bundle(updated, with_value=False))

    def _list(self, request: Request) -> Response:
        size = self.shapes.page_size(request)
        after = self.shapes.cursor(request) or ""
        rows = self.world.store.list_latest(self.vault_name, after, size + 1)
        hidden = self.lifecycle.hidden(self.vault_name, (RECOVERING, RESTORING))
        items = [
            self.shapes.bundle(v, with_value=False, versioned=False)
            for v, _ in rows[:size]
            if v.name.lower() not in hidden
        ]
        next_link = (
            self.shapes.next_link(request, "/secrets", rows[size - 1][0].name.lower(), size)
            if len(rows) > size
            else None
        )
        return Response(200, {"value": items, "nextLink": next_link})

    def _list_versions(self, request: Request, name: str) -> Response:
        size = self.shapes.page_size(request)
        after = self.shapes.cursor(request) or 0
        if not isinstance(after, int):
            raise _bad("The $skiptoken is invalid.")
        rows = [] if self._arriving(name) else self.world.store.list_versions(self.vault_name, name, after, size + 1)
        items = [self.shapes.bundle(v, with_value=False) for _, v in rows[:size]]
        next_link = (
            self.shapes.next_link(request, f"/secrets/{name}/versions", rows[size - 1][0], size)
            if len(rows) > size
            else None
        )
        return Response(200, {"value": items, "nextLink": next_link})

    def _delete(self, name: str) -> Response:
        store = self.world.store
        self.lifecycle.refuse_write(self.vault_name, name)
        found = store.get_version(self.vault_name, name, None)
        if found is None:
            raise _not_found(name)
        properties = self.world.vault(self.vault_name).properties
        _, days = recovery_of(properties)
        if days is None:
            store.erase(self.vault_name, name, only_deleted=False)
            return Response(200, self.shapes.bundle(found, with_value=False))
        now = int(time.time())
        info = DeletedInfo(now, now + days * 86400)
        if not store.soft_delete(self.vault_name, name, info):
            raise _not_found(name)
        self.lifecycle.start(self.vault_name, name, DELETING)
        return Response(200, self.shapes.deleted_bundle(found, info, versioned=True))

    def _get_deleted(self, name: str) -> Response:
        self._sweep()
        if self.lifecycle.pending(self.vault_name, name) == DELETING:
            raise _deleted_not_found(name)
        found = self.world.store.get_version(self.vault_name, name, None, deleted=True)
        info = self.world.store.deleted_info(self.vault_name, name)
        if found is None or info is None:
            raise _deleted_not_found(name)
        return Response(200, self.shapes.deleted_bundle(found, info, versioned=True))

    def _list_deleted(self, request: Request) -> Response:
        self._sweep()
        size = self.shapes.page_size(request)
        after = self.shapes.cursor(request) or ""
        rows = self.world.store.list_latest(self.vault_name, after, size + 1, deleted=True)
        hidden = self.lifecycle.hidden(self.vault_name, (DELETING,))
        items = [
            self.shapes.deleted_bundle(v, info, versioned=False)
            for v, info in rows[:size]
            if info is not None and v.name.lower() not in hidden
        ]
        next_link = (
            self.shapes.next_link(request, "/deletedsecrets", rows[size - 1][0].name.lower(), size)
            if len(rows) > size
            else None
        )
        return Response(200, {"value": items, "nextLink": next_link})

    def _recover(self, name: str) -> Response:
        self._sweep()
        self.lifecycle.refuse_write(self.vault_name, name)
        with self.world.store.transaction():  # no delete may slip in between
            if not self.world.store.recover(self.vault_name, name):
                raise _deleted_not_found(name)
            found = self.world.store.get_version(self.vault_name, name, None)
            self.lifecycle.start(self.vault_name, name, RECOVERING)
        assert found is not None
        return Response(200, self.shapes.bundle(found, with_value=False))

    def _purge(self, name: str) -> Response:
        self.lifecycle.refuse_write(self.vault_name, name)
        if self.world.vault(self.vault_name).properties.get("enablePurgeProtection"):
            if self.world.store.deleted_info(self.vault_name, name) is None:
                raise _deleted_not_found(name)
            raise ApiError(
                403,
                "Forbidden",
                'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault '
                "service will automatically purge it after the retention period has passed.",
            )
        if not self.world.store.erase(self.vault_name, name, only_deleted=True):
            raise _deleted_not_found(name)
        self.lifecycle.start(self.vault_name, name, PURGING)
        return Response(204)

    # -- backup and restore: an opaque, encrypted blob ------------------------------------------

    def _backup(self, name: str) -> Response:
        versions = [] if self._arriving(name) else self.world.store.all_versions(self.vault_name, name)
        if not versions:
            raise _not_found(name)
        return Response(200, {"value": seal(self.world.store, versions[0].name, versions)})

    def _restore(self, request: Request) -> Response:
        body = request.json()
        blob_text = body.get("value") if isinstance(body, dict) else None
        if not isinstance(blob_text, str):
            raise _bad("Property 'value' is required and must be a string.")
        try:
            name, versions = unseal(self.world.store, blob_text)
        except ValueError as exc:  # any tampering or foreign blob: the service's answer is the same
            raise _bad("Backup blob contains invalid or corrupt version.") from exc
        self.lifecycle.refuse_write(self.vault_name, name)
        try:
            latest = self.world.store.restore(self.vault_name, name, versions)
        except NameConflict as exc:
            if exc.deleted:
                raise rules.deleted_conflict(name) from exc
            raise ApiError(409, "Conflict", f"Secret {name} already exists.") from exc
        self.lifecycle.start(self.vault_name, name, RESTORING)
        # As recorded (test_example_secrets_backup_restore): the id and the attributes, no value,
        # no tags, no content type.
        bundle = self.shapes.bundle(latest, with_value=False)
        return Response(200, {"id": bundle["id"], "attributes": bundle["attributes"]})
