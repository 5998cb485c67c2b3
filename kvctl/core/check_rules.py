"""The catalogue of `check` rules: stable ids (scripts and SARIF consumers key on them), severity,
title, description, and the matching Azure Policy / PSRule / Prowler checks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    description: str
    references: tuple[str, ...] = ()  # the matching Azure Policy, PSRule and Prowler checks


RULES = {
    rule.id: rule
    for rule in (
        Rule(
            "KV001",
            "FAIL",
            "Soft delete is off",
            "Without soft delete, a deleted secret is gone at once: an accident or an attacker cannot be undone.",
        ),
        Rule(
            "KV002",
            "FAIL",
            "Purge protection is off",
            "Without purge protection, anyone who may purge can erase deleted secrets before their retention ends.",
        ),
        Rule(
            "KV003",
            "WARN",
            "Soft-delete retention is short",
            "Deleted secrets can be recovered for fewer than 90 days.",
        ),
        Rule(
            "KV004",
            "WARN",
            "The vault uses access policies, not RBAC",
            "Access policies grant vault-wide rights outside Azure RBAC (no per-secret scope, no PIM, no deny).",
        ),
        Rule(
            "KV005",
            "WARN",
            "An access policy grants every secret permission or purge",
            "A principal that may purge (or do everything) can destroy secrets for good.",
            ("PSRule Azure.KeyVault.AccessPolicy (AZR-000118)",),
        ),
        Rule(
            "KV006",
            "WARN",
            "Public network access is open",
            "The vault accepts requests from any network (public access enabled, firewall default Allow).",
            (
                "Azure Policy 405c5871-3e91-4644-8a63-58e19d68ff5b "
                "(Azure Key Vault should disable public network access)",
                "Azure Policy 55615ac9-af46-4a59-874e-391cc3dfb490 (Azure Key Vault should have firewall enabled)",
                "PSRule Azure.KeyVault.Firewall (AZR-000355)",
            ),
        ),
        Rule(
            "KV007",
            "INFO",
            "No private endpoint",
            "No approved private endpoint connection: clients reach the vault over public addresses.",
            (
                "Azure Policy a6abeaec-4d90-4a02-805f-6b26c4d3fbe9 (Azure Key Vaults should use private link)",
                "Prowler keyvault_private_endpoints",
            ),
        ),
        Rule(
            "KV008",
            "WARN",
            "Audit logging is off",
            "No diagnostic setting sends the AuditEvent log (or the audit / allLogs group) anywhere: nobody can "
            "tell who read or changed a secret.",
            (
                "Azure Policy cf820ca0-f99e-4f3e-84fb-66e913812d21 (Resource logs in Key Vault should be enabled)",
                "PSRule Azure.KeyVault.Logs (AZR-000119)",
                "Prowler keyvault_logging_enabled",
            ),
        ),
        Rule(
            "KV009",
            "WARN",
            "A broad role above the vault reaches its secrets",
            "Owner, Contributor, User Access Administrator or Key Vault Administrator at a subscription, resource "
            "group or management group reaches this vault's secrets (directly or by granting itself access).",
        ),
        Rule(
            "KV010",
            "FAIL",
            "An enabled secret has expired",
            "Readers get a value that its owner declared no longer valid.",
        ),
        Rule(
            "KV011", "WARN", "An enabled secret has no expiry", "Without an expiry date nothing prompts its rotation."
        ),
        Rule("KV012", "WARN", "A secret expires soon", "It expires within the --expiring-within window."),
        Rule("KV013", "WARN", "A secret is old", "Its latest version is older than --max-age."),
        Rule(
            "KV015",
            "WARN",
            "A secret was not read in N days",
            "No successful read of an enabled secret in the audit log (Log Analytics) for --unread-for (90 days by "
            "default, at most the workspace's retention): probably unused, still readable by whoever holds it. "
            "Checked only when the vault sends its AuditEvent log to a workspace kvctl may query. No Azure Policy, "
            "PSRule or Prowler rule checks this.",
        ),
        Rule(
            "KV014",
            "INFO",
            "A secret has no content type",
            "Without a content type, readers and rotation cannot tell a password from a connection string.",
            ("Azure Policy 75262d3e-ba4a-4f43-85f8-9f72c090e5e3 (Secrets should have content type set)",),
        ),
        Rule(
            "KV020",
            "INFO",
            "Secrets could not be checked",
            "The caller may not list the vault's secrets, so secret hygiene was not checked.",
        ),
        Rule(
            "KV022",
            "INFO",
            "Secret reads could not be checked",
            "The vault sends its audit log to a Log Analytics workspace that the caller may not query (Log "
            "Analytics Reader allows it), or whose answer came back incomplete, so KV015 was not checked.",
        ),
        Rule(
            "KV021",
            "INFO",
            "Audit logging or role assignments could not be checked",
            "The caller may not read the vault's diagnostic settings or role assignments (Reader allows both).",
        ),
    )
}
