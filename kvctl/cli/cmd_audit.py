"""audit: who read or changed a vault's secrets, from its AuditEvent log in Log Analytics."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from ..core import validate
from ..core.errors import UnavailableError, UsageError
from .context import AppContext, global_options

if TYPE_CHECKING:
    from ..core.audit_run import AuditRequest, Incomplete

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
@click.option(
    "--all-vaults",
    is_flag=True,
    help="Every vault you can see in every subscription (one Azure Resource Graph query); REF may then be a "
    "secret name only.",
)
@global_options(formats=FORMATS)
@pass_app
def audit(
    app: AppContext,
    ref: str | None,
    since: str,
    callers: tuple[str, ...],
    operations: tuple[str, ...],
    all_vaults: bool,
) -> int:
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
    if all_vaults:
        if ref is not None and not validate.SECRET_NAME.match(ref):
            raise UsageError(
                f"with --all-vaults, REF is a secret name, not {ref!r}",
                hint="e.g. kvctl audit db-password --all-vaults",
            )
        caller_ids, caller_upns = caller_match_ids(app, callers)
        request = AuditRequest("", window, names, caller_ids, ref, None, caller_upns)
        return _audit_all_vaults(app, request, fmt)
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


def _audit_all_vaults(app: AppContext, request: AuditRequest, fmt: str) -> int:
    """The audit log of every vault Resource Graph finds, merged by time; vaults that log nowhere
    are named, and a vault whose log could not be read makes the answer partial (exit 5)."""
    from ..core.errors import ForbiddenError
    from ..core.fleet import discover_vaults, fleet_scope
    from ..core.fleet_audit import audit_everywhere
    from ..output import FLEET_AUDIT_COLUMNS

    arm = app.clients.fleet_arm()
    with app.output.progress("finding vaults (Resource Graph)", None):
        scope = fleet_scope(None, arm.visible_subscriptions)
        vaults = discover_vaults(app.clients.resource_graph(), scope)
    app.output.info(f"found {len(vaults)} vault(s) in {scope.description}")
    with app.output.progress("querying the audit logs", len(vaults)) as advance:
        found = audit_everywhere(
            arm, app.clients.logs(), app.clients.graph(), vaults, request, dt.datetime.now(dt.UTC), progress=advance
        )
    if found.not_logging:
        app.output.info(
            f"{len(found.not_logging)} vault(s) send their AuditEvent log to no workspace: "
            f"{', '.join(found.not_logging)} (kvctl check shows how to turn it on: KV008)"
        )
    for name, why in found.failed:
        app.output.warn(f"{name}: {why}")
    app.output.rows(found.rows(), FLEET_AUDIT_COLUMNS, fmt, waiting="querying")
    if found.incomplete:
        raise incomplete_error(found.incomplete)
    if found.failed:
        names = ", ".join(name for name, _ in found.failed)
        raise ForbiddenError(
            f"the audit log of {len(found.failed)} of {len(vaults)} vault(s) could not be read: {names}",
            hint="each vault's error is above; Reader on the vault and Log Analytics Reader on its workspace allow it",
        )
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
