"""`kvctl check`: findings about a vault's settings and its secrets' hygiene, and the safe fixes.

Rule ids are stable (scripts and SARIF consumers key on them); severities are FAIL, WARN, INFO.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .arm import VaultResource
from .check_rules import RULES, Rule  # noqa: F401 - the catalogue, re-exported for its users
from .models import Secret

if TYPE_CHECKING:
    from .audit_run import LogsBackend

SEVERITIES = ("INFO", "WARN", "FAIL")
MAX_RETENTION = 90
_ALL_SECRET_PERMISSIONS = {"get", "list", "set", "delete", "backup", "restore", "recover", "purge"}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    vault: str
    resource: str
    message: str
    remedy: str  # one shell line, ready to paste: a command, with any explanation as a # comment

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.rule,
            "severity": self.severity,
            "vault": self.vault,
            "resource": self.resource,
            "message": self.message,
            "remedy": self.remedy,
        }


@dataclass(frozen=True)
class CheckOptions:
    expiring_within: dt.timedelta = dt.timedelta(days=30)
    max_age: dt.timedelta | None = None
    unread_for: dt.timedelta = dt.timedelta(days=90)  # KV015's window
    logs: LogsBackend | None = None  # where the audit log is queried; None: KV015 is not checked


def make_finding(rule_id: str, vault: VaultResource, resource: str, message: str, remedy: str) -> Finding:
    return Finding(rule_id, RULES[rule_id].severity, vault.name, resource, message, remedy)


def _kvctl_target(vault: VaultResource) -> str:
    """How a kvctl command names this vault: a name finds it only in Azure's DNS; elsewhere (the
    emulator) its URL does."""
    return vault.name if vault.vault_url.lower().startswith(f"https://{vault.name.lower()}.") else vault.vault_url


def subscription_option(subscription: str | None) -> str:
    """` --subscription ID` for a remedy that finds the vault through ARM by name or URL (az
    keyvault …, and kvctl's check, audit and access), when it must name one: fleet-wide, a vault
    may be in any subscription, and a pasted command would otherwise look in the default one."""
    return f" --subscription {subscription}" if subscription else ""


def vault_findings(vault: VaultResource, subscription: str | None = None) -> list[Finding]:
    """Findings from the vault's ARM properties (`subscription`: named in remedies that need it)."""
    props = vault.properties
    name = vault.name
    target = _kvctl_target(vault)
    sub = subscription_option(subscription)
    found: list[Finding] = []
    if props.get("enableSoftDelete") is False:
        found.append(
            make_finding(
                "KV001",
                vault,
                vault.id,
                f"vault {name} has soft delete off",
                f"kvctl check {target} --fix{sub}  # enables soft delete and purge protection; irreversible",
            )
        )
    if not props.get("enablePurgeProtection"):
        found.append(
            make_finding(
                "KV002",
                vault,
                vault.id,
                f"vault {name} has purge protection off",
                f"kvctl check {target} --fix{sub}  # or: az keyvault update --name {name}{sub} "
                "--enable-purge-protection true (irreversible)",
            )
        )
    retention = props.get("softDeleteRetentionInDays")
    if props.get("enableSoftDelete") is not False and isinstance(retention, int) and retention < MAX_RETENTION:
        found.append(
            make_finding(
                "KV003",
                vault,
                vault.id,
                f"vault {name} keeps deleted secrets for {retention} days",
                f"kvctl check {target} --fix --retention {MAX_RETENTION}{sub}",
            )
        )
    if not vault.rbac:
        found.append(
            make_finding(
                "KV004",
                vault,
                vault.id,
                f"vault {name} uses access policies instead of RBAC",
                f"az keyvault update --name {name}{sub} --enable-rbac-authorization true  "
                "# after granting roles with kvctl access grant",
            )
        )
        for policy in vault.access_policies:
            granted = {str(p).lower() for p in (policy.get("permissions") or {}).get("secrets") or []}
            if "all" in granted or "purge" in granted or granted >= _ALL_SECRET_PERMISSIONS:
                oid = policy.get("objectId")
                what = "purge" if "purge" in granted and "all" not in granted else "every secret permission"
                found.append(
                    make_finding(
                        "KV005",
                        vault,
                        f"{vault.id}/accessPolicies/{oid}",
                        f"access policy for {oid} in vault {name} grants {what}",
                        f"az keyvault set-policy --name {name}{sub} --object-id {oid} --secret-permissions get list",
                    )
                )
    acls = props.get("networkAcls") or {}
    if props.get("publicNetworkAccess", "Enabled") != "Disabled" and acls.get("defaultAction", "Allow") == "Allow":
        found.append(
            make_finding(
                "KV006",
                vault,
                vault.id,
                f"vault {name} accepts requests from any network",
                f"az keyvault update --name {name}{sub} --default-action Deny  "
                "# then add network rules; or: --public-network-access Disabled",
            )
        )
    return found


def secret_findings(
    vault: VaultResource, secrets: Iterable[Secret], now: dt.datetime, options: CheckOptions
) -> list[Finding]:
    """Hygiene findings for enabled secrets (disabled ones cannot be read, so they harm no reader)."""
    found: list[Finding] = []
    target = _kvctl_target(vault)
    for secret in secrets:
        attrs = secret.attributes
        if attrs.enabled is False:
            continue
        resource = secret.id
        name = secret.name
        if attrs.expires is None:
            found.append(
                make_finding(
                    "KV011",
                    vault,
                    resource,
                    f"secret {name} in {vault.name} has no expiry",
                    f"kvctl update {name} --expires 90d --vault {target}  # attributes only: the value stays",
                )
            )
        elif attrs.expires <= now:
            found.append(
                make_finding(
                    "KV010",
                    vault,
                    resource,
                    f"secret {name} in {vault.name} expired on {attrs.expires:%Y-%m-%d}",
                    f"kvctl update {name} --expires 90d --vault {target}  "
                    "# only while the value is still valid; else renew the credential where it is issued",
                )
            )
        elif attrs.expires <= now + options.expiring_within:
            days = (attrs.expires - now).days
            found.append(
                make_finding(
                    "KV012",
                    vault,
                    resource,
                    f"secret {name} in {vault.name} expires in {days} days ({attrs.expires:%Y-%m-%d})",
                    f"kvctl update {name} --expires 90d --vault {target}  "
                    "# only if the value stays valid longer; else renew the credential where it is issued",
                )
            )
        if not secret.content_type:
            found.append(
                make_finding(
                    "KV014",
                    vault,
                    resource,
                    f"secret {name} in {vault.name} has no content type",
                    f"kvctl update {name} --content-type text/plain --vault {target}  "
                    "# attributes only: the value stays",
                )
            )
        updated = attrs.created or attrs.updated
        if options.max_age is not None and updated is not None and now - updated > options.max_age:
            found.append(
                make_finding(
                    "KV013",
                    vault,
                    resource,
                    f"secret {name} in {vault.name} was last set {(now - updated).days} days ago",
                    f"kvctl versions {name} --vault {target}  # its history; renew the credential where it is issued",
                )
            )
    return found


def unreadable_secrets(vault: VaultResource, reason: str) -> Finding:
    return make_finding(
        "KV020",
        vault,
        vault.id,
        f"could not list the secrets of {vault.name}: {reason}",
        f"# ask for 'Key Vault Reader' on vault {vault.name} to check secret hygiene too",
    )


def at_or_above(finding: Finding, threshold: str) -> bool:
    return SEVERITIES.index(finding.severity) >= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class Fix:
    vault: str
    resource_id: str
    properties: dict[str, Any]
    description: str
    irreversible: bool


def plan_fixes(vault: VaultResource, retention: int | None) -> list[Fix]:
    """The safe changes for this vault: turn on soft delete and purge protection, raise retention
    when asked. Nothing is ever deleted, disabled or lowered."""
    props = vault.properties
    fixes: list[Fix] = []
    if props.get("enableSoftDelete") is False:
        fixes.append(
            Fix(
                vault.name,
                vault.id,
                {"enableSoftDelete": True},
                f"enable soft delete on {vault.name}",
                irreversible=True,
            )
        )
    if not props.get("enablePurgeProtection"):
        fixes.append(
            Fix(
                vault.name,
                vault.id,
                {"enablePurgeProtection": True},
                f"enable purge protection on {vault.name}",
                irreversible=True,
            )
        )
    current = props.get("softDeleteRetentionInDays")
    if retention is not None and (not isinstance(current, int) or current < retention):
        fixes.append(
            Fix(
                vault.name,
                vault.id,
                {"softDeleteRetentionInDays": retention},
                f"raise soft-delete retention of {vault.name} from {current} to {retention} days",
                # Azure may not let it be lowered again (with purge protection on, it is fixed
                # for good), so it asks like the other one-way fixes.
                irreversible=True,
            )
        )
    return fixes


@dataclass
class VaultCheck:
    vault: VaultResource
    findings: list[Finding] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts
