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
