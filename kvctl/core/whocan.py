"""`access who`: every principal that can read, write or manage a vault's secrets (or one secret),
from role assignments at every scope above it, groups expanded to their members, and access
policies — computed from read-only ARM and Graph answers.

What a role allows comes from the published built-in role definitions (kvctl/builtin_roles.py):
data actions decide reading and writing; the control-plane actions that let a principal give
itself data access (assigning roles on an RBAC vault, editing access policies on a policy vault)
count as "manage".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..builtin_roles import ROLES_BY_GUID, BuiltinRole, role_allows
from .arm import ArmBackend, RoleAssignment, VaultResource, find_vault
from .errors import KvctlError
from .principals import DirectoryBackend, Principal, names_for

READ_VALUES = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
READ_METADATA = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
WRITE_ACTIONS = (
    "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    "Microsoft.KeyVault/vaults/secrets/delete",
    "Microsoft.KeyVault/vaults/secrets/purge/action",
    "Microsoft.KeyVault/vaults/secrets/restore/action",
    "Microsoft.KeyVault/vaults/secrets/recover/action",
)
# On an RBAC vault, whoever may assign roles at a scope covering it may give itself any data role.
RBAC_MANAGE = "Microsoft.Authorization/roleAssignments/write"
# On an access-policy vault, whoever may write the vault (or its policies) may add a policy for itself.
POLICY_MANAGE = ("Microsoft.KeyVault/vaults/accessPolicies/write", "Microsoft.KeyVault/vaults/write")
POLICY_READ = {"get", "all"}
POLICY_LIST = {"list", "all"}
POLICY_WRITE = {"set", "delete", "purge", "restore", "recover", "all"}
LEVELS = ("managementGroup", "subscription", "resourceGroup", "vault", "secret", "accessPolicy")


class GroupDirectory(Protocol):
    def transitive_members(self, group_id: str) -> list[Principal]: ...


@dataclass(frozen=True)
class Capabilities:
    read_values: bool = False
    read_metadata: bool = False
    write: bool = False
    manage: bool = False

    @property
    def any(self) -> bool:
        return self.read_values or self.read_metadata or self.write or self.manage


@dataclass(frozen=True)
class WhoEntry:
    principal_id: str
    principal_type: str | None
    source: str  # roleAssignment | accessPolicy
    level: str  # one of LEVELS: where the grant is made
    capabilities: Capabilities
    role: str | None = None  # the role's name (its GUID when not a built-in role)
    scope: str | None = None  # the role assignment's scope
    assignment_id: str | None = None
    secret_permissions: tuple[str, ...] = ()
    principal_name: str | None = None
    via_group_id: str | None = None  # set when the principal holds this through a group's grant
    via_group_name: str | None = None
    members_expanded: bool | None = None  # for groups: whether their members are listed too
    known_role: bool = True

    def as_json(self) -> dict[str, Any]:
        caps = self.capabilities
        return {
            "principalId": self.principal_id,
            "principalName": self.principal_name,
            "principalType": self.principal_type,
            "viaGroupId": self.via_group_id,
            "viaGroupName": self.via_group_name,
            "source": self.source,
            "role": self.role,
            "secretPermissions": list(self.secret_permissions) if self.source == "accessPolicy" else None,
            "level": self.level,
            "scope": self.scope,
            "assignmentId": self.assignment_id,
            "readValues": caps.read_values if self.known_role else None,
            "readMetadata": caps.read_metadata if self.known_role else None,
            "write": caps.write if self.known_role else None,
            "manage": caps.manage if self.known_role else None,
            "membersExpanded": self.members_expanded,
        }


@dataclass(frozen=True)
class WhoReport:
    vault: VaultResource
    secret: str | None
    entries: list[WhoEntry]
    directory_problem: str | None = None  # why names or group members could not be read
    unknown_roles: tuple[str, ...] = ()  # role definition GUIDs kvctl cannot classify

    @property
    def model(self) -> str:
        return "rbac" if self.vault.rbac else "accessPolicies"


def level_of(scope: str) -> str:
    """Which kind of scope a role assignment is made at."""
    parts = [p.lower() for p in scope.split("/") if p]
    if "secrets" in parts:
        return "secret"
    if "vaults" in parts:
        return "vault"
    if "resourcegroups" in parts:
        return "resourceGroup"
    if "subscriptions" in parts:
        return "subscription"
    return "managementGroup"  # a management group, or the tenant root ("/")


def role_capabilities(role: BuiltinRole, *, rbac_vault: bool) -> Capabilities:
    """What `role` lets a principal do with the secrets of a vault of this permission model."""
    if rbac_vault:
        return Capabilities(
            read_values=role_allows(role, READ_VALUES, data=True),
            read_metadata=role_allows(role, READ_METADATA, data=True),
            write=any(role_allows(role, a, data=True) for a in WRITE_ACTIONS),
            manage=role_allows(role, RBAC_MANAGE, data=False),
        )
    # An access-policy vault ignores data actions in roles: only the control plane counts.
    return Capabilities(manage=any(role_allows(role, a, data=False) for a in POLICY_MANAGE))


def policy_capabilities(permissions: tuple[str, ...]) -> Capabilities:
    granted = {p.lower() for p in permissions}
    return Capabilities(
        read_values=bool(granted & POLICY_READ),
        read_metadata=bool(granted & POLICY_LIST),
        write=bool(granted & POLICY_WRITE),
    )


def _applies(assignment: RoleAssignment, secret: str | None) -> bool:
    """An assignment on one secret grants nothing on another one (for the whole vault it is shown:
    it reaches one of the vault's secrets)."""
    if secret is None or level_of(assignment.scope) != "secret":
        return True
    return assignment.scope.rstrip("/").rsplit("/", 1)[-1].lower() == secret.lower()


def grants(vault: VaultResource, assignments: list[RoleAssignment], secret: str | None) -> list[WhoEntry]:
    """The direct grants (before groups are expanded): role assignments that reach the vault or
    secret and give some capability with secrets, and, on an access-policy vault, its policies."""
    out: list[WhoEntry] = []
    for a in assignments:
        if not _applies(a, secret):
            continue
        role = ROLES_BY_GUID.get(a.role_guid.lower())
        if role is None:
            out.append(
                WhoEntry(
                    a.principal_id.lower(),
                    a.principal_type,
                    "roleAssignment",
                    level_of(a.scope),
                    Capabilities(),
                    a.role_guid,
                    a.scope,
                    a.id,
                    known_role=False,
                )
            )
            continue
        caps = role_capabilities(role, rbac_vault=vault.rbac)
        if caps.any:
            out.append(
                WhoEntry(
                    a.principal_id.lower(),
                    a.principal_type,
                    "roleAssignment",
                    level_of(a.scope),
                    caps,
                    role.name,
                    a.scope,
                    a.id,
                )
            )
    if not vault.rbac:  # an RBAC vault ignores its access policies
        for policy in vault.access_policies:
            permissions = tuple(str(p) for p in (policy.get("permissions") or {}).get("secrets") or [])
            caps = policy_capabilities(permissions)
            if caps.any:
                out.append(
                    WhoEntry(
                        str(policy.get("objectId", "")).lower(),
                        None,
                        "accessPolicy",
                        "accessPolicy",
                        caps,
                        secret_permissions=permissions,
                    )
                )
    return out


def _expand(
    entries: list[WhoEntry], groups: GroupDirectory | None, known: dict[str, Principal]
) -> tuple[list[WhoEntry], str | None]:
    """Each grant to a group, repeated for every (transitive) member that is not itself a group."""
    out: list[WhoEntry] = []
    problem: str | None = None
    members_of: dict[str, list[Principal] | None] = {}
    for entry in entries:
        kind = entry.principal_type or (known[entry.principal_id].kind if entry.principal_id in known else None)
        if kind != "Group":
            out.append(entry)
            continue
        if entry.principal_id not in members_of:
            members: list[Principal] | None = None
            if groups is not None and problem is None:
                try:
                    members = groups.transitive_members(entry.principal_id)
                except KvctlError as exc:  # no Graph rights: show the group, say so
                    problem = str(exc)
            members_of[entry.principal_id] = members
        members = members_of[entry.principal_id]
        out.append(replace(entry, principal_type="Group", members_expanded=members is not None))
        group_name = known[entry.principal_id].label if entry.principal_id in known else None
        for member in members or []:
            if member.kind == "Group":
                continue  # a nested group's own members are already in the transitive list
            out.append(
                replace(
                    entry,
                    principal_id=member.object_id.lower(),
                    principal_type=member.kind,
                    principal_name=member.label,
                    via_group_id=entry.principal_id,
                    via_group_name=group_name,
                    members_expanded=None,
                )
            )
    return out, problem


def _sort_key(entry: WhoEntry) -> tuple[Any, ...]:
    caps = entry.capabilities
    return (
        not caps.read_values,
        not caps.write,
        not caps.manage,
        (entry.principal_name or entry.principal_id).lower(),
        LEVELS.index(entry.level),
        entry.role or "",
        entry.via_group_id or "",
    )


def who_can(
    arm: ArmBackend,
    vault_url: str,
    secret: str | None,
    directory: DirectoryBackend | None,
    groups: GroupDirectory | None,
) -> WhoReport:
    """Everyone who can read, write or manage the vault's secrets (or `secret`), and how."""
    return who_can_vault(arm, find_vault(arm, vault_url), secret, directory, groups)


def who_can_vault(
    arm: ArmBackend,
    vault: VaultResource,
    secret: str | None,
    directory: DirectoryBackend | None,
    groups: GroupDirectory | None,
) -> WhoReport:
    """`who_can` for a vault already found (e.g. by Resource Graph): no vault lookup."""
    scope = f"{vault.id}/secrets/{secret}" if secret else vault.id
    # ARM lists the assignments at the scope, inherited from above it (resource group,
    # subscription, management group) and, for a vault, those on its single secrets.
    direct = grants(vault, arm.list_role_assignments(scope), secret)
    names, missing = names_for(directory, [e.principal_id for e in direct])
    direct = [_named(e, names.get(e.principal_id)) for e in direct]
    expanded, group_problem = _expand(direct, groups if missing is None else None, names)
    problem = missing or group_problem
    unknown = tuple(sorted({e.role or "" for e in expanded if not e.known_role}))
    return WhoReport(vault, secret, sorted(expanded, key=_sort_key), problem, unknown)


def _named(entry: WhoEntry, principal: Principal | None) -> WhoEntry:
    if principal is None:
        return entry
    return replace(entry, principal_name=principal.label, principal_type=entry.principal_type or principal.kind)
