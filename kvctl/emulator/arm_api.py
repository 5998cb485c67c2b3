"""The ARM endpoints kvctl uses (KEYVAULT-WIRE.md §3): subscriptions, vaults, role definitions
and role assignments, with ARM's authorization checks, rules and error bodies.

The same port serves the Entra token endpoint for workload identity federation (it must be
HTTPS, like the real authority) and the `/_emulator/` control endpoints.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ..builtin_roles import BUILTIN_ROLES, BuiltinRole
from .authz import authorize_arm_action, role_by_guid, role_guid_of, scope_covers
from .control_api import PREFIX as CONTROL_PREFIX
from .control_api import ControlService
from .http import ApiError, Request, Response
from .identity_api import entra_token, openid_configuration
from .store import RoleAssignmentRecord, VaultRecord
from .tokens import ARM_AUDIENCES, TokenError
from .world import World, utc_iso

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")
_PATCHABLE = (
    "tenantId",
    "sku",
    "accessPolicies",
    "enabledForDeployment",
    "enabledForDiskEncryption",
    "enabledForTemplateDeployment",
    "enableSoftDelete",
    "enableRbacAuthorization",
    "softDeleteRetentionInDays",
    "enablePurgeProtection",
    "networkAcls",
    "publicNetworkAccess",
)
_ROLE_DEFINITIONS = "/providers/Microsoft.Authorization/roleDefinitions"
_SECRET_PERMISSIONS = {"all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge"}


def _bad_request(message: str, code: str = "BadRequest") -> ApiError:
    return ApiError(400, code, message)


class ArmService:
    def __init__(self, world: World, base_url: str) -> None:
        self.world = world
        self.base_url = base_url
        self.control = ControlService(world)

    # -- pipeline ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        segments = [s for s in request.path.split("/") if s]
        if len(segments) == 4 and segments[1:] == ["oauth2", "v2.0", "token"] and request.method == "POST":
            return entra_token(self.world, request, segments[0])
        if segments[1:] == ["v2.0", ".well-known", "openid-configuration"] and request.method == "GET":
            return Response(200, openid_configuration(self.world, self.base_url, segments[0]))
        if request.path.startswith(CONTROL_PREFIX):
            return self.control.handle(request)
        self.world.knobs.before_work()
        claims = self._authenticate(request)
        self._check_api_version(request)
        response = self._route(request, segments, claims)
        if request.method in ("PUT", "PATCH", "DELETE", "POST") and response.status < 300:
            self.world.knobs.after_write()
        return response

    def _authenticate(self, request: Request) -> dict[str, Any]:
        token = request.bearer_token()
        tenant = self.world.site.tenant_id
        if token is None:
            raise ApiError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{tenant}", '
                    'error="invalid_token", error_description="The authentication failed because of missing '
                    "'Authorization' header.\""
                },
            )
        try:
            claims = self.world.tokens.verify(token, ARM_AUDIENCES)
        except TokenError as exc:
            raise ApiError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{tenant}", '
                    'error="invalid_token", error_description="The access token is invalid."'
                },
            ) from exc
        return claims

    @staticmethod
    def _check_api_version(request: Request) -> None:
        version = request.query.get("api-version")
        if not version:
            raise _bad_request(
                "The api-version query parameter (?api-version=) is required for all requests.",
                "MissingApiVersionParameter",
            )
        if not _API_VERSION.match(version):
            raise _bad_request(
                f"The api-version '{version}' is invalid. The supported versions are '2022-12-01,2022-04-01'.",
                "InvalidApiVersionParameter",
            )

    def _route(self, request: Request, segments: list[str], claims: dict[str, Any]) -> Response:
        lowered = [s.lower() for s in segments]
        method = request.method
        if lowered == ["subscriptions"] and method == "GET":
            return self._list_subscriptions(claims)
        if "microsoft.authorization" in lowered:
            at = lowered.index("microsoft.authorization")
            if at >= 1 and lowered[at - 1] == "providers":
                scope = "/" + "/".join(segments[: at - 1])
                return self._authorization(request, scope, segments[at + 1 :], claims)
        if len(segments) >= 2 and lowered[0] == "subscriptions":
            self._require_subscription(segments[1])
            rest = lowered[2:]
            if rest == [] and method == "GET":
                return Response(200, self._subscription_json())
            if rest == ["resources"] and method == "GET":
                return self._list_resources(request, claims)
            if rest == ["providers", "microsoft.keyvault", "vaults"] and method == "GET":
                return self._list_vaults(claims, request)
            if len(rest) >= 2 and rest[0] == "resourcegroups":
                self._require_resource_group(segments[3])
                tail = rest[2:]
                if tail == ["providers", "microsoft.keyvault", "vaults"] and method == "GET":
                    return self._list_vaults(claims, request)
                if len(tail) >= 3 and tail[:2] == ["providers", "microsoft.keyvault"] and tail[2] == "vaults":
                    if len(tail) == 4:
                        return self._vault(request, segments[7], claims)
                    if len(tail) == 6 and tail[4] == "accesspolicies" and method == "PUT":
                        return self._update_access_policy(request, segments[7], tail[5], claims)
        raise ApiError(
            404,
            "InvalidResourceType" if len(segments) > 2 else "NotFound",
            f"The resource type could not be found for path '{request.path}'.",
        )

    # -- subscriptions and scopes --------------------------------------------------------------

    def _subscription_json(self) -> dict[str, Any]:
        site = self.world.site
        return {
            "id": f"/subscriptions/{site.subscription_id}",
            "subscriptionId": site.subscription_id,
            "tenantId": site.tenant_id,
            "displayName": "kvctl emulator",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "tags": {},
        }

    def _list_subscriptions(self, claims: dict[str, Any]) -> Response:
        oid = str(claims.get("oid", "")).lower()
        visible = any(ra.principal_id.lower() == oid for ra in self.world.store.role_assignments())
        return Response(
            200,
            {
                "value": [self._subscription_json()] if visible else [],
                "count": {"type": "Total", "value": int(visible)},
            },
        )

    def _require_subscription(self, subscription: str) -> None:
        if subscription.lower() != self.world.site.subscription_id.lower():
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")

    def _require_resource_group(self, group: str) -> None:
        if group.lower() != self.world.site.resource_group.lower():
            raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")

    def _vault_not_found(self, name: str) -> ApiError:
        return ApiError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.KeyVault/vaults/{name}' under resource group "
            f"'{self.world.site.resource_group}' was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix",
        )

    def _validate_scope(self, scope: str) -> str:
        """Check that every level of a scope exists; return it in its canonical casing."""
        parts = [p for p in scope.split("/") if p]
        if not parts:
            return "/"
        lowered = [p.lower() for p in parts]
        if lowered[0] != "subscriptions" or len(parts) < 2:
            raise _bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")
        self._require_subscription(parts[1])
        canonical = f"/subscriptions/{self.world.site.subscription_id}"
        if len(parts) == 2:
            return canonical
        if lowered[2] != "resourcegroups" or len(parts) < 4:
            raise _bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")
        self._require_resource_group(parts[3])
        canonical += f"/resourceGroups/{self.world.site.resource_group}"
        if len(parts) == 4:
            return canonical
        if lowered[4:7] != ["providers", "microsoft.keyvault", "vaults"] or len(parts) < 8:
            raise _bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")
        vault = self.world.store.get_vault(parts[7])
        if vault is None:
            raise self._vault_not_found(parts[7])
        canonical = self.world.vault_resource_id(vault.name)
        if len(parts) == 8:
            return canonical
        if len(parts) == 10 and lowered[8] == "secrets":
            secret = self.world.store.get_version(vault.name, parts[9], None)
            if secret is None:
                raise ApiError(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.KeyVault/vaults/{vault.name}/secrets/{parts[9]}' under resource "
                    f"group '{self.world.site.resource_group}' was not found. For more details please go to "
                    "https://aka.ms/ARMResourceNotFoundFix",
                )
            return f"{canonical}/secrets/{secret.name}"
        raise _bad_request(f"The scope '{scope}' is not valid.", "InvalidScope")

    # -- vaults --------------------------------------------------------------------------------

    def _vault_json(self, vault: VaultRecord) -> dict[str, Any]:
        return {
            "id": self.world.vault_resource_id(vault.name),
            "name": vault.name,
            "type": "Microsoft.KeyVault/vaults",
            "location": vault.location,
            "tags": vault.tags,
            "systemData": {
                "createdAt": vault.created,
                "createdBy": self.world.admin().client_id,
                "createdByType": "Application",
                "lastModifiedAt": vault.updated,
                "lastModifiedBy": self.world.admin().client_id,
                "lastModifiedByType": "Application",
            },
            "properties": vault.properties,
        }

    def _readable_vaults(self, claims: dict[str, Any]) -> list[VaultRecord]:
        out = []
        for vault in self.world.store.list_vaults():
            try:
                authorize_arm_action(
                    self.world, claims, "Microsoft.KeyVault/vaults/read", self.world.vault_resource_id(vault.name)
                )
            except ApiError:
                continue
            out.append(vault)
        return out

    def _list_vaults(self, claims: dict[str, Any], request: Request) -> Response:
        vaults = self._readable_vaults(claims)
        top = request.query.get("$top")
        if top:
            if not top.isdigit() or int(top) < 1:
                raise _bad_request(f"The value of $top '{top}' is not valid.", "InvalidParameter")
            vaults = vaults[: int(top)]
        return Response(200, {"value": [self._vault_json(v) for v in vaults]})

    def _list_resources(self, request: Request, claims: dict[str, Any]) -> Response:
        wanted = request.query.get("$filter", "")
        match = re.fullmatch(r"\s*resourceType\s+eq\s+'([^']+)'\s*", wanted)
        if wanted and not match:
            raise _bad_request(f"The $filter '{wanted}' is not supported here.", "InvalidFilterInQueryString")
        if match and match.group(1).lower() != "microsoft.keyvault/vaults":
            return Response(200, {"value": []})
        items = [
            {
                "id": self.world.vault_resource_id(v.name),
                "name": v.name,
                "type": "Microsoft.KeyVault/vaults",
                "location": v.location,
                "tags": v.tags,
            }
            for v in self._readable_vaults(claims)
        ]
        return Response(200, {"value": items})

    def _vault(self, request: Request, name: str, claims: dict[str, Any]) -> Response:
        vault = self.world.store.get_vault(name)
        if vault is None:
            raise self._vault_not_found(name)
        resource_id = self.world.vault_resource_id(vault.name)
        if request.method == "GET":
            authorize_arm_action(self.world, claims, "Microsoft.KeyVault/vaults/read", resource_id)
            return Response(200, self._vault_json(vault))
        if request.method == "PATCH":
            authorize_arm_action(self.world, claims, "Microsoft.KeyVault/vaults/write", resource_id)
            body = request.json()
            if not isinstance(body, dict):
                raise _bad_request(
                    "The request content was invalid and could not be deserialized.", "InvalidRequestContent"
                )
            updated = self._patched(vault, body)
            self.world.store.put_vault(updated)
            return Response(200, self._vault_json(updated))
        raise ApiError(405, "MethodNotAllowed", f"The method {request.method} is not supported on vaults here.")

    def _patched(self, vault: VaultRecord, body: dict[str, Any]) -> VaultRecord:
        changes = body.get("properties") or {}
        if not isinstance(changes, dict):
            raise _bad_request(
                "The request content was invalid and could not be deserialized.", "InvalidRequestContent"
            )
        current = vault.properties
        merged = dict(current)
        for key in _PATCHABLE:
            if key in changes and changes[key] is not None:
                merged[key] = changes[key]
        if current.get("enableSoftDelete", True) and merged.get("enableSoftDelete") is False:
            raise _bad_request(
                'The property "enableSoftDelete" cannot be set to false. Enabling the soft delete for a vault is an '
                "irreversible action."
            )
        if current.get("enablePurgeProtection") and merged.get("enablePurgeProtection") is False:
            raise _bad_request(
                'The property "enablePurgeProtection" cannot be set to false. Enabling the purge protection for a '
                "vault is an irreversible action."
            )
        if merged.get("enablePurgeProtection") and not merged.get("enableSoftDelete", True):
            raise _bad_request("Purge protection can only be enabled on a vault that has soft delete enabled.")
        retention = merged.get("softDeleteRetentionInDays")
        if not isinstance(retention, int) or isinstance(retention, bool) or not 7 <= retention <= 90:
            raise _bad_request(
                'The property "softDeleteRetentionInDays" must be an integer between 7 and 90.', "BadRequest"
            )
        for flag in ("enableSoftDelete", "enableRbacAuthorization", "enablePurgeProtection"):
            if flag in merged and merged[flag] is not None and not isinstance(merged[flag], bool):
                raise _bad_request(f'The property "{flag}" must be a boolean.')
        if merged.get("publicNetworkAccess") not in ("Enabled", "Disabled"):
            raise _bad_request('The property "publicNetworkAccess" must be "Enabled" or "Disabled".')
        merged["accessPolicies"] = self._checked_policies(merged.get("accessPolicies") or [])
        acls = merged.get("networkAcls")
        if acls is not None and (not isinstance(acls, dict) or acls.get("defaultAction") not in ("Allow", "Deny")):
            raise _bad_request('The property "networkAcls.defaultAction" must be "Allow" or "Deny".')
        tags = body.get("tags", vault.tags)
        if not isinstance(tags, dict):
            raise _bad_request("Tags must be an object of strings.", "InvalidRequestContent")
        return VaultRecord(vault.name, vault.location, tags, merged, vault.created, utc_iso())

    def _checked_policies(self, policies: Any) -> list[dict[str, Any]]:
        if not isinstance(policies, list):
            raise _bad_request('The property "accessPolicies" must be an array.')
        for policy in policies:
            if not isinstance(policy, dict) or not _GUID.match(str(policy.get("objectId", ""))):
                raise _bad_request("Each access policy needs a GUID objectId.")
            if str(policy.get("tenantId", "")).lower() != self.world.site.tenant_id.lower():
                raise _bad_request("An access policy's tenantId must be the vault's tenant.")
            secrets = (policy.get("permissions") or {}).get("secrets") or []
            unknown = {str(p).lower() for p in secrets} - _SECRET_PERMISSIONS
            if unknown:
                raise _bad_request(f"Unknown secret permission(s): {', '.join(sorted(unknown))}.")
        return policies

    def _update_access_policy(self, request: Request, name: str, kind: str, claims: dict[str, Any]) -> Response:
        vault = self.world.store.get_vault(name)
        if vault is None:
            raise self._vault_not_found(name)
        resource_id = self.world.vault_resource_id(vault.name)
        authorize_arm_action(self.world, claims, "Microsoft.KeyVault/vaults/accessPolicies/write", resource_id)
        body = request.json()
        entries = self._checked_policies(((body or {}).get("properties") or {}).get("accessPolicies") or [])
        policies = [dict(p) for p in vault.properties.get("accessPolicies") or []]
        by_oid = {p["objectId"].lower(): p for p in policies}
        for entry in entries:
            existing = by_oid.get(entry["objectId"].lower())
            if kind == "replace" or existing is None:
                if kind != "remove":
                    if existing is not None:
                        policies.remove(existing)
                    policies.append(entry)
                continue
            merged_perms = dict(existing.get("permissions") or {})
            for family, perms in (entry.get("permissions") or {}).items():
                have = list(merged_perms.get(family) or [])
                if kind == "add":
                    have += [p for p in perms if p not in have]
                else:
                    have = [p for p in have if p not in perms]
                merged_perms[family] = have
            existing["permissions"] = merged_perms
        updated = VaultRecord(
            vault.name,
            vault.location,
            vault.tags,
            {**vault.properties, "accessPolicies": policies},
            vault.created,
            utc_iso(),
        )
        self.world.store.put_vault(updated)
        return Response(
            200,
            {
                "id": f"{resource_id}/accessPolicies/{kind}",
                "type": "Microsoft.KeyVault/vaults/accessPolicies",
                "properties": {"accessPolicies": entries},
            },
        )

    # -- role definitions and assignments ------------------------------------------------------

    def _authorization(self, request: Request, scope: str, rest: list[str], claims: dict[str, Any]) -> Response:
        canonical = self._validate_scope(scope)
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

    def _list_role_definitions(self, request: Request, scope: str) -> Response:
        roles: list[BuiltinRole] = list(BUILTIN_ROLES)
        wanted = request.query.get("$filter", "").strip()
        if wanted:
            match = re.fullmatch(r"(roleName|type)\s+eq\s+'(.*)'", wanted, flags=re.IGNORECASE)
            if not match:
                raise _bad_request(f"The filter '{wanted}' is not supported.", "UnsupportedQuery")
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
                raise _bad_request(
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
            raise _bad_request(
                f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
                "InvalidRoleAssignmentId",
            )
        authorize_arm_action(self.world, claims, "Microsoft.Authorization/roleAssignments/write", scope)
        body = request.json()
        props = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(props, dict):
            raise _bad_request(
                "The request content was invalid and could not be deserialized.", "InvalidRequestContent"
            )
        role_definition_id = str(props.get("roleDefinitionId") or "")
        principal_id = str(props.get("principalId") or "")
        principal_type = props.get("principalType")
        role_guid = role_guid_of(role_definition_id) if role_definition_id else ""
        if role_by_guid(role_guid) is None:
            raise _bad_request(
                f"The specified role definition with ID '{role_guid.replace('-', '')}' does not exist.",
                "RoleDefinitionDoesNotExist",
            )
        if not _GUID.match(principal_id):
            raise _bad_request(f"The principal ID '{principal_id}' is not a valid GUID.", "InvalidPrincipalId")
        if principal_type is not None and principal_type not in _PRINCIPAL_TYPES:
            raise _bad_request(f"The principal type '{principal_type}' is not valid.", "InvalidPrincipalType")
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
        if principal_type is None and not self.world.principal_known(principal_id):
            raise _bad_request(
                f"Principal {principal_id.replace('-', '')} does not exist in the directory "
                f"{self.world.site.tenant_id}. Check that you have the correct principal ID. If you are creating "
                "this principal and then immediately assigning a role, this error might be related to a "
                "replication delay. In this case, set the role assignment principalType property to a value, such "
                "as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
                "PrincipalNotFound",
            )
        identity = self.world.find_identity(object_id=principal_id)
        record = RoleAssignmentRecord(
            name=name.lower(),
            scope=scope,
            role_definition_id=self._role_definition_id(role_guid, scope),
            principal_id=principal_id.lower(),
            principal_type=principal_type or ("ServicePrincipal" if identity else "User"),
            created_on=utc_iso(time.time()),
            created_by=str(claims.get("oid")),
            description=props.get("description") if isinstance(props.get("description"), str) else None,
        )
        self.world.store.add_role_assignment(record)
        return Response(201, self._assignment_json(record))
