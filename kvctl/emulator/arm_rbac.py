"""ARM: role definitions (the built-in roles) and role assignments, with ARM's rules: one
assignment per scope + role + principal, and principals unknown until the directory knows them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from ..builtin_roles import BUILTIN_ROLES, BuiltinRole
from .authz import authorize_arm_action, role_by_guid, role_guid_of, scope_covers
from .http import ApiError, Request, Response, bad_request
from .store import RoleAssignmentRecord
from .world import World, utc_iso

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")
_ROLE_DEFINITIONS = "/providers/Microsoft.Authorization/roleDefinitions"


class RbacHandlers:
    def __init__(self, world: World, validate_scope: Callable[[str], str]) -> None:
        self.world = world
        self.validate_scope = validate_scope

    def handle(self, request: Request, scope: str, rest: list[str], claims: dict[str, Any]) -> Response:
        canonical = self.validate_scope(scope)
        kind = rest[0].lower() if rest else ""
        method = request.method
        if kind == "roledefinitions":
            authorize_arm_action(self.world, claims, "Microsoft.Authorization/roleDefinitions/read", canonical)
            if len(rest) == 1 and method == "GET":
                return self._list_role_definitions(request, canonical)
            if len(rest) == 2 and method == "GET":
                role = role_by_guid(rest[1])
                if role is None:
                    raise ApiError(
                        404,
                        "RoleDefinitionDoesNotExist",
                        f"The specified role definition with ID '{rest[1]}' does not exist.",
                    )
                return Response(200, self._role_definition_json(role, canonical))
        if kind == "permissions" and len(rest) == 1 and method == "GET":
            # Permissions - List For Resource / Resource Group: the caller's own effective
            # permissions at the scope; anyone signed in may ask about themselves.
            return self._permissions(canonical, claims)
        if kind == "roleassignments":
            if len(rest) == 1 and method == "GET":
                authorize_arm_action(self.world, claims, "Microsoft.Authorization/roleAssignments/read", canonical)
                return self._list_role_assignments(request, canonical)
            if len(rest) == 2:
                name = rest[1]
                if method == "PUT":
                    return self._create_role_assignment(request, canonical, name, claims)
                if method == "GET":
                    authorize_arm_action(self.world, claims, "Microsoft.Authorization/roleAssignments/read", canonical)
                    found = self._assignment(canonical, name)
                    if found is None:
                        raise ApiError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
                    return Response(200, self._assignment_json(found))
                if method == "DELETE":
                    authorize_arm_action(
                        self.world, claims, "Microsoft.Authorization/roleAssignments/delete", canonical
                    )
                    found = self._assignment(canonical, name)
                    if found is None:
                        return Response(204)
                    self.world.store.delete_role_assignment(found.name)
                    self.world.assignment_removed(found)
                    return Response(200, self._assignment_json(found))
        raise ApiError(404, "InvalidResourceType", f"The resource type could not be found for path '{request.path}'.")

    def _role_definition_id(self, guid: str, scope: str) -> str:
        if scope.startswith("/subscriptions/"):
            return f"/subscriptions/{self.world.site.subscription_id}{_ROLE_DEFINITIONS}/{guid}"
        return f"{_ROLE_DEFINITIONS}/{guid}"

    def _role_definition_json(self, role: BuiltinRole, scope: str) -> dict[str, Any]:
        return {
            "id": self._role_definition_id(role.guid, scope),
            "name": role.guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": role.name,
                "type": "BuiltInRole",
                "description": role.description,
                "assignableScopes": ["/"],
                "permissions": [
                    {
                        "actions": list(role.actions),
                        "notActions": list(role.not_actions),
                        "dataActions": list(role.data_actions),
                        "notDataActions": list(role.not_data_actions),
                    }
                ],
                "createdOn": "2015-02-02T21:55:09.8806423Z",
                "updatedOn": "2025-01-01T00:00:00.0000000Z",
                "createdBy": None,
                "updatedBy": None,
            },
        }

    def _permissions(self, scope: str, claims: dict[str, Any]) -> Response:
        caller = str(claims.get("oid", "")).lower()
        items = []
        for ra in self.world.store.role_assignments():
            if ra.principal_id.lower() != caller or not scope_covers(ra.scope, scope):
                continue
            role = role_by_guid(role_guid_of(ra.role_definition_id))
            if role is None:
                continue
            items.append(
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": list(role.data_actions),
                    "notDataActions": list(role.not_data_actions),
                    "condition": None,
                    "conditionVersion": None,
                }
            )
        return Response(200, {"value": items})

    def _list_role_definitions(self, request: Request, scope: str) -> Response:
        roles: list[BuiltinRole] = list(BUILTIN_ROLES)
        wanted = request.query.get("$filter", "").strip()
        if wanted:
            match = re.fullmatch(r"(roleName|type)\s+eq\s+'(.*)'", wanted, flags=re.IGNORECASE)
            if not match:
                raise bad_request(f"The filter '{wanted}' is not supported.", "UnsupportedQuery")
            field, value = match.group(1).lower(), match.group(2).replace("''", "'")
            if field == "rolename":
                roles = [r for r in roles if r.name.lower() == value.lower()]
            elif value.lower() != "builtinrole":
                roles = []
        return Response(200, {"value": [self._role_definition_json(r, scope) for r in roles]})

    def _assignment(self, scope: str, name: str) -> RoleAssignmentRecord | None:
        for ra in self.world.store.role_assignments():
            if ra.name.lower() == name.lower() and ra.scope.lower() == scope.lower():
                return ra
        return None

    def _assignment_json(self, ra: RoleAssignmentRecord) -> dict[str, Any]:
        return {
            "id": f"{ra.scope}/providers/Microsoft.Authorization/roleAssignments/{ra.name}",
            "name": ra.name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": ra.role_definition_id,
                "principalId": ra.principal_id,
                "principalType": ra.principal_type,
                "scope": ra.scope,
                "condition": None,
                "conditionVersion": None,
                "description": ra.description,
                "createdOn": ra.created_on,
                "updatedOn": ra.created_on,
                "createdBy": ra.created_by,
                "updatedBy": ra.created_by,
                "delegatedManagedIdentityResourceId": None,
            },
        }

    def _list_role_assignments(self, request: Request, scope: str) -> Response:
        wanted = request.query.get("$filter", "").strip()
        at_scope = False
        principal: str | None = None
        for clause in re.split(r"\s+and\s+", wanted) if wanted else []:
            clause = clause.strip()
            if clause.lower() == "atscope()":
                at_scope = True
                continue
            match = re.fullmatch(r"(principalId\s+eq|assignedTo\()\s*'([^']*)'\)?", clause, flags=re.IGNORECASE)
            if not match:
                raise bad_request(
                    f"The filter '{wanted}' is not supported. Supported filters are either 'atScope()' or "
                    "'principalId eq '{value}' or assignedTo('{value}')'.",
                    "UnsupportedQuery",
                )
            principal = match.group(2).lower()
        items = []
        for ra in self.world.store.role_assignments():
            above = scope_covers(ra.scope, scope)
            below = scope_covers(scope, ra.scope)
            if at_scope and not above:
                continue
            if not (above or below):
                continue
            if principal is not None and ra.principal_id.lower() != principal:
                continue
            items.append(self._assignment_json(ra))
        return Response(200, {"value": items})

    def _create_role_assignment(self, request: Request, scope: str, name: str, claims: dict[str, Any]) -> Response:
        if not _GUID.match(name):
            raise bad_request(
                f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
                "InvalidRoleAssignmentId",
            )
        authorize_arm_action(self.world, claims, "Microsoft.Authorization/roleAssignments/write", scope)
        body = request.json()
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise bad_request("The request content was invalid and could not be deserialized.", "InvalidRequestContent")
        role_definition_id = str(props.get("roleDefinitionId") or "")
        principal_id = str(props.get("principalId") or "")
        principal_type = props.get("principalType")
        role_guid = role_guid_of(role_definition_id) if role_definition_id else ""
        if role_by_guid(role_guid) is None:
            raise bad_request(
                f"The specified role definition with ID '{role_guid.replace('-', '')}' does not exist.",
                "RoleDefinitionDoesNotExist",
            )
        if not _GUID.match(principal_id):
            raise bad_request(f"The principal ID '{principal_id}' is not a valid GUID.", "InvalidPrincipalId")
        if principal_type is not None and principal_type not in _PRINCIPAL_TYPES:
            raise bad_request(f"The principal type '{principal_type}' is not valid.", "InvalidPrincipalType")
        existing = self._assignment(scope, name)
        if existing is not None:
            if (
                existing.principal_id.lower() == principal_id.lower()
                and role_guid_of(existing.role_definition_id) == role_guid
            ):
                return Response(201, self._assignment_json(existing))
            raise ApiError(
                409,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
        for ra in self.world.store.role_assignments():
            if (
                ra.scope.lower() == scope.lower()
                and ra.principal_id.lower() == principal_id.lower()
                and role_guid_of(ra.role_definition_id) == role_guid
            ):
                raise ApiError(409, "RoleAssignmentExists", "The role assignment already exists.")
        known = self.world.directory.known(principal_id)
        if principal_type is not None and known is not None and principal_type != known.kind:
            raise bad_request(
                f"The PrincipalId '{principal_id.replace('-', '')}' has type '{known.kind}' , which is different "
                f"from specified PrincipalType '{principal_type}'.",
                "UnmatchedPrincipalType",
            )
        if principal_type is None and known is None:
            raise bad_request(
                f"Principal {principal_id.replace('-', '')} does not exist in the directory "
                f"{self.world.site.tenant_id}. Check that you have the correct principal ID. If you are creating "
                "this principal and then immediately assigning a role, this error might be related to a "
                "replication delay. In this case, set the role assignment principalType property to a value, such "
                "as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
                "PrincipalNotFound",
            )
        record = RoleAssignmentRecord(
            name=name.lower(),
            scope=scope,
            role_definition_id=self._role_definition_id(role_guid, scope),
            principal_id=principal_id.lower(),
            principal_type=principal_type or (known.kind if known else "User"),
            created_on=utc_iso(time.time()),
            created_by=str(claims.get("oid")),
            description=props.get("description") if isinstance(props.get("description"), str) else None,
        )
        self.world.store.add_role_assignment(record)
        self.world.assignment_added(record.name)
        return Response(201, self._assignment_json(record))
