"""`check` rule KV015: enabled secrets nobody has read (successfully) in N days, per the vault's
AuditEvent log in Log Analytics — checked only where the log is available. A vault that sends the
log nowhere is KV008's finding; one whose workspace kvctl may not query (or whose answer comes
back cut short) gets an INFO (KV022) saying KV015 was not checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .arm import ArmBackend, VaultResource
from .audit import Workspace, WorkspaceReader, audit_workspace_ids
from .audit_run import LogsBackend, last_reads
from .checks import Finding, _kvctl_target, make_finding, subscription_option
from .errors import KvctlError
from .models import Secret


def _not_checked(vault: VaultResource, why: str, remedy: str) -> Finding:
    return make_finding(
        "KV022", vault, vault.id, f"secret reads in {vault.name} were not checked (KV015): {why}", remedy
    )


def unread_findings(
    arm: ArmBackend,
    reader: WorkspaceReader,
    logs: LogsBackend,
    vault: VaultResource,
    settings: list[dict[str, Any]],
    secrets: Iterable[Secret],
    now: dt.datetime,
    window: dt.timedelta,
    subscription: str | None = None,
) -> list[Finding]:
    ids, _ = audit_workspace_ids(settings)
    sub = subscription_option(subscription)  # kvctl check and audit find the vault through ARM
    if not ids:
        return []  # no log to read: KV008 says so
    try:
        workspaces: list[Workspace] = []
        for resource_id in ids:
            workspace = reader.get_workspace(resource_id)
            if workspace.customer_id.lower() not in (w.customer_id.lower() for w in workspaces):
                workspaces.append(workspace)
        reads = last_reads(arm, reader, logs, vault.vault_url, None, window, now, located=(vault, workspaces))
    except KvctlError as exc:
        return [
            _not_checked(
                vault,
                exc.message,
                f"# ask for 'Log Analytics Reader' on workspace {ids[0]} to check which secrets are never read",
            )
        ]
    if reads.incomplete:
        return [
            _not_checked(
                vault,
                "Log Analytics cut the answer short",
                f"kvctl check {_kvctl_target(vault)} --unread-for 30d{sub}  # a shorter window",
            )
        ]
    covered = reads.covered_from or reads.start
    if covered - reads.start > dt.timedelta(minutes=1):
        # A log that began inside the window cannot say a secret went unread for all of it.
        return [
            _not_checked(
                vault,
                f"its audit log begins at {covered:%Y-%m-%d %H:%M} UTC, inside the {window.days or 1}-day window",
                f"kvctl audit --vault {_kvctl_target(vault)} --since {max(1, (now - covered).days)}d{sub}"
                "  # what it holds",
            )
        ]
    days = max(1, round((now - reads.start).total_seconds() / 86400))
    target = _kvctl_target(vault)
    found = []
    for secret in secrets:
        attrs = secret.attributes
        born = attrs.created or attrs.updated
        # Only a secret whose current version existed for the whole window could have been read in it.
        if attrs.enabled is False or born is None or born > reads.start:
            continue
        if secret.name.lower() in reads.by_secret:
            continue
        found.append(
            make_finding(
                "KV015",
                vault,
                secret.id,
                f"secret {secret.name} in {vault.name} was not read in the last {days} days",
                f"kvctl audit {secret.name} --vault {target} --since {days}d{sub}  # nobody uses it? then: "
                f"kvctl update {secret.name} --disable --vault {target}",
            )
        )
    return found
