"""Azure Resource Graph on the ARM port: `POST /providers/Microsoft.ResourceGraph/resources`
(api-version 2021-03-01 and 2022-10-01), with the service's request and response shapes, paging
by `$skipToken`, and its error body. Tables: `Resources` (the vaults the caller may read) and
`ResourceContainers` (the subscriptions it sees and their resource groups). The query language is
the KQL subset of kql.py; anything else gets ARG's `InvalidQuery` answer, never a wrong result.

The scope is the request's `subscriptions`, or its `managementGroups` (only the tenant root group
exists: its id is the tenant id, and it holds every subscription), or, with neither, every
subscription the caller sees (a tenant-level query)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .authz import authorize_arm_action
from .http import ApiError, Request, Response
from .kql import Column, KqlError, Table, execute
from .world import World, utc_iso

API_VERSIONS = ("2021-03-01", "2022-10-01")
DEFAULT_TOP = 100
MAX_TOP = 1000
VAULT_TYPE = "microsoft.keyvault/vaults"

# Columns as ARG declares them (table format), in its order.
RESOURCE_COLUMNS = (
    ("id", "string"),
    ("name", "string"),
    ("type", "string"),
    ("tenantId", "string"),
    ("kind", "string"),
    ("location", "string"),
    ("resourceGroup", "string"),
    ("subscriptionId", "string"),
    ("managedBy", "string"),
    ("sku", "dynamic"),
    ("plan", "dynamic"),
    ("properties", "dynamic"),
    ("tags", "dynamic"),
    ("identity", "dynamic"),
    ("zones", "dynamic"),
    ("extendedLocation", "dynamic"),
)
# Kusto's column types as ARG's table format names them.
_ARG_TYPES = {"dynamic": "object", "int": "integer", "long": "integer", "real": "number", "bool": "boolean"}


def _bad_request(details: list[dict[str, Any]]) -> Response:
    """ARG's 400: a support line, then `InvalidQuery` (or the scope's code) and the specific cause."""
    message = (
        f"Please provide below info when asking for support: timestamp = {utc_iso()}, correlationId = {uuid.uuid4()}."
    )
    return Response(400, {"error": {"code": "BadRequest", "message": message, "details": details}})


def _invalid_query(code: str, message: str, position: int | None = None, token: str | None = None) -> Response:
    cause: dict[str, Any] = {"code": code, "message": message}
    if position is not None:
        cause.update({"line": 1, "characterPositionInLine": position})
    if token is not None:
        cause["token"] = token
    return _bad_request(
        [
            {
                "code": "InvalidQuery",
                "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph "
                "service and fix the error before retrying.",
            },
            cause,
        ]
    )


def _cause_code(kind: str, message: str) -> str:
    """ARG's code for what the query engine refused."""
    if kind == "SyntaxError":
        return "ParserFailure"
    lowered = message.lower()
    if "function" in lowered:
        return "UnknownFunction"
    if "table" in lowered:
        return "DisallowedLogicalTableName"
    if "operator" in lowered:
        return "UnsupportedOperator"
    return "FailedToResolveScalarExpression" if "column" in lowered or "name" in lowered else kind


