"""`kvctl audit`: who read or changed a vault's secrets, from its AuditEvent log in Log Analytics.

The query API answers at most 500,000 rows / 64 MB per query and then returns what it has with a
partial error. kvctl then splits the time range in halves and asks again (a few at a time), down
to one second; a second still too big is reported as incomplete, never passed off as the whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .arm import ArmBackend, VaultResource, find_vault
from .audit import AuditEvent, Workspace, WorkspaceReader, event_from_row, find_workspaces, secret_and_version
from .kql import AuditQuery, events_query, first_event_query, last_reads_query
from .principals import DirectoryBackend, names_for

MIN_SPAN = dt.timedelta(seconds=1)
MAX_PARALLEL_QUERIES = 4  # the query API allows 5 concurrent queries per user; leave one


@dataclass(frozen=True)
class LogsAnswer:
    rows: list[dict[str, Any]]
    complete: bool = True
    problem: str | None = None  # why the service cut the answer short


class LogsBackend(Protocol):
    def query(self, workspace: Workspace, query: str, start: dt.datetime, end: dt.datetime) -> LogsAnswer: ...


@dataclass(frozen=True)
class Incomplete:
    workspace: str
    start: dt.datetime
    end: dt.datetime
    problem: str | None

    def describe(self) -> str:
        span = f"{self.start:%Y-%m-%d %H:%M:%S}–{self.end:%Y-%m-%d %H:%M:%S} UTC"
        return f"workspace {self.workspace}, {span}" + (f" ({self.problem})" if self.problem else "")


def fetch_rows(
    logs: LogsBackend,
    workspace: Workspace,
    query: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    parallel: int = MAX_PARALLEL_QUERIES,
) -> tuple[list[dict[str, Any]], list[Incomplete]]:
    """Every row of `query` in [start, end], splitting ranges the service cuts short."""
    done: list[tuple[dt.datetime, list[dict[str, Any]]]] = []
    incomplete: list[Incomplete] = []
    pending = [(start, end)]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        while pending:
            answers = list(pool.map(lambda r: logs.query(workspace, query, r[0], r[1]), pending))
            next_round = []
            for (lo, hi), answer in zip(pending, answers, strict=True):
                if answer.complete:
                    done.append((lo, answer.rows))
                elif hi - lo <= MIN_SPAN:
                    done.append((lo, answer.rows))
                    incomplete.append(Incomplete(workspace.name, lo, hi, answer.problem))
                else:
                    middle = lo + (hi - lo) / 2
                    next_round += [(lo, middle), (middle, hi)]
            pending = next_round
    done.sort(key=lambda item: item[0])
    return [row for _, rows in done for row in rows], incomplete


@dataclass(frozen=True)
class AuditRequest:
    vault_url: str
    since: dt.timedelta
    operation_names: Sequence[str] = ()
    caller_ids: Sequence[str] = ()
    secret: str | None = None
    version: str | None = None
    caller_upns: Sequence[str] = ()


@dataclass
class AuditReport:
    vault: VaultResource
    workspaces: list[Workspace]
    start: dt.datetime
    end: dt.datetime
    events: list[AuditEvent] = field(default_factory=list)
    incomplete: list[Incomplete] = field(default_factory=list)
    capped_by_retention: int | None = None  # days, when --since reached past what the workspaces keep
    names_missing: str | None = None


def _window(workspaces: list[Workspace], since: dt.timedelta, now: dt.datetime) -> tuple[dt.datetime, int | None]:
    """The start of the window: `since` ago, but no further back than the longest retention."""
    kept = [w.retention_days for w in workspaces if w.retention_days]
    if kept and since > dt.timedelta(days=max(kept)):
        return now - dt.timedelta(days=max(kept)), max(kept)
    return now - since, None


def locate(arm: ArmBackend, reader: WorkspaceReader, vault_url: str) -> tuple[VaultResource, list[Workspace]]:
    vault = find_vault(arm, vault_url)
    return vault, find_workspaces(reader, vault.name, vault.id)


def _matches(event: AuditEvent, request: AuditRequest) -> bool:
    """kvctl's own check of what the service was asked to filter (a name must match exactly)."""
    if request.secret and (event.secret or "").lower() != request.secret.lower():
        return False
    return not (request.version and (event.version or "").lower() != request.version.lower())


def _query_spec(vault: VaultResource, request: AuditRequest, successful_only: bool = False) -> AuditQuery:
    return AuditQuery(
        vault.id,
        tuple(request.operation_names),
        request.secret,
        request.version,
        tuple(c.lower() for c in request.caller_ids),
        tuple(request.caller_upns),
        successful_only,
    )


