"""Pure fleet logic: Resource Graph rows to vaults, discovery (paging is the backend's), the
per-subscription role assignment cache, and the management group validator."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.cli.cmd_check import _management_group
from kvctl.core.arm import RoleAssignment
from kvctl.core.errors import ForbiddenError, NotFoundError, UsageError
from kvctl.core.fleet import (
    VAULT_QUERY,
    FleetScope,
    SubscriptionAssignments,
    discover_vaults,
    fleet_scope,
    for_each_vault,
    vault_from_row,
)

SUB = "11111111-1111-1111-1111-111111111111"


def _row(name: str, sub: str = SUB, **props):
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{name}",
        "name": name,
        "type": "microsoft.keyvault/vaults",
        "location": "eastus",
        "tags": {"team": "a"},
        "properties": {"vaultUri": f"https://{name}.vault.azure.net/", **props},
    }


class Graph:
    def __init__(self, rows):
        self.rows = rows
        self.calls = []

    def query(self, text, scope):
        self.calls.append((text, scope))
        yield from self.rows


def test_a_row_becomes_the_vault_arm_would_describe():
    vault = vault_from_row(_row("kv-a", enablePurgeProtection=True, enableRbacAuthorization=False))
    assert vault is not None
    assert vault.vault_url == "https://kv-a.vault.azure.net" and vault.subscription_id == SUB
    assert vault.properties["enablePurgeProtection"] is True and not vault.rbac and vault.tags == {"team": "a"}
    assert vault_from_row({**_row("x"), "type": "microsoft.storage/storageaccounts"}) is None
    assert vault_from_row({"type": "microsoft.keyvault/vaults"}) is None


def test_discovery_is_one_query_sorted_and_without_duplicates():
    graph = Graph([_row("b"), _row("a"), _row("b"), {"type": "other"}])
    vaults = discover_vaults(graph, FleetScope(subscriptions=(SUB,)))
    assert [v.name for v in vaults] == ["a", "b"]
    assert graph.calls == [(VAULT_QUERY, FleetScope(subscriptions=(SUB,)))]


def test_no_visible_subscription_is_not_found_and_a_group_needs_no_list():
    with pytest.raises(NotFoundError, match="no subscription is visible"):
        fleet_scope(None, list)
    asked = []
    assert fleet_scope("mg", lambda: asked.append(1) or []) == FleetScope(management_groups=("mg",))
    assert asked == []


def _assignment(scope: str) -> RoleAssignment:
    return RoleAssignment(f"{scope}/ra", "ra", scope, "guid", "p", None)


class Arm:
    def __init__(self, assignments, forbidden=()):
        self.assignments = assignments
        self.forbidden = set(forbidden)
        self.calls = []
        self.lock = threading.Lock()

    def list_role_assignments(self, scope, *, principal_id=None):
        with self.lock:
            self.calls.append(scope)
        if scope.lower() in self.forbidden:
            raise ForbiddenError("no")
        return [a for a in self.assignments if a.scope.lower().startswith(scope.lower())]


def test_role_assignments_are_listed_once_per_subscription_and_filtered_per_vault():
    a, b = (vault_from_row(_row(n)) for n in ("a", "b"))
    sub = f"/subscriptions/{SUB}"
    rows = [
        _assignment(sub),
        _assignment(f"{sub}/resourceGroups/rg"),
        _assignment(a.id),
        _assignment(f"{a.id}/secrets/s"),
        _assignment(f"{sub}/resourceGroups/other"),
        _assignment(f"{a.id}x"),  # a vault whose name starts with a's: not a's
    ]
    arm = Arm(rows)
    cache = SubscriptionAssignments(arm)
    results = for_each_vault([a, b] * 8, cache)
    assert arm.calls == [sub.lower()]
    assert [x.scope for x in results[0]] == [sub, f"{sub}/resourceGroups/rg", a.id, f"{a.id}/secrets/s"]
    assert [x.scope for x in results[1]] == [sub, f"{sub}/resourceGroups/rg"]


def test_a_forbidden_subscription_list_falls_back_to_each_vault():
    a = vault_from_row(_row("a"))
    arm = Arm([_assignment(a.id)], forbidden={f"/subscriptions/{SUB}".lower()})
    assert [x.scope for x in SubscriptionAssignments(arm)(a)] == [a.id]
    assert arm.calls == [f"/subscriptions/{SUB}".lower(), a.id]


@given(st.text(max_size=120))
def test_management_group_ids_are_checked_before_any_request(text):
    try:
        found = _management_group(text)
    except UsageError:
        return
    assert found and len(found) <= 90 and "/" not in found
    assert _management_group(f"/providers/Microsoft.Management/managementGroups/{found}") == found
