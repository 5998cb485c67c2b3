"""Who may do what with a vault's secrets: idempotent role grants and revokes, listings, and the
Key Vault roles explained."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..builtin_roles import ROLES_BY_GUID, BuiltinRole, role_allows
from .arm import ArmBackend, RoleAssignment, VaultResource, find_vault, scope_parts
from .errors import AlreadyExistsError, PrincipalNotFoundError
from .roles import key_vault_roles

PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group", "ForeignGroup", "Device")

# What each secret capability needs, for explaining roles in words.
CAPABILITIES = (
    ("read values", "Microsoft.KeyVault/vaults/secrets/getSecret/action", True),
    ("read metadata", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", True),
    ("write", "Microsoft.KeyVault/vaults/secrets/setSecret/action", True),
    ("delete", "Microsoft.KeyVault/vaults/secrets/delete", True),
    ("recover", "Microsoft.KeyVault/vaults/secrets/recover/action", True),
    ("backup/restore", "Microsoft.KeyVault/vaults/secrets/backup/action", True),
    ("purge", "Microsoft.KeyVault/vaults/secrets/purge/action", True),
    ("grant access", "Microsoft.Authorization/roleAssignments/write", False),
    ("manage the vault", "Microsoft.KeyVault/vaults/write", False),
)


@dataclass(frozen=True)
class GrantRequest:
    vault_url: str
    assignee: str
    role: BuiltinRole
    assignee_type: str | None = None
    secret: str | None = None
    wait_for_principal: dt.timedelta = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class AccessChange:
    status: str  # granted | already granted | revoked | not granted
    vault: str
    scope: str
    role: str
    assignee: str
    assignment_ids: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "vault": self.vault,
            "scope": self.scope,
            "role": self.role,
            "assignee": self.assignee,
            "assignmentIds": list(self.assignment_ids),
            "warnings": list(self.warnings),
        }


def _scope(vault: VaultResource, secret: str | None) -> str:
    return f"{vault.id}/secrets/{secret}" if secret else vault.id


def _same_scope(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def _matching(assignments: list[RoleAssignment], scope: str, role_guid: str, assignee: str) -> list[RoleAssignment]:
    return [
        a
        for a in assignments
        if _same_scope(a.scope, scope) and a.role_guid == role_guid and a.principal_id.lower() == assignee.lower()
    ]


def _model_warnings(vault: VaultResource) -> tuple[str, ...]:
    if vault.rbac:
        return ()
    return (
        f"vault {vault.name} uses access policies, not RBAC: this role grants no access to its secrets until "
        f"RBAC is enabled (az keyvault update --name {vault.name} --enable-rbac-authorization true); until then "
        "its access policies decide",
    )


def grant(
    arm: ArmBackend,
    request: GrantRequest,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    notify: Callable[[str], None],
) -> AccessChange:
    """Give `assignee` the role at the vault (or one secret); an equal assignment is success."""
    vault = find_vault(arm, request.vault_url)
    scope = _scope(vault, request.secret)
    role_guid = request.role.guid

    def change(status: str, ids: tuple[str, ...]) -> AccessChange:
        return AccessChange(status, vault.name, scope, request.role.name, request.assignee, ids, _model_warnings(vault))

    existing = _matching(
        arm.list_role_assignments(scope, principal_id=request.assignee), scope, role_guid, request.assignee
    )
    if existing:
        return change("already granted", tuple(a.id for a in existing))
    deadline = clock() + request.wait_for_principal.total_seconds()
    delay = 2.0
    while True:
        try:
            created = arm.create_role_assignment(scope, role_guid, request.assignee, request.assignee_type)
            return change("granted", (created.id,))
        except AlreadyExistsError:
            # Someone (or a retried request of ours) made it meanwhile: the outcome is what was asked.
            found = _matching(
                arm.list_role_assignments(scope, principal_id=request.assignee), scope, role_guid, request.assignee
            )
            return change("already granted", tuple(a.id for a in found))
        except PrincipalNotFoundError as exc:
            remaining = deadline - clock()
            if remaining <= 0:
                exc.hint = (
                    "check the object id; right after creating an identity, pass --assignee-type "
                    "ServicePrincipal (or User/Group) to skip the directory lookup, or a longer --wait-for-principal"
                )
                raise
            wait = min(delay, remaining)
            notify(
                f"principal {request.assignee} is not in the directory yet (replication after creating an identity "
                f"takes a while); retrying in {wait:.0f}s, for up to {remaining:.0f}s more"
            )
            sleep(wait)
            delay = min(delay * 2, 15.0)


def revoke(arm: ArmBackend, request: GrantRequest) -> AccessChange:
    """Remove the role from `assignee` at the vault (or one secret); nothing to remove is success."""
    vault = find_vault(arm, request.vault_url)
    scope = _scope(vault, request.secret)
    found = _matching(
        arm.list_role_assignments(scope, principal_id=request.assignee), scope, request.role.guid, request.assignee
    )
    for assignment in found:
        arm.delete_role_assignment(assignment.id)
    removed = tuple(a.id for a in found)
    status = "revoked" if removed else "not granted"
    return AccessChange(status, vault.name, scope, request.role.name, request.assignee, removed, _model_warnings(vault))


@dataclass(frozen=True)
class AccessEntry:
    kind: str  # roleAssignment | accessPolicy
    principal_id: str
    principal_type: str | None
    role: str | None
    scope: str | None
    level: str  # subscription | resourceGroup | vault | secret | policy
    secret: str | None = None
    secret_permissions: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "principalId": self.principal_id,
            "principalType": self.principal_type,
            "role": self.role,
            "scope": self.scope,
            "level": self.level,
            "secret": self.secret,
            "secretPermissions": list(self.secret_permissions),
        }


@dataclass(frozen=True)
class AccessReport:
    vault: VaultResource
    entries: list[AccessEntry] = field(default_factory=list)

    @property
    def model(self) -> str:
        return "rbac" if self.vault.rbac else "accessPolicies"


def _level(scope: str) -> str:
    parts = scope_parts(scope)
    for level in ("secret", "vault", "resourceGroup", "subscription"):
        if level in parts:
            return level
    return "root"


def list_access(arm: ArmBackend, vault_url: str) -> AccessReport:
    """Role assignments on the vault (inherited from above and on single secrets) and access policies."""
    vault = find_vault(arm, vault_url)
    entries = []
    for a in arm.list_role_assignments(vault.id):
        role = ROLES_BY_GUID.get(a.role_guid)
        level = _level(a.scope)
        entries.append(
            AccessEntry(
                "roleAssignment",
                a.principal_id,
                a.principal_type,
                role.name if role else a.role_guid,
                a.scope,
                level,
                scope_parts(a.scope).get("secret"),
            )
        )
    for policy in vault.access_policies:
        permissions = tuple(str(p) for p in (policy.get("permissions") or {}).get("secrets") or [])
        entries.append(
            AccessEntry(
                "accessPolicy", str(policy.get("objectId")), None, None, None, "policy", secret_permissions=permissions
            )
        )
    order = {"subscription": 0, "resourceGroup": 1, "vault": 2, "secret": 3, "policy": 4, "root": -1}
    entries.sort(key=lambda e: (order[e.level], e.role or "", e.principal_id))
    return AccessReport(vault, entries)


@dataclass(frozen=True)
class RoleSummary:
    name: str
    guid: str
    description: str
    allows: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.guid, "description": self.description, "allows": list(self.allows)}


def role_summaries() -> list[RoleSummary]:
    """The Key Vault roles and, in words, what each allows with secrets."""
    out = []
    for role in key_vault_roles():
        allows = tuple(name for name, action, data in CAPABILITIES if role_allows(role, action, data=data))
        out.append(RoleSummary(role.name, role.guid, role.description, allows))
    return out