def _skip_token(offset: int, query: str) -> str:
    raw = json.dumps({"o": offset, "q": uuid.uuid5(uuid.NAMESPACE_URL, query).hex}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_skip_token(token: str, query: str) -> int | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("q") != uuid.uuid5(uuid.NAMESPACE_URL, query).hex:
        return None
    offset = data.get("o")
    return offset if isinstance(offset, int) and offset >= 0 else None


class _Tables(Mapping[str, Table]):
    """ARG's table names are case-insensitive (`Resources`, `resources`)."""

    def __init__(self, tables: list[Table]) -> None:
        self._tables = {t.name.lower(): t for t in tables}

    def __getitem__(self, name: str) -> Table:
        return self._tables[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)


class ResourceGraph:
    def __init__(self, world: World, visible_subscriptions: Callable[[dict[str, Any]], list[tuple[str, str]]]) -> None:
        self.world = world
        self.visible_subscriptions = visible_subscriptions

    def handle(self, request: Request, claims: dict[str, Any]) -> Response:
        version = request.query.get("api-version", "")
        if version not in API_VERSIONS:
            raise ApiError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are '{','.join(API_VERSIONS)}'.",
            )
        self.world.knobs.count("resourceGraphQueries")
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _bad_request([{"code": "InvalidRequestContent", "message": "The request needs a query string."}])
        query: str = body["query"]
        options = body.get("options") or {}
        if not isinstance(options, dict):
            return _bad_request([{"code": "InvalidRequestContent", "message": "options must be an object."}])
        scope = self._scope(body, claims)
        if isinstance(scope, Response):
            return scope
        paging = self._paging(options, query)
        if isinstance(paging, Response):
            return paging
        skip, top = paging
        fmt = str(options.get("resultFormat") or "objectArray")
        if fmt.lower() not in ("objectarray", "table"):
            return _bad_request([{"code": "InvalidRequestContent", "message": f"Unknown resultFormat '{fmt}'."}])
        try:
            table = execute(query, self._tables(claims, scope), now=dt.datetime.now(dt.UTC))
        except KqlError as exc:
            return _invalid_query(_cause_code(exc.kind, exc.message), exc.message, exc.position, exc.token)
        rows = table.rows
        page = rows[skip : skip + top]
        names = [c.name for c in table.columns]
        answer: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "data": (
                {
                    "columns": [{"name": c.name, "type": c.type} for c in table.columns],
                    "rows": [[row.get(n) for n in names] for row in page],
                }
                if fmt.lower() == "table"
                else [{n: row.get(n) for n in names} for row in page]
            ),
            "facets": [],
            "resultTruncated": "false",
        }
        if skip + top < len(rows):
            answer["$skipToken"] = _skip_token(skip + top, query)
        return Response(200, answer)

    # -- request ---------------------------------------------------------------------------------

    def _scope(self, body: dict[str, Any], claims: dict[str, Any]) -> list[str] | Response:
        """The subscription ids the query runs over (those asked for that the caller sees)."""
        visible = [sub_id for sub_id, _ in self.visible_subscriptions(claims)]
        subscriptions = body.get("subscriptions")
        groups = body.get("managementGroups")
        if subscriptions and groups:
            return _bad_request(
                [{"code": "InvalidRequestContent", "message": "Give subscriptions or managementGroups, not both."}]
            )
        if groups:
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                return _bad_request([{"code": "InvalidRequestContent", "message": "managementGroups: strings"}])
            for group in groups:
                if group.lower() != self.world.site.tenant_id.lower():
                    scope = f"/providers/Microsoft.Management/managementGroups/{group}"
                    raise ApiError(
                        403,
                        "AuthorizationFailed",
                        f"The client '{claims.get('appid')}' with object id '{claims.get('oid')}' does not have "
                        f"authorization to perform action 'Microsoft.ResourceGraph/resources/read' over scope "
                        f"'{scope}' or the scope is invalid. If access was recently granted, please refresh your "
                        "credentials.",
                    )
            return visible
        if subscriptions:
            if not isinstance(subscriptions, list) or not all(isinstance(s, str) for s in subscriptions):
                return _bad_request([{"code": "InvalidRequestContent", "message": "subscriptions: strings"}])
            wanted = {s.lower() for s in subscriptions}
            return [s for s in visible if s.lower() in wanted]
        return visible

    @staticmethod
    def _paging(options: dict[str, Any], query: str) -> tuple[int, int] | Response:
        top = options.get("$top", DEFAULT_TOP)
        skip = options.get("$skip", 0)
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_TOP:
            return _bad_request(
                [{"code": "InvalidRequestContent", "message": f"$top must be between 1 and {MAX_TOP}."}]
            )
        if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
            return _bad_request([{"code": "InvalidRequestContent", "message": "$skip must be 0 or more."}])
        token = options.get("$skipToken")
        if token:
            offset = _read_skip_token(str(token), query) if isinstance(token, str) else None
            if offset is None:
                return _bad_request([{"code": "InvalidSkipToken", "message": "The $skipToken is not valid."}])
            skip = offset
        return skip, top

    # -- tables ----------------------------------------------------------------------------------

    def _tables(self, claims: dict[str, Any], subscriptions: list[str]) -> _Tables:

        wanted = {s.lower() for s in subscriptions}
        resources = []
        for vault in self.world.store.list_vaults():
            sub = self.world.vault_subscription(vault.name)
            if sub.lower() not in wanted:
                continue
            resource_id = self.world.vault_resource_id(vault.name)
            try:
                authorize_arm_action(self.world, claims, "Microsoft.KeyVault/vaults/read", resource_id)
            except ApiError:
                continue
            resources.append(
                {
                    "id": resource_id,
                    "name": vault.name,
                    "type": VAULT_TYPE,
                    "tenantId": self.world.site.tenant_id,
                    "kind": "",
                    "location": vault.location,
                    "resourceGroup": self.world.vault_group(vault.name).lower(),
                    "subscriptionId": sub,
                    "managedBy": "",
                    "sku": None,
                    "plan": None,
                    "properties": vault.properties,
                    "tags": vault.tags,
                    "identity": None,
                    "zones": None,
                    "extendedLocation": None,
                }
            )
        containers = []
        for sub_id, name in self.world.subscriptions:
            if sub_id.lower() not in wanted:
                continue
            containers.append(
                {
                    **dict.fromkeys(c for c, _ in RESOURCE_COLUMNS),
                    "id": f"/subscriptions/{sub_id}",
                    "name": name,
                    "type": "microsoft.resources/subscriptions",
                    "tenantId": self.world.site.tenant_id,
                    "kind": "",
                    "location": "",
                    "resourceGroup": "",
                    "subscriptionId": sub_id,
                    "managedBy": "",
                    "properties": {"state": "Enabled"},
                    "tags": {},
                }
            )
            containers.append(
                {
                    **dict.fromkeys(c for c, _ in RESOURCE_COLUMNS),
                    "id": f"/subscriptions/{sub_id}/resourceGroups/{self.world.site.resource_group}",
                    "name": self.world.site.resource_group,
                    "type": "microsoft.resources/subscriptions/resourcegroups",
                    "tenantId": self.world.site.tenant_id,
                    "kind": "",
                    "location": self.world.site.location,
                    "resourceGroup": self.world.site.resource_group.lower(),
                    "subscriptionId": sub_id,
                    "managedBy": "",
                    "properties": {"provisioningState": "Succeeded"},
                    "tags": {},
                }
            )
        columns = [Column(name, type_) for name, type_ in RESOURCE_COLUMNS]
        return _Tables([Table("Resources", columns, resources), Table("ResourceContainers", columns, containers)])
