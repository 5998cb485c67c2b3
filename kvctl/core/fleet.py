"""Every vault the caller can see, across subscriptions, from one Azure Resource Graph query; and
running one piece of work per vault concurrently (bounded, each vault under its own limits).

`discover_vaults` is the one entry point for fleet-wide commands (`check --all-subscriptions`,
`access who --all-vaults`, `audit --all-vaults`): the vaults it returns carry their ARM properties
as Resource Graph has them, so vault-settings rules need no ARM call per vault."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .arm import ArmBackend, RoleAssignment, VaultResource
from .errors import ForbiddenError, NotFoundError

T = TypeVar("T")
MAX_PARALLEL_VAULTS = 8
VAULT_TYPE = "microsoft.keyvault/vaults"
# The subset of KQL the emulator serves too: where, project, order by.
VAULT_QUERY = (
    "resources"
    f" | where type =~ '{VAULT_TYPE}'"
    " | project id, name, type, location, subscriptionId, resourceGroup, tags, properties"
    " | order by id asc"
)


@dataclass(frozen=True)
class FleetScope:
    """Where to look: these subscriptions, or these management groups (one of the two)."""

    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        if self.management_groups:
            return f"management group {', '.join(self.management_groups)}"
        return f"{len(self.subscriptions)} subscription(s)"


class ResourceGraphBackend(Protocol):
    def query(self, text: str, scope: FleetScope) -> Iterator[dict[str, Any]]: ...


def vault_from_row(row: dict[str, Any]) -> VaultResource | None:
    """A vault as a Resource Graph row describes it (the same properties ARM returns), or None
    for a row that is no vault."""
    if str(row.get("type", "")).lower() != VAULT_TYPE or not row.get("id") or not row.get("name"):
        return None
    properties = row.get("properties")
    properties = dict(properties) if isinstance(properties, dict) else {}
    tags = row.get("tags")
    return VaultResource(
        id=str(row["id"]),
        name=str(row["name"]),
        location=str(row.get("location") or ""),
        vault_url=str(properties.get("vaultUri") or "").rstrip("/"),
        properties=properties,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
    )


def fleet_scope(management_group: str | None, visible_subscriptions: Callable[[], list[str]]) -> FleetScope:
    """The management group asked for, else every subscription the caller sees (none: an error)."""
    if management_group:
        return FleetScope(management_groups=(management_group,))
    found = visible_subscriptions()
    if not found:
        raise NotFoundError(
            "no subscription is visible to this identity, so there are no vaults to check",
            hint="ask for a role (e.g. Reader) on a subscription or on the vaults, then sign in again",
        )
    return FleetScope(subscriptions=tuple(found))


def discover_vaults(graph: ResourceGraphBackend, scope: FleetScope) -> list[VaultResource]:
    """Every vault in `scope` the caller may read, from one Resource Graph query (paged), in a
    stable order (by resource id)."""
    seen: set[str] = set()
    vaults: list[VaultResource] = []
    for row in graph.query(VAULT_QUERY, scope):
        vault = vault_from_row(row)
        if vault is not None and vault.id.lower() not in seen:
            seen.add(vault.id.lower())
            vaults.append(vault)
    return sorted(vaults, key=lambda v: v.id.lower())


def for_each_vault(
    vaults: Sequence[VaultResource],
    work: Callable[[VaultResource], T],
    *,
    progress: Callable[[int], None] = lambda n: None,
    parallel: int = MAX_PARALLEL_VAULTS,
) -> list[T]:
    """`work(vault)` for every vault, at most `parallel` vaults at a time (each vault's own client
    keeps its own throttling limits); results in the vaults' order."""

    def one(vault: VaultResource) -> T:
        result = work(vault)
        progress(1)
        return result

    if not vaults:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(vaults)))) as pool:
        return list(pool.map(one, vaults))


def _covers(scope: str, resource: str) -> bool:
    scope, resource = scope.rstrip("/").lower(), resource.rstrip("/").lower()
    return resource == scope or resource.startswith(scope + "/")


class SubscriptionAssignments:
    """The role assignments that apply to a vault, from one ARM list per subscription (which
    holds those above it, at it and below it) instead of one per vault. Where the caller may not
    list a subscription's assignments, each vault is asked for on its own."""

    def __init__(self, arm: ArmBackend) -> None:
        self._arm = arm
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._lists: dict[str, list[RoleAssignment] | None] = {}

    def __call__(self, vault: VaultResource) -> list[RoleAssignment]:
        subscription = vault.subscription_id.lower()
        with self._lock:
            lock = self._locks.setdefault(subscription, threading.Lock())
        with lock:  # one list per subscription, even when its vaults are checked at once
            if subscription not in self._lists:
                try:
                    self._lists[subscription] = self._arm.list_role_assignments(f"/subscriptions/{subscription}")
                except ForbiddenError:
                    self._lists[subscription] = None
            listed = self._lists[subscription]
        if listed is None:
            return self._arm.list_role_assignments(vault.id)
        return [a for a in listed if _covers(a.scope, vault.id) or _covers(vault.id, a.scope)]
