"""audit: who read or changed a vault's secrets, from its AuditEvent log in Log Analytics."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from ..core import validate
from ..core.errors import UnavailableError, UsageError
from .context import AppContext, global_options

if TYPE_CHECKING:
    from ..core.audit_run import Incomplete

pass_app = click.make_pass_decorator(AppContext, ensure=True)
FORMATS = ("table", "json", "tsv")


@click.command("audit")
@click.argument("ref", required=False, metavar="[REF]")
@click.option(
    "--since", default="7d", show_default=True, metavar="DURATION", help="How far back to look (at most 730d)."
)
@click.option(
    "--caller",
    "callers",
    multiple=True,
    metavar="WHO",
    help="Only requests by this principal: object id, client (app) id, user principal name or display name. "
    "Repeatable.",
)
@click.option(
    "--operation",
    "operations",
    multiple=True,
    metavar="OP[,OP...]",
    help="Only these operations: get, set, list, versions, update, delete, recover, purge, backup, restore, "
    "list-deleted, get-deleted. Comma-separated or repeated.",
)
@global_options(formats=FORMATS)
@pass_app
def audit(app: AppContext, ref: str | None, since: str, callers: tuple[str, ...], operations: tuple[str, ...]) -> int:
    """Who read or changed secrets: the vault's AuditEvent log in Log Analytics.

    \b
    REF narrows to one secret (and version): NAME, akv://VAULT/NAME[/VERSION] or its URL.
    Times are UTC. Needs Reader (or Monitoring Reader) on the vault, to find the workspace in its
    diagnostic settings, and Log Analytics Reader on the workspace.
    Exit 3 when no diagnostic setting sends the AuditEvent log to a Log Analytics workspace (the
    message gives the command that turns it on); exit 7 when Log Analytics cut part of the answer
    short even for a one-second range (the events it did send are printed).
    """
    from ..core.audit import operation_names
    from ..core.audit_run import AuditRequest, run_audit
    from ..core.principals import validate_assignee
    from ..core.refs import parse_ref
    from ..output import AUDIT_COLUMNS

    settings = app.settings
    fmt = app.output_format(FORMATS)
    window = window_option("--since", since)
    names = operation_names(list(operations))
    for caller in callers:
        validate_assignee(caller)
    secret = version = None
    if ref is not None:
        parsed = parse_ref(ref, settings.vault, settings.cloud_info)
        vault_url, secret, version = parsed.vault_url, parsed.name, parsed.version
    else:
        vault_url = settings.require_vault_url()
    caller_ids, caller_upns = caller_match_ids(app, callers)
    arm = app.clients.arm()
    request = AuditRequest(vault_url, window, names, caller_ids, secret, version, caller_upns)
    with app.output.progress("querying the audit log", None) as advance:
        report = run_audit(arm, arm, app.clients.logs(), app.clients.graph(), request, dt.datetime.now(dt.UTC), advance)
    if report.capped_by_retention:
        app.output.info(
            f"workspaces keep {report.capped_by_retention} days of logs: showing events since {report.start:%Y-%m-%d}"
        )
    if report.names_missing:
        app.output.warn(f"caller names are not shown: {report.names_missing}")
    app.output.rows((e.as_json() for e in report.events), AUDIT_COLUMNS, fmt, waiting="querying")
    if report.incomplete:
        raise incomplete_error(report.incomplete)
    return 0


def caller_match_ids(app: AppContext, callers: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Every id a --caller may appear under in the log: its object id and, for an app, its client id;
    a user principal name the directory does not know (a deleted user) is matched as logged."""
    from ..core.errors import PrincipalNotFoundError
    from ..core.principals import resolve

    ids: list[str] = []
    upns: list[str] = []
    if not callers:
        return ids, upns
    graph = app.clients.graph()
    for caller in callers:
        given = caller.strip()
        try:
            resolved = resolve(graph, given, missing_ok=True)
        except PrincipalNotFoundError:
            if "@" not in given:
                raise
            app.output.info(f"no user {given} in the directory: matching it as the logged user principal name")
            upns.append(given)
            continue
        if resolved.note:
            app.output.info(resolved.note)
        found = [resolved.object_id]
        if validate.GUID.match(given):
            found.append(given)  # matched against object id or app id as given, whatever Graph says
        if resolved.principal is not None and resolved.principal.app_id:
            found.append(resolved.principal.app_id)
        for one in found:
            if one.lower() not in ids:
                ids.append(one.lower())
    return ids, upns


def incomplete_error(parts: list[Incomplete]) -> UnavailableError:
    shown = "; ".join(p.describe() for p in parts[:3]) + (f"; and {len(parts) - 3} more" if len(parts) > 3 else "")
    return UnavailableError(
        f"the answer is incomplete: Log Analytics cut {len(parts)} time range(s) short even at one second: {shown}",
        hint="narrow it with REF, --caller, --operation or a shorter --since",
    )


def window_option(flag: str, value: str) -> dt.timedelta:
    """A --since / --unused duration, checked before any request."""
    from ..core.audit import since_window

    try:
        return since_window(validate.duration(value))
    except UsageError as exc:
        raise UsageError(f"{flag} {value}: {exc.message}", hint=exc.hint) from None
