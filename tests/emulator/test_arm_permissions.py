"""The emulator's Permissions - List For Resource / Resource Group through the real management SDK:
the caller's own effective permissions, summed over its role assignments that cover the scope."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


def _client(emulator, client_id=None):
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.authorization import AuthorizationManagementClient

    return AuthorizationManagementClient(
        ManagedIdentityCredential(client_id=client_id),
        emulator.info["subscriptionId"],
        base_url=emulator.info["armEndpoint"],
        credential_scopes=["https://management.azure.com/.default"],
        connection_verify=emulator.info["caFile"],
    )


def _assign(admin, scope, role, principal):
    admin.role_assignments.create(
        scope,
        str(uuid.uuid4()),
        {
            "role_definition_id": f"/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principal_id": principal,
            "principal_type": "ServicePrincipal",
        },
    )


def test_permissions_list_what_the_callers_assignments_allow_at_the_scope(fresh_emulator, monkeypatch, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text('{"db": "x", "other": "y"}')
    emulator = fresh_emulator("--identity", "app", "--seed", str(seed))
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emulator.info["identityHeader"])
    app = emulator.identity("app")
    admin, mine = _client(emulator), _client(emulator, app["clientId"])
    vault = emulator.info["vaults"][0]["resourceId"]
    group, name = emulator.info["resourceGroup"], emulator.info["vaults"][0]["name"]

    def data_actions(secret):
        found = mine.permissions.list_for_resource(group, "Microsoft.KeyVault", f"vaults/{name}", "secrets", secret)
        return sorted(a for p in found for a in p.data_actions)

    assert data_actions("db") == [], "no assignment, no permissions (asking is allowed)"
    _assign(admin, vault, SECRETS_USER, app["objectId"])
    _assign(admin, f"{vault}/secrets/db", SECRETS_OFFICER, app["objectId"])
    assert data_actions("db") == sorted(
        [
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            "Microsoft.KeyVault/vaults/secrets/*",
        ]
    )
    assert "Microsoft.KeyVault/vaults/secrets/*" not in data_actions("other"), "the secret-scope role stays there"
    at_group = list(mine.permissions.list_for_resource_group(group))
    assert [a for p in at_group for a in p.data_actions] == [], "assignments below the scope do not count"
    with pytest.raises(ResourceNotFoundError):
        data_actions("missing")
