"""The built-in role data, pinned to an independent source: the table in KEYVAULT-WIRE.md (from
Microsoft's built-in-roles/security.md). The emulator and kvctl both read kvctl/builtin_roles.py,
so end-to-end tests alone would agree with a wrong GUID or data action."""

from __future__ import annotations

import pytest

from kvctl.builtin_roles import BUILTIN_ROLES, role_allows

PUBLISHED = {
    "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
    "Key Vault Data Access Administrator": "8b54135c-b56d-4d72-a534-26097cfdc8d8",
    "Key Vault Contributor": "f25e0fa2-a7c8-4377-a976-54943a77a395",
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
}
ROLES = {role.name: role for role in BUILTIN_ROLES}
SECRET = "Microsoft.KeyVault/vaults/secrets/"


@pytest.mark.parametrize(("name", "guid"), PUBLISHED.items())
def test_role_guids_are_the_published_ones(name, guid):
    assert ROLES[name].guid == guid


def test_secrets_user_reads_values_and_metadata_only():
    assert ROLES["Key Vault Secrets User"].data_actions == (f"{SECRET}getSecret/action", f"{SECRET}readMetadata/action")


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("Key Vault Reader", ["readMetadata/action"], ["getSecret/action", "setSecret/action", "purge/action"]),
        ("Key Vault Secrets Officer", ["getSecret/action", "setSecret/action", "delete", "purge/action"], []),
        ("Key Vault Administrator", ["getSecret/action", "purge/action"], []),
        ("Key Vault Contributor", [], ["getSecret/action", "readMetadata/action"]),
    ],
)
def test_secret_data_actions(role, allowed, refused):
    for action in allowed:
        assert role_allows(ROLES[role], SECRET + action, data=True), (role, action)
    for action in refused:
        assert not role_allows(ROLES[role], SECRET + action, data=True), (role, action)


def test_management_roles_have_no_data_access_and_contributor_can_change_vaults():
    assert role_allows(ROLES["Key Vault Contributor"], "Microsoft.KeyVault/vaults/write", data=False)
    assert not role_allows(ROLES["Contributor"], "Microsoft.Authorization/roleAssignments/write", data=False)
    assert role_allows(
        ROLES["Key Vault Data Access Administrator"], "Microsoft.Authorization/roleAssignments/write", data=False
    )
