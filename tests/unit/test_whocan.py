"""`access who` core logic with fakes: scope levels, role classification per permission model,
group expansion, and what happens when the directory cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kvctl.builtin_roles import BUILTIN_ROLES
from kvctl.core.arm import RoleAssignment, VaultResource
from kvctl.core.principals import DirectoryUnavailable, Principal
from kvctl.core.whocan import Capabilities, level_of, policy_capabilities, role_capabilities, who_can

SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
RG = f"{SUB}/resourceGroups/rg"
VAULT_ID = f"{RG}/providers/Microsoft.KeyVault/vaults/kv"
URL = "https://kv.vault.azure.net"
ROLE = {r.name: r for r in BUILTIN_ROLES}
GROUP, INNER, ALICE, BOB, APP = (f"{n}0000000-0000-0000-0000-000000000000"[-36:] for n in "abcde")


class FakeArm:
    def __init__(self, vault: VaultResource, assignments: list[RoleAssignment]) -> None:
        self.vault = vault
        self.assignments = assignments

    @property
    def subscription_id(self) -> str:
        return "11111111-1111-1111-1111-111111111111"

    def list_vaults(self) -> Iterator[VaultResource]:
        yield self.vault

    def list_role_assignments(self, scope: str, *, principal_id: str | None = None) -> list[RoleAssignment]:
        return list(self.assignments)

    def get_vault(self, resource_id: str) -> VaultResource:
        return self.vault

    def update_vault(self, resource_id: str, properties: dict[str, Any]) -> VaultResource:
        raise AssertionError("access who must not write")

    def create_role_assignment(self, *args: Any) -> RoleAssignment:
        raise AssertionError("access who must not write")

    def delete_role_assignment(self, assignment_id: str) -> None:
        raise AssertionError("access who must not write")


class FakeDirectory:
    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.principals = {
            GROUP: Principal(GROUP, "Group", "ops"),
            INNER: Principal(INNER, "Group", "inner"),
            ALICE: Principal(ALICE, "User", "Alice", upn="alice@example.com"),
            BOB: Principal(BOB, "User", "Bob", upn="bob@example.com"),
            APP: Principal(APP, "ServicePrincipal", "app"),
        }
        self.expanded: list[str] = []

    def get_by_ids(self, object_ids: list[str]) -> list[Principal]:
        if self.broken:
            raise DirectoryUnavailable("Microsoft Graph refused the directory lookup (403 Authorization_RequestDenied)")
        return [self.principals[o] for o in object_ids if o in self.principals]

    def transitive_members(self, group_id: str) -> list[Principal]:
        self.expanded.append(group_id)
        if self.broken:
            raise DirectoryUnavailable("403")
        return [self.principals[INNER], self.principals[ALICE], self.principals[BOB]] if group_id == GROUP else []

    def service_principals_with_app_id(self, app_id: str) -> list[Principal]:
        return []

    def user(self, upn: str) -> Principal | None:
        return None

    def with_display_name(self, name: str) -> list[Principal]:
        return []


def vault(rbac: bool = True, policies: list[dict[str, Any]] | None = None) -> VaultResource:
    props: dict[str, Any] = {"enableRbacAuthorization": rbac, "accessPolicies": policies or []}
    return VaultResource(VAULT_ID, "kv", "westeurope", URL, props)


def ra(scope: str, role: str, principal: str, kind: str | None = None) -> RoleAssignment:
    guid = ROLE[role].guid if role in ROLE else role
    return RoleAssignment(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/x", "x", scope, guid, principal, kind
    )


@pytest.mark.parametrize(
    ("scope", "level"),
    [
        ("/providers/Microsoft.Management/managementGroups/corp", "managementGroup"),
        ("/", "managementGroup"),
        (SUB, "subscription"),
        (RG, "resourceGroup"),
        (VAULT_ID, "vault"),
        (f"{VAULT_ID}/secrets/db", "secret"),
    ],
)
def test_levels(scope, level):
    assert level_of(scope) == level


def test_roles_classified_from_their_data_actions_on_an_rbac_vault():
    assert role_capabilities(ROLE["Key Vault Secrets User"], rbac_vault=True) == Capabilities(True, True, False, False)
    assert role_capabilities(ROLE["Key Vault Secrets Officer"], rbac_vault=True) == Capabilities(
        True, True, True, False
    )
    assert role_capabilities(ROLE["Key Vault Reader"], rbac_vault=True) == Capabilities(False, True, False, False)
    assert role_capabilities(ROLE["Owner"], rbac_vault=True) == Capabilities(manage=True)
    assert role_capabilities(ROLE["User Access Administrator"], rbac_vault=True) == Capabilities(manage=True)
    assert role_capabilities(ROLE["Contributor"], rbac_vault=True) == Capabilities()
    assert not role_capabilities(ROLE["Reader"], rbac_vault=True).any


def test_on_a_policy_vault_only_who_may_edit_the_policies_counts():
    assert role_capabilities(ROLE["Key Vault Administrator"], rbac_vault=False) == Capabilities()
    assert role_capabilities(ROLE["Contributor"], rbac_vault=False) == Capabilities(manage=True)
    assert role_capabilities(ROLE["Key Vault Contributor"], rbac_vault=False) == Capabilities(manage=True)
    assert policy_capabilities(("Get",)) == Capabilities(read_values=True)
    assert policy_capabilities(("list",)) == Capabilities(read_metadata=True)
    assert policy_capabilities(("all",)) == Capabilities(True, True, True, False)


def test_every_scope_groups_expanded_and_other_secrets_left_out():
    assignments = [
        ra("/providers/Microsoft.Management/managementGroups/corp", "Owner", APP, "ServicePrincipal"),
        ra(SUB, "Reader", BOB, "User"),
        ra(RG, "Key Vault Administrator", APP, "ServicePrincipal"),
        ra(VAULT_ID, "Key Vault Secrets User", GROUP, "Group"),
        ra(f"{VAULT_ID}/secrets/db", "Key Vault Secrets Officer", ALICE, "User"),
        ra(f"{VAULT_ID}/secrets/other", "Key Vault Secrets Officer", BOB, "User"),
    ]
    directory = FakeDirectory()
    report = who_can(FakeArm(vault(), assignments), URL, "db", directory, directory)
    rows = [e.as_json() for e in report.entries]
    assert report.directory_problem is None
    summary = {(r["principalId"], r["level"], r["role"], r["viaGroupName"]) for r in rows}
    assert summary == {
        (APP, "managementGroup", "Owner", None),
        (APP, "resourceGroup", "Key Vault Administrator", None),
        (GROUP, "vault", "Key Vault Secrets User", None),
        (ALICE, "vault", "Key Vault Secrets User", "ops"),
        (BOB, "vault", "Key Vault Secrets User", "ops"),
        (ALICE, "secret", "Key Vault Secrets Officer", None),
    }, "Reader reaches no secret; the grant on another secret does not count; the nested group is not a row"
    alice_via = next(r for r in rows if r["principalId"] == ALICE and r["viaGroupId"])
    assert alice_via["principalName"] == "alice@example.com" and alice_via["principalType"] == "User"
    assert directory.expanded == [GROUP]
    assert rows[0]["readValues"] and rows[-1]["manage"] and not rows[-1]["readValues"], "readers first"


def test_when_graph_cannot_be_read_ids_are_shown_and_groups_marked_unexpanded():
    assignments = [ra(VAULT_ID, "Key Vault Secrets User", GROUP, "Group"), ra(VAULT_ID, "Owner", APP, None)]
    directory = FakeDirectory(broken=True)
    report = who_can(FakeArm(vault(), assignments), URL, None, directory, directory)
    assert report.directory_problem and "403" in report.directory_problem
    rows = [e.as_json() for e in report.entries]
    assert {r["principalId"] for r in rows} == {GROUP, APP}
    assert all(r["principalName"] is None for r in rows)
    assert next(r for r in rows if r["principalId"] == GROUP)["membersExpanded"] is False


def test_access_policies_count_only_on_a_policy_vault():
    policies = [{"objectId": APP.upper(), "permissions": {"secrets": ["get", "list"]}}]
    assignments = [ra(VAULT_ID, "Key Vault Secrets User", BOB, "User"), ra(SUB, "Contributor", ALICE, "User")]
    on_policy = who_can(FakeArm(vault(False, policies), assignments), URL, None, None, None)
    rows = [e.as_json() for e in on_policy.entries]
    assert [(r["principalId"], r["source"], r["readValues"], r["manage"]) for r in rows] == [
        (APP, "accessPolicy", True, False),
        (ALICE, "roleAssignment", False, True),
    ]
    on_rbac = who_can(FakeArm(vault(True, policies), assignments), URL, None, None, None)
    assert [e.principal_id for e in on_rbac.entries] == [BOB]


def test_a_custom_role_is_reported_not_guessed():
    custom = "99999999-9999-9999-9999-999999999999"
    report = who_can(FakeArm(vault(), [ra(VAULT_ID, custom, APP, "ServicePrincipal")]), URL, None, None, None)
    assert report.unknown_roles == (custom,)
    row = report.entries[0].as_json()
    assert row["role"] == custom and row["readValues"] is None
