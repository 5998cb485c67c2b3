"""Microsoft Graph, the part that clients use to resolve principals: service principals, users,
groups (with transitive members) and `directoryObjects/getByIds`, in Graph's OData shapes.

Served under the ARM port at `/v1.0/`, so one URL is both the custom cloud's resource manager and
its Microsoft Graph endpoint (`az cloud register --endpoint-microsoft-graph-resource-id`). The two
stay apart by audience: ARM accepts only management tokens, Graph only tokens for
`https://graph.microsoft.com` or for its own URL (what the Azure CLI asks for in a custom cloud).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from .directory import Directory, Principal
from .http import Request, Response
from .tokens import TokenError
from .world import World, utc_iso

PREFIX = "/v1.0/"
GRAPH_AUDIENCES = frozenset({"https://graph.microsoft.com", "https://graph.microsoft.com/"})
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# One `$filter` clause: `field eq 'v'`, `startswith(field,'v')`, or `servicePrincipalNames/any(c:c eq 'v')`.
_CLAUSE = re.compile(
    r"\s*(?:(?P<field>\w+)\s+eq\s+'(?P<value>(?:[^']|'')*)'"
    r"|startswith\(\s*(?P<sfield>\w+)\s*,\s*'(?P<svalue>(?:[^']|'')*)'\s*\)"
    r"|(?P<afield>\w+)/any\(\s*(?P<var>\w+)\s*:\s*(?P=var)\s+eq\s+'(?P<avalue>(?:[^']|'')*)'\s*\))\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"and\b", re.IGNORECASE)
_ODATA_TYPES = {"user": "User", "group": "Group", "serviceprincipal": "ServicePrincipal"}


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _error(err: GraphError, request: Request) -> Response:
    inner = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "request-id": str(uuid.uuid4()),
        "client-request-id": request.header("client-request-id") or str(uuid.uuid4()),
    }
    return Response(err.status, {"error": {"code": err.code, "message": err.message, "innerError": inner}}, err.headers)


def _not_found(what: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects are not present.",
    )


def _unquote(value: str) -> str:
    return value.replace("''", "'")


def parse_filter(text: str) -> list[tuple[str, str, str]]:
    """`$filter` as (operator, field, value) clauses joined by `and`; GraphError for anything else."""
    clauses: list[tuple[str, str, str]] = []
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if match is None:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {text}")
        if match.group("field"):
            clauses.append(("eq", match.group("field").lower(), _unquote(match.group("value"))))
        elif match.group("sfield"):
            clauses.append(("startswith", match.group("sfield").lower(), _unquote(match.group("svalue"))))
        else:
            clauses.append(("any", match.group("afield").lower(), _unquote(match.group("avalue"))))
        position = match.end()
        if position == len(text):
            return clauses
        joiner = _AND.match(text, position)
        if joiner is None:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {text}")
        position = joiner.end()


class GraphService:
    def __init__(self, world: World, directory: Directory, base_url: str) -> None:
        self.world = world
        self.directory = directory
        self.base_url = base_url.rstrip("/")
        self.audiences = GRAPH_AUDIENCES | {self.base_url, self.base_url + "/"}

    def handle(self, request: Request) -> Response:
        try:
            self.world.knobs.before_work()
            claims = self._authenticate(request)
            if str(claims.get("oid", "")).lower() in self.world.knobs.settings.graph_denied:
                raise GraphError(
                    403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                )
            return self._route(request, [s for s in request.path[len(PREFIX) :].split("/") if s], claims)
        except GraphError as err:
            return _error(err, request)

    def _authenticate(self, request: Request) -> dict[str, Any]:
        challenge = {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
            'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
        }
        token = request.bearer_token()
        if token is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        try:
            return self.world.tokens.verify(token, frozenset(self.audiences))
        except TokenError as exc:
            reason = "Invalid audience." if str(exc) == "audience" else "Invalid signature or expired token."
            raise GraphError(
                401, "InvalidAuthenticationToken", f"Access token validation failure. {reason}", challenge
            ) from None

    # -- routing -------------------------------------------------------------------------------

    def _route(self, request: Request, segments: list[str], claims: dict[str, Any]) -> Response:
        method = request.method
        head = segments[0] if segments else ""
        lowered = [s.lower() for s in segments]
        by_app = re.fullmatch(r"servicePrincipals\(appId='(.*)'\)", head, flags=re.IGNORECASE)
        if by_app and len(segments) == 1 and method == "GET":
            found = [p for p in self.directory.service_principals() if (p.app_id or "").lower() == by_app[1].lower()]
            if not found:
                raise _not_found(by_app[1])
            return self._entity("servicePrincipals", found[0])
        if method == "GET" and lowered[:1] in (["serviceprincipals"], ["users"], ["groups"]):
            collection = {"serviceprincipals": "servicePrincipals", "users": "users", "groups": "groups"}[lowered[0]]
            candidates = {
                "servicePrincipals": self.directory.service_principals,
                "users": self.directory.users,
                "groups": self.directory.groups,
            }[collection]()
            if len(segments) == 1:
                return self._list(request, collection, candidates)
            target = self._one(collection, candidates, segments[1])
            if len(segments) == 2:
                return self._entity(collection, target)
            if len(segments) == 3 and collection == "groups" and lowered[2] in ("members", "transitivemembers"):
                members = (
                    self.directory.transitive_members(target)
                    if lowered[2] == "transitivemembers"
                    else [m for m in map(self.directory.get, target.members) if m is not None]
                )
                return self._objects(request, members)
        if lowered == ["directoryobjects", "getbyids"] and method == "POST":
            return self._get_by_ids(request)
        if len(segments) == 2 and lowered[0] == "directoryobjects" and method == "GET":
            obj = self.directory.get(segments[1])
            if obj is None:
                raise _not_found(segments[1])
            return Response(200, self._with_context("directoryObjects/$entity", self._json(obj, typed=True)))
        if lowered == ["me"] and method == "GET":
            caller = self.directory.get(str(claims.get("oid", "")))
            if caller is None or caller.kind != "User":
                raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
            return self._entity("users", caller)
        if segments and head.lower() in ("serviceprincipals", "users", "groups", "directoryobjects", "me"):
            raise GraphError(405, "Request_BadRequest", f"The method {method} is not supported here.")
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{head}'.")

    def _one(self, collection: str, candidates: list[Principal], key: str) -> Principal:
        lowered = key.lower()
        if collection == "users" and "@" in key:
            found = [p for p in candidates if (p.upn or "") == lowered]
        elif not _GUID.match(key):
            if collection == "users":
                raise _not_found(key)
            raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{key}'.")
        else:
            found = [p for p in candidates if p.object_id.lower() == lowered]
        if not found:
            raise _not_found(key)
        return found[0]

    # -- answers -------------------------------------------------------------------------------

    def _with_context(self, fragment: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"@odata.context": f"{self.base_url}/v1.0/$metadata#{fragment}", **body}

    def _entity(self, collection: str, principal: Principal) -> Response:
        return Response(200, self._with_context(f"{collection}/$entity", self._json(principal)))

    def _list(self, request: Request, collection: str, candidates: list[Principal]) -> Response:
        wanted = request.query.get("$filter", "").strip()
        if wanted:
            clauses = parse_filter(wanted)
            candidates = [p for p in candidates if all(self._matches(p, c) for c in clauses)]
        items = [self._json(p) for p in candidates[: self._top(request)]]
        return Response(200, self._with_context(collection, {"value": items}))

    def _objects(self, request: Request, principals: list[Principal]) -> Response:
        items = [self._json(p, typed=True) for p in principals[: self._top(request)]]
        return Response(200, self._with_context("directoryObjects", {"value": items}))

    @staticmethod
    def _top(request: Request) -> int:
        raw = request.query.get("$top", "999")
        if not raw.isdigit() or not 1 <= int(raw) <= 999:
            raise GraphError(
                400, "Request_BadRequest", f"Invalid page size specified: '{raw}'. Must be between 1 and 999."
            )
        return int(raw)

    def _get_by_ids(self, request: Request) -> Response:
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        ids = body.get("ids") if isinstance(body, dict) else None
        types = body.get("types") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not 1 <= len(ids) <= 1000:
            raise GraphError(400, "Request_BadRequest", "Invalid request: 'ids' must name 1 to 1000 object ids.")
        kinds: set[str] | None = None
        if types is not None:
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise GraphError(400, "Request_BadRequest", "Invalid request: 'types' must be a list of names.")
            kinds = {_ODATA_TYPES[t.lower()] for t in types if t.lower() in _ODATA_TYPES}
        found = []
        for object_id in ids:
            if not _GUID.match(object_id):
                raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{object_id}'.")
            principal = self.directory.get(object_id)
            if principal is not None and (kinds is None or principal.kind in kinds):
                found.append(self._json(principal, typed=True))
        return Response(200, self._with_context("directoryObjects", {"value": found}))

    @staticmethod
    def _matches(principal: Principal, clause: tuple[str, str, str]) -> bool:
        operator, field, value = clause
        values: dict[str, Callable[[], list[str]]] = {
            "id": lambda: [principal.object_id],
            "appid": lambda: [principal.app_id or ""],
            "displayname": lambda: [principal.display_name],
            "userprincipalname": lambda: [principal.upn or ""],
            "mail": lambda: [principal.upn or ""],
            "mailnickname": lambda: [principal.display_name],
            "serviceprincipalnames": lambda: [principal.app_id or "", principal.resource_id or ""],
        }
        if field not in values:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{field}'.",
            )
        have = [v for v in values[field]() if v]
        if operator == "startswith":
            return any(v.lower().startswith(value.lower()) for v in have)
        return any(v.lower() == value.lower() for v in have)

    def _json(self, p: Principal, typed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.type": p.odata_type} if typed else {}
        out["id"] = p.object_id
        out["deletedDateTime"] = None
        if p.kind == "ServicePrincipal":
            out.update(
                {
                    "accountEnabled": True,
                    "alternativeNames": [p.resource_id],
                    "appDisplayName": None,
                    "appId": p.app_id,
                    "appOwnerOrganizationId": None,
                    "displayName": p.display_name,
                    "servicePrincipalNames": [p.app_id, p.resource_id],
                    "servicePrincipalType": "ManagedIdentity",
                    "signInAudience": None,
                    "tags": [],
                    "keyCredentials": [],
                    "passwordCredentials": [],
                }
            )
        elif p.kind == "User":
            out.update(
                {
                    "businessPhones": [],
                    "displayName": p.display_name,
                    "givenName": None,
                    "jobTitle": None,
                    "mail": None,
                    "mobilePhone": None,
                    "officeLocation": None,
                    "preferredLanguage": None,
                    "surname": None,
                    "userPrincipalName": p.upn,
                }
            )
        else:
            out.update(
                {
                    "createdDateTime": utc_iso(p.created)[:19] + "Z",
                    "description": None,
                    "displayName": p.display_name,
                    "groupTypes": [],
                    "mail": None,
                    "mailEnabled": False,
                    "mailNickname": p.display_name,
                    "securityEnabled": True,
                }
            )
        return out
