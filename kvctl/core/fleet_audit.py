"""`audit --all-vaults`: the audit log of every vault found fleet-wide, merged by time. A vault
that sends its log nowhere, or whose log cannot be read, is reported beside the events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .arm import ArmBackend, VaultResource
from .audit import AuditEvent
from .audit_run import AuditRequest, Incomplete, run_audit
from .errors import KvctlError, NotFoundError
from .fleet import for_each_vault


@dataclass
class FleetAudit:
    events: list[tuple[VaultResource, AuditEvent]] = field(default_factory=list)
    not_logging: list[str] = field(default_factory=list)  # vault names: no workspace receives their log
    failed: list[tuple[str, str]] = field(default_factory=list)  # (vault name, why)
    incomplete: list[Incomplete] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        return [{"vault": vault.name, **event.as_json()} for vault, event in self.events]


def audit_everywhere(
    arm: ArmBackend,
    logs: Any,
    directory: Any,
    vaults: Sequence[VaultResource],
    request: AuditRequest,
    now: dt.datetime,
    *,
    progress: Callable[[int], None] = lambda n: None,
) -> FleetAudit:
    def one(vault: VaultResource) -> tuple[VaultResource, Any]:
        try:
            asked = replace(request, vault_url=vault.vault_url)
            return vault, run_audit(arm, arm, logs, directory, asked, now, found=vault)
        except KvctlError as exc:  # NotFoundError: no workspace receives this vault's log
            return vault, exc

    result = FleetAudit()
    for vault, outcome in for_each_vault(vaults, one, progress=progress):
        if isinstance(outcome, NotFoundError):
            result.not_logging.append(vault.name)
        elif isinstance(outcome, KvctlError):
            result.failed.append((vault.name, outcome.message))
        else:
            result.events += [(vault, event) for event in outcome.events]
            result.incomplete += outcome.incomplete
    result.events.sort(key=lambda pair: pair[1].time)
    return result
