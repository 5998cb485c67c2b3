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
        *_posture_findings(),
    ]


class _NoReadArm:
    """ARM that refuses the diagnostic settings and role assignments (a caller without Reader)."""

    def list_diagnostic_settings(self, resource_id):
        from kvctl.core.errors import ForbiddenError

        raise ForbiddenError("forbidden")

    list_role_assignments = list_diagnostic_settings


def _posture_findings() -> list:
    from kvctl.builtin_roles import BUILTIN_ROLES
    from kvctl.core.arm import RoleAssignment
    from kvctl.core.check_posture import audit_logging_findings, broad_grant_findings, private_endpoint_findings
    from kvctl.core.check_run import _posture

    rbac = _vault("https://prod.vault.azure.net", enableRbacAuthorization=True)
    roles = {r.name: r.guid for r in BUILTIN_ROLES}
    scope = "/subscriptions/s"
    owner = RoleAssignment(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/a", "a", scope, roles["Owner"], "p", None
    )
    return [
        *private_endpoint_findings(rbac),
        *audit_logging_findings(rbac, []),
        *broad_grant_findings(rbac, [owner]),
        *_posture(_NoReadArm(), rbac)[0],  # type: ignore[arg-type]
        *_read_findings(),
    ]


def _read_findings() -> list:
    """KV015 (a secret nobody read in the window) and KV022 (the log's workspace may not be queried)."""
    import datetime as dt

    from kvctl.core.check_reads import unread_findings
    from kvctl.core.models import Secret, SecretAttributes
    from tests.unit.test_audit_core import URL, VAULT, FakeArm, FakeLogs, FakeReader, audit_setting, row

    now = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    old = SecretAttributes(enabled=True, created=now - dt.timedelta(days=400))
    secrets = [Secret(f"{URL}/secrets/{n}", URL, n, None, old) for n in ("db", "idle")]
    logs = FakeLogs([row(TimeGenerated=now - dt.timedelta(days=3))])  # db read 3 days ago
    window = dt.timedelta(days=90)
    args = (VAULT, [audit_setting()], secrets, now, window)
    kv015 = unread_findings(FakeArm(VAULT), FakeReader([]), logs, *args)  # type: ignore[arg-type]
    assert [f.resource.rsplit("/", 1)[-1] for f in kv015] == ["idle"]
    kv022 = unread_findings(FakeArm(VAULT), FakeReader([], deny="workspace"), logs, *args)  # type: ignore[arg-type]
    assert [f.rule for f in kv022] == ["KV022"] and "Log Analytics Reader" in kv022[0].remedy
    assert unread_findings(FakeArm(VAULT), FakeReader([]), logs, VAULT, [], secrets, now, window) == []  # type: ignore[arg-type]
    return kv015 + kv022


def test_broad_grants_by_role_scope_and_model():
    from kvctl.builtin_roles import BUILTIN_ROLES
    from kvctl.core.arm import RoleAssignment
    from kvctl.core.check_posture import broad_grant_findings

    roles = {r.name: r.guid for r in BUILTIN_ROLES}
    vault_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/prod"

    def found(role: str, scope: str, rbac: bool) -> bool:
        vault = _vault("https://prod.vault.azure.net", enableRbacAuthorization=rbac)
        ra = RoleAssignment(
            f"{scope}/providers/Microsoft.Authorization/roleAssignments/a", "a", scope, roles[role], "p", None
        )
        return bool(broad_grant_findings(vault, [ra]))

    for role in ("Owner", "Contributor", "User Access Administrator", "Key Vault Administrator"):
        assert found(role, "/subscriptions/s", True) and found(role, "/subscriptions/s/resourceGroups/g", True)
        assert found(role, "/providers/Microsoft.Management/managementGroups/corp", True)
        assert not found(role, vault_id, True), "at the vault itself a role is not broad"
    assert not found("Key Vault Administrator", "/subscriptions/s", False), "no data access on a policy vault"
    assert found("Contributor", "/subscriptions/s", False), "may edit the access policies"
    assert not found("Reader", "/subscriptions/s", True) and not found(
        "Key Vault Secrets User", "/subscriptions/s", True
    )


def test_audit_logging_needs_an_enabled_audit_log_and_a_destination():
    from kvctl.core.check_posture import sends_audit_events

    def setting(logs, **dest):
        return {"properties": {**dest, "logs": logs}}

    audit = [{"category": "AuditEvent", "enabled": True}]
    assert sends_audit_events(setting(audit, workspaceId="/w"))
    assert sends_audit_events(setting([{"categoryGroup": "allLogs", "enabled": True}], storageAccountId="/s"))
    assert sends_audit_events(setting([{"categoryGroup": "audit", "enabled": True}], eventHubAuthorizationRuleId="/e"))
    assert not sends_audit_events(setting(audit)), "no destination"
    assert not sends_audit_events(setting([{"category": "AuditEvent", "enabled": False}], workspaceId="/w"))
    assert not sends_audit_events(
        setting([{"category": "AzurePolicyEvaluationDetails", "enabled": True}], workspaceId="/w")
    )
    assert not sends_audit_events({"properties": None})


def test_private_endpoint_must_be_approved():
    from kvctl.core.check_posture import private_endpoint_findings

    def connection(status):
        return {"properties": {"privateLinkServiceConnectionState": {"status": status}}}

    assert private_endpoint_findings(_vault("https://p", privateEndpointConnections=[connection("Pending")]))
    assert not private_endpoint_findings(_vault("https://p", privateEndpointConnections=[connection("Approved")]))


def test_no_remedy_changes_a_value():
    """Every rule's remedy (issue 11): attribute or vault changes only, never a new value."""
    import re

    from kvctl.core.checks import RULES

    findings = _every_finding()
    assert {f.rule for f in findings} == set(RULES), "every rule is exercised"
    value_safe = {"update", "check", "access", "show", "versions", "list", "audit"}
    for finding in findings:
        commands = re.findall(r"\bkvctl\s+([a-z-]+)", finding.remedy)
        assert set(commands) <= value_safe, (finding.rule, finding.remedy)
        assert "rotate" not in finding.remedy and "kvctl set" not in finding.remedy, finding.remedy


def test_no_expiry_suggests_update_with_an_expiry():
    kv011 = next(f for f in _every_finding() if f.rule == "KV011")
    assert "kvctl update forever --expires 90d" in kv011.remedy
