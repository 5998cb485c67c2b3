"""Running `check` over one vault, several, every vault in the subscription, or vaults found
fleet-wide (by Resource Graph, whose rows carry the vault settings: no ARM read per vault)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .arm import ArmBackend, RoleAssignment, VaultResource, normalized_url
from .backend import BackendFactory
from .check_posture import audit_logging_findings, broad_grant_findings, private_endpoint_findings
from .check_reads import unread_findings
from .checks import (
    SEVERITIES,
    CheckOptions,
    Finding,
    Fix,
    VaultCheck,
    make_finding,
    plan_fixes,
    secret_findings,
    unreadable_secrets,
    vault_findings,
)
from .errors import ForbiddenError, NotFoundError
from .fleet import SubscriptionAssignments, for_each_vault
from .models import Secret


@dataclass(frozen=True)
class CheckRequest:
    vault_urls: Sequence[str] = ()
    all_vaults: bool = False
    options: CheckOptions = field(default_factory=CheckOptions)
    fix: bool = False
    retention: int | None = None
    # Vaults found already (fleet-wide, by Resource Graph): checked as they are, none looked up.
    discovered: Sequence[VaultResource] | None = None


def select_vaults(arm: ArmBackend, request: CheckRequest) -> list[VaultResource]:
    if request.discovered is not None:
        return list(request.discovered)
    vaults = list(arm.list_vaults())
    if request.all_vaults:
        return vaults
    by_url = {normalized_url(v.vault_url): v for v in vaults}
    selected = []
    for url in request.vault_urls:
        vault = by_url.get(normalized_url(url))
        if vault is None:
            raise NotFoundError(
                f"no vault with URL {url} in subscription {arm.subscription_id}",
                hint="check the vault and --subscription; ARM lists only vaults you may read (Reader on the vault)",
            )
        if vault not in selected:
            selected.append(vault)
    return selected


def apply_fixes(
    arm: ArmBackend, vaults: list[VaultResource], fixes: dict[str, list[Fix]]
) -> tuple[list[VaultResource], dict[str, list[str]]]:
    """Apply each vault's fixes in one update; return the vaults as they are now, and what changed."""
    updated, changes = [], {}
    for vault in vaults:
        planned = fixes.get(vault.id, [])
        if not planned:
            updated.append(vault)
            continue
        properties: dict[str, Any] = {}
        for fix in planned:
            properties.update(fix.properties)
        updated.append(arm.update_vault(vault.id, properties))
        changes[vault.id] = [fix.description for fix in planned]
    return updated, changes


def evaluate(
    vault: VaultResource,
    factory: BackendFactory,
    now: dt.datetime,
    options: CheckOptions,
    arm: ArmBackend | None = None,
    assignments: Callable[[VaultResource], list[RoleAssignment]] | None = None,
    subscription: str | None = None,
) -> list[Finding]:
    """Every finding for one vault. Its settings come from `vault` as found (an ARM list or a
    Resource Graph row alike); `assignments` replaces the per-vault role assignment list;
    `subscription` is named in the remedies that find the vault through ARM."""
    findings = vault_findings(vault, subscription) + private_endpoint_findings(vault, subscription)
    settings: list[dict[str, Any]] | None = None
    if arm is not None:
        posture, settings = _posture(arm, vault, assignments, subscription)
        findings += posture
    secrets: list[Secret] | None = None
    try:
        secrets = list(factory(vault.vault_url).list())
        findings += secret_findings(vault, secrets, now, options)
    except ForbiddenError as exc:
        findings.append(unreadable_secrets(vault, exc.action or "forbidden"))
    if arm is not None and options.logs is not None and settings is not None and secrets is not None:
        findings += unread_findings(
            arm, arm, options.logs, vault, settings, secrets, now, options.unread_for, subscription
        )
    order = {severity: index for index, severity in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: (order[f.severity], f.rule, f.resource))


def _posture(
    arm: ArmBackend,
    vault: VaultResource,
    assignments: Callable[[VaultResource], list[RoleAssignment]] | None = None,
    subscription: str | None = None,
) -> tuple[list[Finding], list[dict[str, Any]] | None]:
    """Audit logging and broad grants: both need only ARM read rights. Also the diagnostic settings
    (None when they could not be read), for KV015."""
    findings: list[Finding] = []
    unreadable: list[str] = []
    settings: list[dict[str, Any]] | None = None
    try:
        settings = arm.list_diagnostic_settings(vault.id)
        findings += audit_logging_findings(vault, settings)
    except ForbiddenError:
        unreadable.append("its diagnostic settings (audit logging, KV008)")
    try:
        listed = assignments(vault) if assignments else arm.list_role_assignments(vault.id)
        findings += broad_grant_findings(vault, listed, subscription)
    except ForbiddenError:
        unreadable.append("its role assignments (broad grants, KV009)")
    if unreadable:
        findings.append(
            make_finding(
                "KV021",
                vault,
                vault.id,
                f"could not read {' or '.join(unreadable)} of {vault.name}",
                f"# ask for 'Reader' on vault {vault.name} to check these too",
            )
        )
    return findings, settings


def run_checks(
    arm: ArmBackend,
    factory: BackendFactory,
    request: CheckRequest,
    *,
    now: dt.datetime,
    confirm: Callable[[list[Fix]], None],
    progress: Callable[[int], None] = lambda n: None,
) -> list[VaultCheck]:
    """Check the requested vaults (fixing first, after one confirmation, when asked)."""
    vaults = select_vaults(arm, request)
    changes: dict[str, list[str]] = {}
    if request.fix:
        plans = {v.id: plan_fixes(v, request.retention) for v in vaults}
        planned = [fix for fixes in plans.values() for fix in fixes]
        if planned:
            confirm(planned)
            vaults, changes = apply_fixes(arm, vaults, plans)

    # Fleet-wide, role assignments come one list per subscription, not one per vault; and each
    # remedy that finds its vault through ARM names the vault's subscription (there is no one
    # subscription the pasted commands could assume).
    fleet = request.discovered is not None
    assignments = SubscriptionAssignments(arm) if fleet else None

    def one(vault: VaultResource) -> VaultCheck:
        subscription = (vault.subscription_id or None) if fleet else None
        findings = evaluate(vault, factory, now, request.options, arm, assignments, subscription)
        return VaultCheck(vault, findings, changes.get(vault.id, []))

    return for_each_vault(vaults, one, progress=progress)
