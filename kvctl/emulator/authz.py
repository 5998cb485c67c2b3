"""Authorization as Key Vault and ARM decide it: RBAC role assignments (scope + role actions)
or, for vaults on the access-policy model, the caller's secret permissions."""

from __future__ import annotations

from typing import Any

from ..builtin_roles import ROLES_BY_GUID, BuiltinRole, role_allows
from .http import ApiError
from .world import World

# The data action each secrets operation needs, and the access-policy permission that stands for it.
SECRET_ACTIONS: dict[str, tuple[str, str]] = {
    "get": ("Microsoft.KeyVault/vaults/secrets/getSecret/action", "get"),
    "list": ("Microsoft.KeyVault/vaults/secrets/readMetadata/action", "list"),
    "set": ("Microsoft.KeyVault/vaults/secrets/setSecret/action", "set"),
    "update": ("Microsoft.KeyVault/vaults/secrets/update/action", "set"),
    "delete": ("Microsoft.KeyVault/vaults/secrets/delete", "delete"),
    "recover": ("Microsoft.KeyVault/vaults/secrets/recover/action", "recover"),
    "purge": ("Microsoft.KeyVault/vaults/secrets/purge/action", "purge"),
    "backup": ("Microsoft.KeyVault/vaults/secrets/backup/action", "backup"),
    "restore": ("Microsoft.KeyVault/vaults/secrets/restore/action", "restore"),
}


def role_by_guid(guid: str) -> BuiltinRole | None:
    return ROLES_BY_GUID.get(guid.lower())


def role_guid_of(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def scope_covers(scope: str, resource: str) -> bool:
    scope = scope.rstrip("/").lower()
    resource = resource.rstrip("/").lower()
    return scope == "" or resource == scope or resource.startswith(scope + "/")


def rbac_allows(world: World, object_id: str, action: str, resource: str, *, data: bool) -> bool:
    principals = world.directory.member_of(object_id)  # a group's roles apply to its members
    assignments = world.data_plane_assignments() if data else world.store.role_assignments()
    for assignment in assignments:
        if assignment.principal_id.lower() not in principals:
            continue
        if not scope_covers(assignment.scope, resource):
            continue
        role = role_by_guid(role_guid_of(assignment.role_definition_id))
        if role is not None and role_allows(role, action, data=data):
            return True
    return False


def _caller(claims: dict[str, Any]) -> str:
    return f"appid={claims.get('appid')};oid={claims.get('oid')};iss={claims.get('iss')}"


def authorize_secret_operation(
    world: World, vault_name: str, claims: dict[str, Any], operation: str, secret: str | None
) -> None:
    """Raise the service's 403 unless the caller may do `operation` (on `secret`, if given)."""
    vault = world.vault(vault_name)
    action, permission = SECRET_ACTIONS[operation]
    object_id = str(claims.get("oid", ""))
    location = vault.location
    if vault.properties.get("enableRbacAuthorization"):
        resource = world.vault_resource_id(vault.name).lower()
        if secret:
            resource += f"/secrets/{secret.lower()}"
        if rbac_allows(world, object_id, action, resource, data=True):
            return
        message = "\r\n".join(
            [
                "Caller is not authorized to perform action on resource.",
                "If role assignments, deny assignments or role definitions were changed recently, "
                "please observe propagation time.",
                f"Caller: {_caller(claims)}",
                f"Action: '{action}'",
                f"Resource: '{resource}'",
                "Assignment: (not found)",
                "DenyAssignmentId: null",
                "DecisionReason: null ",
                f"Vault: {vault.name};location={location}",
                "",
            ]
        )
        raise ApiError(403, "Forbidden", message, inner="ForbiddenByRbac")
    for policy in vault.properties.get("accessPolicies") or []:
        if str(policy.get("objectId", "")).lower() != object_id.lower():
            continue
        granted = {p.lower() for p in (policy.get("permissions") or {}).get("secrets") or []}
        if permission in granted or "all" in granted:
            return
    raise ApiError(
        403,
        "Forbidden",
        f"The user, group or application '{_caller(claims)}' does not have secrets {permission} permission "
        f"on key vault '{vault.name};location={location}'. For help resolving this issue, please see "
        "https://go.microsoft.com/fwlink/?linkid=2125287",
        inner="AccessDenied",
    )


def authorize_arm_action(world: World, claims: dict[str, Any], action: str, scope: str) -> None:
    """ARM's control-plane check: 403 AuthorizationFailed unless a role assignment allows it."""
    object_id = str(claims.get("oid", ""))
    if rbac_allows(world, object_id, action, scope, data=False):
        return
    raise ApiError(
        403,
        "AuthorizationFailed",
        f"The client '{claims.get('appid')}' with object id '{object_id}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials.",
        headers={"x-ms-failure-cause": "gateway"},
    )
