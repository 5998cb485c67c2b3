"""Who may do what with a vault's secrets: idempotent role grants and revokes, listings, and the
Key Vault roles explained."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..builtin_roles import ROLES_BY_GUID, BuiltinRole, role_allows
from .arm import ArmBackend, RoleAssignment, VaultResource, find_vault, scope_parts
from .errors import AlreadyExistsError, ForbiddenError, PrincipalNotFoundError, UnavailableError
from .principals import DirectoryBackend, Principal, names_for
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
    principal: Principal | None = None  # what the directory says the assignee is, when it was asked


@dataclass(frozen=True)
class AccessChange:
    status: str  # granted | already granted | revoked | not granted
    vault: str
    scope: str
    role: str
    assignee: str  # the object id
    assignment_ids: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    principal: Principal | None = None
    propagation: str | None = None  # after grant --wait: visible | effective

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "vault": self.vault,
            "scope": self.scope,
            "role": self.role,
            "assignee": self.assignee,
            "assigneeName": self.principal.label if self.principal else None,
            "assigneeType": self.principal.kind if self.principal else None,
            "assignmentIds": list(self.assignment_ids),
            "warnings": list(self.warnings),
            "propagation": self.propagation,
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
        return AccessChange(
            status,
            vault.name,
            scope,
            request.role.name,
            request.assignee,
            ids,
            _model_warnings(vault),
            request.principal,
        )

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
    return AccessChange(
        status,
        vault.name,
        scope,
        request.role.name,
        request.assignee,
        removed,
        _model_warnings(vault),
        request.principal,
    )


@dataclass(frozen=True)
class GrantWait:
    """How `grant --wait` watches a new assignment take effect."""

    duration: dt.timedelta
    caller_object_id: str | None  # who kvctl is signed in as
    probe: Callable[[], None] | None  # a cheap data-plane call as the caller; ForbiddenError until honoured


def wait_for_grant(
    arm: ArmBackend,
    change: AccessChange,
    role_guid: str,
    plan: GrantWait,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    notify: Callable[[str], None],
) -> AccessChange:
    """Return once the assignment is listed by ARM and, where kvctl is the assignee, the data plane
    honours it; UnavailableError when `plan.duration` runs out first (the assignment stays)."""
    deadline = clock() + plan.duration.total_seconds()
    delay = 1.0

    def pause(what: str) -> None:
        nonlocal delay
        remaining = deadline - clock()
        if remaining <= 0:
            raise UnavailableError(
                f"the role assignment exists but {what} after {plan.duration.total_seconds():.0f}s",
                hint="RBAC changes can take minutes to apply in Azure; wait longer (the assignment is kept)",
            )
        sleep(min(delay, remaining))
        delay = min(delay * 2, 10.0)

    said = False
    while not _matching(
        arm.list_role_assignments(change.scope, principal_id=change.assignee), change.scope, role_guid, change.assignee
    ):
        if not said:
            notify("waiting for the role assignment to be visible through ARM")
            said = True
        pause("ARM does not list it yet")
    if plan.probe is None or (plan.caller_object_id or "").lower() != change.assignee.lower():
        return replace(change, propagation="visible")
    said = False
    while True:
        try:
            plan.probe()
            return replace(change, propagation="effective")
        except ForbiddenError:
            if not said:
                notify("waiting for Key Vault to honour the new role (RBAC propagation)")
                said = True
            pause("Key Vault does not honour it yet")


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
    principal_name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "principalId": self.principal_id,
            "principalName": self.principal_name,
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
    names_missing: str | None = None  # why principal names could not be looked up

    @property
    def model(self) -> str:
        return "rbac" if self.vault.rbac else "accessPolicies"


def _level(scope: str) -> str:
    parts = scope_parts(scope)
    for level in ("secret", "vault", "resourceGroup", "subscription"):
        if level in parts:
            return level
    return "root"


def list_access(
    arm: ArmBackend, vault_url: str, directory: DirectoryBackend | None = None, assignee: str | None = None
) -> AccessReport:
    """Role assignments on the vault (inherited from above and on single secrets) and access policies,
    with the principals' names and types from the directory; only `assignee`'s when given."""
    vault = find_vault(arm, vault_url)
    entries = []
    for a in arm.list_role_assignments(vault.id, principal_id=assignee):
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
    if assignee is not None:
        entries = [e for e in entries if e.principal_id.lower() == assignee.lower()]
    names, missing = names_for(directory, [e.principal_id for e in entries])
    entries = [_named(e, names.get(e.principal_id.lower())) for e in entries]
    order = {"subscription": 0, "resourceGroup": 1, "vault": 2, "secret": 3, "policy": 4, "root": -1}
    entries.sort(key=lambda e: (order[e.level], e.role or "", e.principal_id))
    return AccessReport(vault, entries, missing)


def _named(entry: AccessEntry, principal: Principal | None) -> AccessEntry:
    if principal is None:
        return entry
    return replace(entry, principal_name=principal.label, principal_type=entry.principal_type or principal.kind)


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