def run_audit(
    arm: ArmBackend,
    reader: WorkspaceReader,
    logs: LogsBackend,
    directory: DirectoryBackend | None,
    request: AuditRequest,
    now: dt.datetime,
    progress: Callable[[int], None] | None = None,
    found: VaultResource | None = None,
) -> AuditReport:
    """`found`: the vault, already known (fleet-wide, from Resource Graph): not looked up by URL."""
    if found is not None:
        vault, workspaces = found, find_workspaces(reader, found.name, found.id)
    else:
        vault, workspaces = locate(arm, reader, request.vault_url)
    start, capped = _window(workspaces, request.since, now)
    report = AuditReport(vault, workspaces, start, now, capped_by_retention=capped)
    query = events_query(_query_spec(vault, request))
    seen: set[tuple[Any, ...]] = set()
    events: list[AuditEvent] = []
    for workspace in workspaces:
        rows, incomplete = fetch_rows(logs, workspace, query, start, now)
        report.incomplete += incomplete
        for row in rows:
            event = event_from_row(row)
            if event.key() in seen or not _matches(event, request):
                continue
            seen.add(event.key())
            events.append(event)
            if progress:
                progress(1)
    events.sort(key=lambda e: e.time)  # stable: each workspace's own order is kept
    ids = [e.caller_object_id for e in events if e.caller_object_id]
    names, report.names_missing = names_for(directory, ids) if ids else ({}, None)
    report.events = [
        replace(e, caller_name=names[e.caller_object_id].label)
        if e.caller_object_id and e.caller_object_id in names
        else e
        for e in events
    ]
    return report


@dataclass
class LastReads:
    """When each caller last read (successfully) each secret, per the audit log."""

    vault: VaultResource
    workspaces: list[Workspace]
    start: dt.datetime
    by_caller: dict[str, dt.datetime] = field(default_factory=dict)  # object id -> latest read
    by_secret: dict[str, dt.datetime] = field(default_factory=dict)  # secret name (lower) -> latest read
    incomplete: list[Incomplete] = field(default_factory=list)
    capped_by_retention: int | None = None
    # The log's first event in the window (None when it has none): before it, the log cannot say
    # who did not read.
    covered_from: dt.datetime | None = None


def last_reads(
    arm: ArmBackend,
    reader: WorkspaceReader,
    logs: LogsBackend,
    vault_url: str,
    secret: str | None,
    window: dt.timedelta,
    now: dt.datetime,
    located: tuple[VaultResource, list[Workspace]] | None = None,
) -> LastReads:
    """The latest successful SecretGet per caller and per secret in the window (one summarized
    query per workspace: the answer is small however many reads there were)."""
    vault, workspaces = located or locate(arm, reader, vault_url)
    start, capped = _window(workspaces, window, now)
    found = LastReads(vault, workspaces, start, capped_by_retention=capped)
    request = AuditRequest(vault_url, window, ("SecretGet",), (), secret)
    query = last_reads_query(_query_spec(vault, request, successful_only=True))
    for workspace in workspaces:
        rows, incomplete = fetch_rows(logs, workspace, query, start, now)
        found.incomplete += incomplete
        for row in rows:
            when = row.get("lastRead")
            if when is None:
                continue
            when = event_from_row({"TimeGenerated": when}).time
            name, _ = secret_and_version(str(row.get("id_s") or ""))
            if secret and (name or "").lower() != secret.lower():
                continue
            # By object id only: a user's token carries the app id of the client program it signed in
            # with (the Azure CLI's, say), which is not a principal that was granted anything.
            caller = str(row.get("identity_claim_oid_g") or "").strip().lower()
            if caller and (caller not in found.by_caller or found.by_caller[caller] < when):
                found.by_caller[caller] = when
            if name and (name.lower() not in found.by_secret or found.by_secret[name.lower()] < when):
                found.by_secret[name.lower()] = when
    found.covered_from = _log_begins(logs, workspaces, vault, start, now)
    return found


def _log_begins(
    logs: LogsBackend, workspaces: list[Workspace], vault: VaultResource, start: dt.datetime, now: dt.datetime
) -> dt.datetime | None:
    firsts = []
    for workspace in workspaces:
        rows, _ = fetch_rows(logs, workspace, first_event_query(vault.id), start, now)
        for row in rows:
            if row.get("first") not in (None, ""):
                firsts.append(event_from_row({"TimeGenerated": row["first"]}).time)
    return min(firsts) if firsts else None  # no event in the window: the window itself decides
