"""Least privilege: which principals that can read secret values have not read any (or the one
secret) in a window, per the audit log, and the command that removes each such grant."""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass
from typing import Any

from .arm import VaultResource
from .audit_run import LastReads
from .checks import _kvctl_target
from .whocan import WhoEntry, WhoReport


@dataclass(frozen=True)
class UnusedEntry:
    entry: WhoEntry
    last_read: dt.datetime | None
    unused: bool | None  # None: this grant does not let it read values
    unused_since: dt.datetime | None
    revoke: str | None

    def as_json(self) -> dict[str, Any]:
        def iso(when: dt.datetime | None) -> str | None:
            return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if when else None

        return {
            **self.entry.as_json(),
            "lastRead": iso(self.last_read),
            "unused": self.unused,
            "unusedSince": iso(self.unused_since),
            "revoke": self.revoke,
        }


def revoke_command(vault: VaultResource, entry: WhoEntry) -> str:
    """One shell line that removes this grant (or says where it comes from when no line can)."""
    target = shlex.quote(_kvctl_target(vault))
    who = entry.principal_id
    if entry.via_group_id:
        group = entry.via_group_name or entry.via_group_id
        return (
            f"az ad group member remove --group {entry.via_group_id} --member-id {who}  "
            f"# the grant comes from group {group}; or revoke the group's own grant"
        )
    if entry.source == "accessPolicy":
        return f"az keyvault delete-policy --name {shlex.quote(vault.name)} --object-id {who}"
    role = shlex.quote(entry.role or "")
    if entry.level == "vault":
        return f"kvctl access revoke --assignee {who} --role {role} --vault {target}"
    if entry.level == "secret" and entry.scope:
        secret = entry.scope.rstrip("/").rsplit("/", 1)[-1]
        return f"kvctl access revoke --assignee {who} --role {role} --secret {shlex.quote(secret)} --vault {target}"
    return (
        f"az role assignment delete --ids {shlex.quote(entry.assignment_id or '')}  "
        f"# {entry.role} at {entry.level} scope {entry.scope}: reaches more than this vault"
    )


def mark_unused(report: WhoReport, reads: LastReads, vault_reads: LastReads | None = None) -> list[UnusedEntry]:
    """`vault_reads`: reads of any secret of the vault. For one secret, a grant at the vault or above
    also serves the principal's reads of the other secrets: it is unused only if none was read
    (revoking it because this one secret went unread would cut the others off)."""
    out: list[UnusedEntry] = []
    for entry in report.entries:
        if not (entry.known_role and entry.capabilities.read_values):
            out.append(UnusedEntry(entry, None, None, None, None))
            continue
        if report.secret is not None and entry.level != "secret" and vault_reads is not None:
            reads_here = vault_reads
        else:
            reads_here = reads
        last = reads_here.by_caller.get(entry.principal_id.lower())
        if entry.principal_type == "Group":
            # A group never signs in: its grant is used when one of its members reads.
            if not entry.members_expanded:
                out.append(UnusedEntry(entry, None, None, None, None))
                continue
            members = [e.principal_id.lower() for e in report.entries if e.via_group_id == entry.principal_id]
            times = [reads_here.by_caller[m] for m in members if m in reads_here.by_caller]
            last = max(times) if times else None
        unused = last is None
        out.append(
            UnusedEntry(
                entry,
                last,
                unused,
                max(reads_here.start, reads_here.covered_from or reads_here.start) if unused else None,
                revoke_command(report.vault, entry) if unused else None,
            )
        )
    return out
