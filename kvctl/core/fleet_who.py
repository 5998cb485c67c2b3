"""`access who` over a fleet of vaults (found by Resource Graph): one result per vault."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .arm import ArmBackend, VaultResource
from .errors import KvctlError
from .fleet import for_each_vault
from .principals import DirectoryBackend
from .whocan import GroupDirectory, WhoReport, who_can_vault


@dataclass(frozen=True)
class FleetWho:
    vault: VaultResource
    report: WhoReport | None
    error: str | None = None  # why this vault's access could not be read (the others still are)

    def as_json(self) -> dict[str, Any]:
        report = self.report
        return {
            "vault": self.vault.name,
            "vaultUrl": self.vault.vault_url,
            "resourceId": self.vault.id,
            "subscriptionId": self.vault.subscription_id,
            "model": report.model if report else ("rbac" if self.vault.rbac else "accessPolicies"),
            "entries": [e.as_json() for e in report.entries] if report else [],
            "directoryProblem": report.directory_problem if report else None,
            "unknownRoles": list(report.unknown_roles) if report else [],
            "error": self.error,
        }


def who_everywhere(
    arm: ArmBackend,
    vaults: Sequence[VaultResource],
    directory: DirectoryBackend | None,
    groups: GroupDirectory | None,
    *,
    progress: Callable[[int], None] = lambda n: None,
) -> list[FleetWho]:
    def one(vault: VaultResource) -> FleetWho:
        try:
            return FleetWho(vault, who_can_vault(arm, vault, None, directory, groups))
        except KvctlError as exc:
            return FleetWho(vault, None, exc.message)

    return for_each_vault(vaults, one, progress=progress)
