"""Azure built-in role definitions that matter to Key Vault (facts published by Microsoft).

Source: MicrosoftDocs/azure-docs, the JSON role-definition blocks in
articles/role-based-access-control/built-in-roles/general.md (Reader),
articles/role-based-access-control/built-in-roles/privileged.md (Owner, Contributor,
User Access Administrator, Role Based Access Control Administrator) and
articles/role-based-access-control/built-in-roles/security.md (the "Key Vault *" roles) and
articles/role-based-access-control/built-in-roles/monitor.md (Log Analytics Reader).
``guid`` is the role definition ``name``; ``description`` is the JSON ``description``
property; permission strings keep the published order, case and duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinRole:
    name: str
    guid: str
    description: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    key_vault: bool = False  # True for the "Key Vault *" roles


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    # --- General / privileged -------------------------------------------------------------------
    BuiltinRole(
        name="Owner",
        guid="8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        description=(
            "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC."
        ),
        actions=("*",),
    ),
    BuiltinRole(
        name="Contributor",
        guid="b24988ac-6180-42a0-ab88-20f7382dd24c",
        description=(
            "Grants full access to manage all resources, but does not allow you to assign roles in "
            "Azure RBAC, manage assignments in Azure Blueprints, or share image galleries."
        ),
        actions=("*",),
        not_actions=(
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ),
    ),
    BuiltinRole(
        name="Reader",
        guid="acdd72a7-3385-48ef-bd42-f606fba81ae7",
        description="View all resources, but does not allow you to make any changes.",
        actions=("*/read",),
    ),
    BuiltinRole(
        name="User Access Administrator",
        guid="18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        description="Lets you manage user access to Azure resources.",
        actions=(
            "*/read",
            "Microsoft.Authorization/*",
            "Microsoft.Support/*",
        ),
    ),
    BuiltinRole(
        name="Role Based Access Control Administrator",
        guid="f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        description=(
            "Manage access to Azure resources by assigning roles using Azure RBAC. "
            "This role does not allow you to manage access using other ways, such as Azure Policy."
        ),
        actions=(
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ),
    ),
    # --- Key Vault ------------------------------------------------------------------------------
    BuiltinRole(
        name="Key Vault Administrator",
        guid="00482a5a-887f-4fb3-b363-3b7fe8e74483",
        description=(
            "Perform all data plane operations on a key vault and all objects in it, including certificates, "
            "keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for "
            "key vaults that use the 'Azure role-based access control' permission model."
        ),
        actions=(
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ),
        data_actions=("Microsoft.KeyVault/vaults/*",),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Certificate User",
        guid="db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
        description=(
            "Read certificate contents. Only works for key vaults that use the "
            "'Azure role-based access control' permission model."
        ),
        data_actions=(
            "Microsoft.KeyVault/vaults/certificates/read",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            "Microsoft.KeyVault/vaults/keys/read",
        ),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Certificates Officer",
        guid="a4417e6f-fecd-4de8-b567-7b0420556985",
        description=(
            "Perform any action on the certificates of a key vault, except manage permissions. "
            "Only works for key vaults that use the 'Azure role-based access control' permission model."
        ),
        actions=(
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ),
        data_actions=(
            "Microsoft.KeyVault/vaults/certificatecas/*",
            "Microsoft.KeyVault/vaults/certificates/*",
            "Microsoft.KeyVault/vaults/certificatecontacts/write",
        ),
        key_vault=True,
    ),
    # The role definition's JSON description is used. The prose above the JSON block on the docs
    # page is newer wording: "Manage key vaults, but does not allow you to assign roles in Azure RBAC,
    # and does not allow you to access secrets, keys, or certificates."
    BuiltinRole(
        name="Key Vault Contributor",
        guid="f25e0fa2-a7c8-4377-a976-54943a77a395",
        description="Lets you manage key vaults, but not access to them.",
        actions=(
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.KeyVault/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ),
        not_actions=(
            "Microsoft.KeyVault/locations/deletedVaults/purge/action",
            "Microsoft.KeyVault/hsmPools/*",
            "Microsoft.KeyVault/managedHsms/*",
        ),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Crypto Officer",
        guid="14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        description=(
            "Perform any action on the keys of a key vault, except manage permissions. Only works for "
            "key vaults that use the 'Azure role-based access control' permission model."
        ),
        actions=(
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ),
        data_actions=(
            "Microsoft.KeyVault/vaults/keys/*",
            "Microsoft.KeyVault/vaults/keyrotationpolicies/*",
        ),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Crypto Service Encryption User",
        guid="e147488a-f6f5-4113-8e2d-b22465e65bf6",
        description=(
            "Read metadata of keys and perform wrap/unwrap operations. Only works for key vaults "
            "that use the 'Azure role-based access control' permission model."
        ),
        actions=(
            "Microsoft.EventGrid/eventSubscriptions/write",
            "Microsoft.EventGrid/eventSubscriptions/read",
            "Microsoft.EventGrid/eventSubscriptions/delete",
        ),
        data_actions=(
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
        ),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Crypto Service Release User",
        guid="08bbd89e-9f13-488c-ac41-acfcb10c90ab",
        description=(
            "Release keys. Only works for key vaults that use the 'Azure role-based access control' permission model."
        ),
        data_actions=("Microsoft.KeyVault/vaults/keys/release/action",),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Crypto User",
        guid="12338af0-0e69-4776-bea7-57ae8d297424",
        description=(
            "Perform cryptographic operations using keys. Only works for key vaults that use the "
            "'Azure role-based access control' permission model."
        ),
        data_actions=(
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
            "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action",
        ),
        key_vault=True,
    ),
    # "Microsoft.Resources/deployments/*" appears twice in the published actions; kept as published.
    # The published definition also has an ABAC condition (conditionVersion "2.0") that this dataclass
    # does not carry: roleAssignments/write and roleAssignments/delete are only allowed when the role
    # definition is one of Key Vault Administrator, Certificates Officer, Crypto Officer, Crypto Service
    # Encryption User, Crypto User, Reader, Secrets Officer or Secrets User.
    BuiltinRole(
        name="Key Vault Data Access Administrator",
        guid="8b54135c-b56d-4d72-a534-26097cfdc8d8",
        description=(
            "Manage access to Azure Key Vault by adding or removing role assignments for the Key Vault "
            "Administrator, Key Vault Certificates Officer, Key Vault Crypto Officer, "
            "Key Vault Crypto Service Encryption User, Key Vault Crypto User, Key Vault Reader, "
            "Key Vault Secrets Officer, or Key Vault Secrets User roles. "
            "Includes an ABAC condition to constrain role assignments."
        ),
        actions=(
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Management/managementGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/vaults/*/read",
        ),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Reader",
        guid="21090545-7ca7-4776-b22c-e363652d74d2",
        description=(
            "Read metadata of key vaults and its certificates, keys, and secrets. "
            "Cannot read sensitive values such as secret contents or key material. "
            "Only works for key vaults that use the 'Azure role-based access control' permission model."
        ),
        actions=(
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ),
        data_actions=(
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Secrets Officer",
        guid="b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        description=(
            "Perform any action on the secrets of a key vault, except manage permissions. Only works for "
            "key vaults that use the 'Azure role-based access control' permission model."
        ),
        actions=(
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ),
        data_actions=("Microsoft.KeyVault/vaults/secrets/*",),
        key_vault=True,
    ),
    BuiltinRole(
        name="Key Vault Secrets User",
        guid="4633458b-17de-408a-b874-0445c86b69e6",
        description=(
            "Read secret contents. Only works for key vaults that use the "
            "'Azure role-based access control' permission model."
        ),
        data_actions=(
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ),
        key_vault=True,
    ),
    # --- Monitor ---------------------------------------------------------------------------------
    BuiltinRole(
        name="Log Analytics Reader",
        guid="73c42c96-874c-492b-b04d-ab87d138a893",
        description=(
            "Log Analytics Reader can view and search all monitoring data as well as and view monitoring "
            "settings, including viewing the configuration of Azure diagnostics on all Azure resources."
        ),
        actions=(
            "*/read",
            "Microsoft.OperationalInsights/workspaces/analytics/query/action",
            "Microsoft.OperationalInsights/workspaces/search/action",
            "Microsoft.Support/*",
        ),
        not_actions=("Microsoft.OperationalInsights/workspaces/sharedKeys/read",),
    ),
)


def _matches(patterns: tuple[str, ...], action: str) -> bool:
    # Azure's action patterns use `*` as a wildcard for any text, '/' included, case-insensitively.
    from fnmatch import fnmatchcase

    lowered = action.lower()
    return any(fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def role_allows(role: BuiltinRole, action: str, *, data: bool) -> bool:
    """Whether `role` permits `action` (a data action when `data`, else a control-plane action)."""
    if data:
        return _matches(role.data_actions, action) and not _matches(role.not_data_actions, action)
    return _matches(role.actions, action) and not _matches(role.not_actions, action)


ROLES_BY_GUID = {role.guid: role for role in BUILTIN_ROLES}
