"""Key Vault resources and role assignments as ARM describes them, the seam to reach them, and
how kvctl finds the subscription to use."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from .audit import Workspace


@dataclass(frozen=True)
class VaultResource:
    id: str
    name: str
    location: str
    vault_url: str
    properties: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def rbac(self) -> bool:
        return bool(self.properties.get("enableRbacAuthorization"))

    @property
    def access_policies(self) -> list[dict[str, Any]]:
        return list(self.properties.get("accessPolicies") or [])

    @property
    def subscription_id(self) -> str:
        return scope_parts(self.id).get("subscription", "")


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    name: str
    scope: str
    role_guid: str
    principal_id: str
    principal_type: str | None


@dataclass(frozen=True)
class Permission:
    """One entry of the ARM permissions API: what one of the caller's role assignments allows."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    conditional: bool = False  # an ABAC condition: whether it applies depends on the request


class ArmBackend(Protocol):
    @property
    def subscription_id(self) -> str: ...

    def list_vaults(self) -> Iterator[VaultResource]: ...

    def get_vault(self, resource_id: str) -> VaultResource: ...

    def update_vault(self, resource_id: str, properties: dict[str, Any]) -> VaultResource: ...

    def list_role_assignments(self, scope: str, *, principal_id: str | None = None) -> list[RoleAssignment]: ...

    def create_role_assignment(
        self, scope: str, role_guid: str, principal_id: str, principal_type: str | None
    ) -> RoleAssignment: ...

    def delete_role_assignment(self, assignment_id: str) -> None: ...

    def permissions(self, scope: str) -> list[Permission]: ...
    def list_diagnostic_settings(self, resource_id: str) -> list[dict[str, Any]]: ...

    def get_workspace(self, resource_id: str) -> Workspace: ...


ArmFactory = Callable[[], ArmBackend]


def normalized_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def find_vault(arm: ArmBackend, vault_url: str) -> VaultResource:
    """The vault resource whose URI is `vault_url` (the data-plane URL names no resource group)."""
    wanted = normalized_url(vault_url)
    for vault in arm.list_vaults():
        if normalized_url(vault.vault_url) == wanted:
            return vault
    raise NotFoundError(
        f"no vault with URL {vault_url} in subscription {arm.subscription_id}",
        hint="check --vault and --subscription (or AZURE_SUBSCRIPTION_ID); ARM lists only vaults you may read "
        "(e.g. with Reader on the vault)",
    )


def scope_parts(scope: str) -> dict[str, str]:
    """`/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/V/secrets/N` -> its parts."""
    parts = [p for p in scope.split("/") if p]
    keys = {"subscriptions": "subscription", "resourcegroups": "resourceGroup", "vaults": "vault", "secrets": "secret"}
    out: dict[str, str] = {}
    for i in range(0, len(parts) - 1):
        key = keys.get(parts[i].lower())
        if key and key not in out:
            out[key] = parts[i + 1]
    return out


def az_cli_default_subscription(config_dir: str | None = None) -> str | None:
    """The Azure CLI's default subscription, if its profile exists (`az account set`)."""
    directory = Path(config_dir or os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")
    try:
        data = json.loads((directory / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    for subscription in data.get("subscriptions", []) if isinstance(data, dict) else []:
        if isinstance(subscription, dict) and subscription.get("isDefault") and subscription.get("id"):
            return str(subscription["id"])
    return None


def choose_subscription(given: str | None, az_default: str | None, visible: Callable[[], list[str]]) -> str:
    """--subscription / AZURE_SUBSCRIPTION_ID, else the Azure CLI's default, else the only one visible."""
    if given:
        return given
    if az_default:
        return az_default
    found = visible()
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(
            "no subscription is visible to this identity", hint="pass --subscription or set AZURE_SUBSCRIPTION_ID"
        )
    raise UsageError(
        f"{len(found)} subscriptions are visible; kvctl will not guess",
        hint="pass --subscription ID or set AZURE_SUBSCRIPTION_ID",
    )
