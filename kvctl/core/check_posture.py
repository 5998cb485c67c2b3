"""`check` rules beyond the vault's own properties: private endpoints (KV007), audit logging
through diagnostic settings (KV008) and broad roles above the vault that reach its secrets (KV009).
No remedy here changes a secret or its value."""

from __future__ import annotations

from typing import Any

from ..builtin_roles import ROLES_BY_GUID
from .arm import RoleAssignment, VaultResource
from .checks import Finding, make_finding, subscription_option
from .whocan import level_of, role_capabilities

AUDIT_CATEGORY = "AuditEvent"
AUDIT_GROUPS = ("audit", "alllogs")
DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")
BROAD_ROLES = ("Owner", "Contributor", "User Access Administrator", "Key Vault Administrator")
BROAD_LEVELS = ("managementGroup", "subscription", "resourceGroup")
# How to send a vault's audit log to a workspace (KV008's remedy and `kvctl audit`'s hint alike).
ENABLE_COMMAND = (
    "az monitor diagnostic-settings create --name kvctl-audit --resource {vault_id} --workspace WORKSPACE_ID "
    '--logs \'[{{"categoryGroup":"audit","enabled":true}}]\''
)


def private_endpoint_findings(vault: VaultResource, subscription: str | None = None) -> list[Finding]:
    connections = vault.properties.get("privateEndpointConnections") or []
    approved = [
        c
        for c in connections
        if isinstance(c, dict)
        and str(((c.get("properties") or c).get("privateLinkServiceConnectionState") or {}).get("status", "")).lower()
        == "approved"
    ]
    if approved:
        return []
    return [
        make_finding(
            "KV007",
            vault,
            vault.id,
            f"vault {vault.name} has no approved private endpoint",
            f"az network private-endpoint create --name {vault.name}-pe --connection-name {vault.name} "
            f"--private-connection-resource-id {vault.id} --group-id vault --vnet-name VNET --subnet SUBNET "
            f"--resource-group RG{subscription_option(subscription)}",
        )
    ]


def sends_audit_events(setting: dict[str, Any]) -> bool:
    """Whether one diagnostic setting sends the AuditEvent log to some destination."""
    props = setting.get("properties") or {}
    if not any(isinstance(props.get(d), str) and props.get(d) for d in DESTINATIONS):
        return False
    for log in props.get("logs") or []:
        if not isinstance(log, dict) or log.get("enabled") is not True:
            continue
        if log.get("category") == AUDIT_CATEGORY or str(log.get("categoryGroup") or "").lower() in AUDIT_GROUPS:
            return True
    return False


def audit_logging_findings(vault: VaultResource, settings: list[dict[str, Any]]) -> list[Finding]:
    if any(sends_audit_events(s) for s in settings):
        return []
    return [
        make_finding(
            "KV008",
            vault,
            vault.id,
            f"vault {vault.name} sends its AuditEvent log nowhere (no diagnostic setting)",
            ENABLE_COMMAND.format(vault_id=vault.id),  # the same command `kvctl audit` gives
        )
    ]


def broad_grant_findings(
    vault: VaultResource, assignments: list[RoleAssignment], subscription: str | None = None
) -> list[Finding]:
    found = []
    for a in assignments:
        role = ROLES_BY_GUID.get(a.role_guid.lower())
        level = level_of(a.scope)
        if role is None or role.name not in BROAD_ROLES or level not in BROAD_LEVELS:
            continue
        caps = role_capabilities(role, rbac_vault=vault.rbac)
        if role.name == "Contributor" and vault.rbac:
            how = "may switch the vault to access policies and add one for itself"
        elif caps.read_values:
            how = "reads every secret value"
        elif caps.manage:
            how = "may grant itself access to every secret"
        else:
            continue  # e.g. Key Vault Administrator above an access-policy vault: no data access
        found.append(
            make_finding(
                "KV009",
                vault,
                a.id,
                f"{role.name} for {a.principal_id} at {level} scope {a.scope} {how} in vault {vault.name}",
                # The narrow grant first, so the principal keeps the access it has reason to use.
                f"kvctl access grant --assignee {a.principal_id} --role 'Key Vault Secrets User' "
                f"--vault {vault.vault_url}{subscription_option(subscription)} "
                f"&& az role assignment delete --ids {a.id}",
            )
        )
    return found
