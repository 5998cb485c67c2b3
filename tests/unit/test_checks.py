"""Check findings from vault properties alone (pure logic)."""

from __future__ import annotations

from kvctl.core.arm import VaultResource
from kvctl.core.checks import plan_fixes, vault_findings


def _vault(url: str, **properties) -> VaultResource:
    return VaultResource(
        id="/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/prod",
        name="prod",
        location="eastus",
        vault_url=url,
        properties=properties,
    )


def test_remedies_name_azure_vaults_by_name_and_others_by_url():
    azure = {f.rule: f.remedy for f in vault_findings(_vault("https://prod.vault.azure.net"))}
    assert azure["KV002"].startswith("kvctl check prod --fix") and "--name prod " in azure["KV002"]
    local = {f.rule: f.remedy for f in vault_findings(_vault("https://127.0.0.1:8443"))}
    assert local["KV002"].startswith("kvctl check https://127.0.0.1:8443 --fix")
    assert "az keyvault update --name prod " in local["KV002"], "az always takes the vault's name"


def test_fixes_never_lower_or_disable():
    vault = _vault(
        "https://prod.vault.azure.net", enableSoftDelete=True, enablePurgeProtection=True, softDeleteRetentionInDays=90
    )
    assert plan_fixes(vault, retention=30) == []
    fixes = plan_fixes(_vault("https://p.vault.azure.net", enableSoftDelete=False, softDeleteRetentionInDays=7), 90)
    merged = {k: v for f in fixes for k, v in f.properties.items()}
    assert merged == {"enableSoftDelete": True, "enablePurgeProtection": True, "softDeleteRetentionInDays": 90}
    assert all(v is True or isinstance(v, int) for v in merged.values())


def _every_finding() -> list:
    import datetime as dt

    from kvctl.core.checks import CheckOptions, secret_findings, unreadable_secrets
    from kvctl.core.models import Secret, SecretAttributes

    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    vault = _vault(
        "https://prod.vault.azure.net",
        enableSoftDelete=False,
        softDeleteRetentionInDays=7,
        enableRbacAuthorization=False,
        accessPolicies=[{"objectId": "o", "permissions": {"secrets": ["all", "purge"]}}],
        publicNetworkAccess="Enabled",
        networkAcls={"defaultAction": "Allow"},
    )

    def secret(name: str, expires: dt.datetime | None, created: dt.datetime) -> Secret:
        attrs = SecretAttributes(enabled=True, created=created, updated=created, expires=expires)
        return Secret(f"https://prod.vault.azure.net/secrets/{name}", "https://prod.vault.azure.net", name, None, attrs)

    secrets = [
        secret("forever", None, now),
        secret("expired", now - day, now),
        secret("soon", now + 3 * day, now),
        secret("old", now + 300 * day, now - 400 * day),
    ]
    options = CheckOptions(max_age=dt.timedelta(days=365))
    short = _vault("https://prod.vault.azure.net", enableSoftDelete=True, softDeleteRetentionInDays=7)
    return [
        *vault_findings(vault),
        *vault_findings(short),
        *secret_findings(vault, secrets, now, options),
        unreadable_secrets(vault, "forbidden"),
    ]


def test_no_remedy_changes_a_value():
    """Every rule's remedy (issue 11): attribute or vault changes only, never a new value."""
    import re

    from kvctl.core.checks import RULES

    findings = _every_finding()
    assert {f.rule for f in findings} == set(RULES), "every rule is exercised"
    value_safe = {"update", "check", "access", "show", "versions", "list"}
    for finding in findings:
        commands = re.findall(r"\bkvctl\s+([a-z-]+)", finding.remedy)
        assert set(commands) <= value_safe, (finding.rule, finding.remedy)
        assert "rotate" not in finding.remedy and "kvctl set" not in finding.remedy, finding.remedy


def test_no_expiry_suggests_update_with_an_expiry():
    kv011 = next(f for f in _every_finding() if f.rule == "KV011")
    assert "kvctl update forever --expires 90d" in kv011.remedy
