"""The emulator's ARM side through the real management SDKs, checked against KEYVAULT-WIRE.md §3."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError


@pytest.fixture
def arm(fresh_emulator, monkeypatch):
    emulator = fresh_emulator("--identity", "app", "--vault", "main", "--vault", "other")
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emulator.info["identityHeader"])
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.keyvault import KeyVaultManagementClient

    common = {
        "base_url": emulator.info["armEndpoint"],
        "credential_scopes": ["https://management.azure.com/.default"],
        "connection_verify": emulator.info["caFile"],
    }
    credential = ManagedIdentityCredential()
    kv = KeyVaultManagementClient(credential, emulator.info["subscriptionId"], **common)
    auth = AuthorizationManagementClient(credential, emulator.info["subscriptionId"], **common)
    return emulator, kv, auth


def test_vault_get_and_lists_have_the_resource_shape(arm):
    emulator, kv, _ = arm
    rg = emulator.info["resourceGroup"]
    vault = kv.vaults.get(rg, "main")
    assert vault.id == emulator.info["vaults"][0]["resourceId"]
    assert vault.type == "Microsoft.KeyVault/vaults"
    props = vault.properties
    assert props.enable_soft_delete is True and props.soft_delete_retention_in_days == 90
    assert props.enable_rbac_authorization is True and not props.enable_purge_protection
    assert props.public_network_access == "Enabled" and props.sku.name == "standard"
    assert props.vault_uri.rstrip("/") == emulator.info["vaults"][0]["url"]
    assert props.tenant_id == emulator.info["tenantId"]
    assert {v.name for v in kv.vaults.list_by_subscription()} == {"main", "other"}
    assert {v.name for v in kv.vaults.list_by_resource_group(rg)} == {"main", "other"}
    assert {v.name for v in kv.vaults.list()} == {"main", "other"}
    with pytest.raises(ResourceNotFoundError) as info:
        kv.vaults.get(rg, "nope")
    assert info.value.error.code == "ResourceNotFound"


def test_patch_follows_the_rules(arm):
    emulator, kv, _ = arm
    rg = emulator.info["resourceGroup"]
    updated = kv.vaults.update(
        rg, "main", {"properties": {"enablePurgeProtection": True, "softDeleteRetentionInDays": 30}}
    )
    assert updated.properties.enable_purge_protection is True
    assert updated.properties.soft_delete_retention_in_days == 30
    for bad in (
        {"enablePurgeProtection": False},
        {"enableSoftDelete": False},
        {"softDeleteRetentionInDays": 6},
        {"softDeleteRetentionInDays": 91},
    ):
        with pytest.raises(HttpResponseError) as info:
            kv.vaults.update(rg, "main", {"properties": bad})
        assert info.value.status_code == 400, bad
    assert kv.vaults.get(rg, "main").properties.enable_purge_protection is True
    rbac_off = kv.vaults.update(
        rg,
        "other",
        {
            "properties": {
                "enableRbacAuthorization": False,
                "accessPolicies": [
                    {
                        "tenantId": emulator.info["tenantId"],
                        "objectId": emulator.identity("app")["objectId"],
                        "permissions": {"secrets": ["get", "list"]},
                    }
                ],
            }
        },
    )
    assert rbac_off.properties.enable_rbac_authorization is False
    assert rbac_off.properties.access_policies[0].permissions.secrets == ["get", "list"]


def test_recovery_level_follows_vault_settings(arm, monkeypatch):
    from tests.conftest import secret_client

    emulator, kv, _ = arm
    client = secret_client(emulator)
    assert client.set_secret("s", "v").properties.recovery_level == "Recoverable+Purgeable"
    kv.vaults.update(
        emulator.info["resourceGroup"],
        "main",
        {"properties": {"enablePurgeProtection": True, "softDeleteRetentionInDays": 7}},
    )
    secret = client.get_secret("s")
    assert secret.properties.recovery_level == "CustomizedRecoverable"
    assert secret.properties.recoverable_days == 7
    client.begin_delete_secret("s").wait()
    with pytest.raises(HttpResponseError) as info:
        client.purge_deleted_secret("s")
    assert info.value.status_code == 403 and "purge protection" in info.value.error.message


def test_role_definitions_are_the_built_in_ones(arm):
    emulator, _, auth = arm
    scope = emulator.info["vaults"][0]["resourceId"]
    found = list(auth.role_definitions.list(scope, filter="roleName eq 'Key Vault Secrets User'"))
    assert [d.name for d in found] == ["4633458b-17de-408a-b874-0445c86b69e6"]
    assert found[0].permissions[0].data_actions == [
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ]
    assert found[0].role_type == "BuiltInRole"
    names = {d.role_name for d in auth.role_definitions.list(scope)}
    assert {
        "Key Vault Administrator",
        "Key Vault Secrets Officer",
        "Key Vault Reader",
        "Key Vault Contributor",
        "Key Vault Data Access Administrator",
    } <= names


def _params(emulator, role="4633458b-17de-408a-b874-0445c86b69e6", principal=None, principal_type="ServicePrincipal"):
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    return RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{emulator.info['subscriptionId']}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{role}",
        principal_id=principal or emulator.identity("app")["objectId"],
        principal_type=principal_type,
    )


def test_role_assignment_lifecycle_and_errors(arm):
    emulator, _, auth = arm
    scope = emulator.info["vaults"][0]["resourceId"]
    name = str(uuid.uuid4())
    created = auth.role_assignments.create(scope, name, _params(emulator))
    assert created.scope == scope and created.principal_type == "ServicePrincipal"
    assert auth.role_assignments.get(scope, name).id == created.id
    with pytest.raises(ResourceExistsError) as info:
        auth.role_assignments.create(scope, str(uuid.uuid4()), _params(emulator))
    assert info.value.error.code == "RoleAssignmentExists"
    assert info.value.error.message == "The role assignment already exists."
    app = emulator.identity("app")["objectId"]
    by_principal = list(auth.role_assignments.list_for_scope(scope, filter=f"principalId eq '{app}'"))
    assert [a.name for a in by_principal] == [name]
    at_scope = list(auth.role_assignments.list_for_scope(scope, filter="atScope()"))
    assert name in {a.name for a in at_scope} and any(
        a.scope == f"/subscriptions/{emulator.info['subscriptionId']}" for a in at_scope
    ), "inherited assignments are listed"
    assert auth.role_assignments.delete(scope, name) is not None
    assert auth.role_assignments.delete(scope, name) is None, "204 when already gone"


def test_principal_not_found_and_unmatched_type(arm):
    emulator, _, auth = arm
    scope = emulator.info["vaults"][0]["resourceId"]
    with pytest.raises(HttpResponseError) as info:
        auth.role_assignments.create(
            scope, str(uuid.uuid4()), _params(emulator, principal=str(uuid.uuid4()), principal_type=None)
        )
    assert info.value.status_code == 400 and info.value.error.code == "PrincipalNotFound"
    assert (
        "replication delay" in info.value.error.message
        and ".  See https://aka.ms/docs-principaltype" in info.value.error.message
    )
    with pytest.raises(HttpResponseError) as info:
        auth.role_assignments.create(scope, str(uuid.uuid4()), _params(emulator, principal_type="User"))
    assert info.value.error.code == "UnmatchedPrincipalType"


def test_an_identity_without_roles_is_refused_by_arm(arm, monkeypatch):
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.keyvault import KeyVaultManagementClient

    emulator, _, _ = arm
    client = KeyVaultManagementClient(
        ManagedIdentityCredential(client_id=emulator.identity("app")["clientId"]),
        emulator.info["subscriptionId"],
        base_url=emulator.info["armEndpoint"],
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=emulator.info["caFile"],
    )
    with pytest.raises(HttpResponseError) as info:
        client.vaults.update(emulator.info["resourceGroup"], "main", {"properties": {"enablePurgeProtection": True}})
    assert info.value.status_code == 403 and info.value.error.code == "AuthorizationFailed"
    assert "Microsoft.KeyVault/vaults/write" in info.value.error.message
    assert list(client.vaults.list_by_subscription()) == [], "no read right, no vaults listed"


def test_arm_requires_a_token(arm):
    from tests.emulator.test_wire import raw

    emulator, _, _ = arm
    status, headers, body = raw(
        emulator, "GET", "/subscriptions?api-version=2022-12-01", token=None, url=emulator.info["armEndpoint"]
    )
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    assert 'error="invalid_token"' in headers["www-authenticate"]
    status, _, body = raw(emulator, "GET", "/subscriptions", url=emulator.info["armEndpoint"], token=emulator.token())
    assert status == 400 and body["error"]["code"] == "MissingApiVersionParameter"
