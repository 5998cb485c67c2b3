"""access who: every principal that can read, write or manage a vault's secrets (or one secret),
optionally marked against the audit log (--unused), or for every vault found fleet-wide."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from ..core.errors import UsageError
from .context import AppContext, global_options

if TYPE_CHECKING:
    from ..core.whocan import WhoReport

pass_app = click.make_pass_decorator(AppContext, ensure=True)
RECORD_FORMATS = ("table", "json", "tsv", "plain")


@click.command("who")
@click.argument("ref", required=False, metavar="[REF]")
@click.option(
    "--unused",
    metavar="DURATION",
    help="Mark who can read values but has not (this secret, or any) within DURATION, per the audit log, "
    "with the command that removes the grant.",
)
@click.option(
    "--all-vaults",
    is_flag=True,
    help="Every vault you can see in every subscription (one Azure Resource Graph query), 8 at a time.",
)
@global_options(formats=RECORD_FORMATS)
@pass_app
def who(app: AppContext, ref: str | None, unused: str | None, all_vaults: bool) -> None:
    """Every principal that can read, write or manage the vault's secrets (or one secret).

    \b
    Role assignments at the secret, the vault, its resource group, subscription and
    management groups; groups expanded to their members (Microsoft Graph); access
    policies on access-policy vaults. Needs read rights only (Reader, and Graph read).
    Can: read = secret values, metadata = names and attributes only, write = set or
    delete, manage = may grant itself access (roles or access policies).
    --unused 90d reads the vault's AuditEvent log in Log Analytics (see `kvctl audit`): it also
    needs Log Analytics Reader on the workspace; exit 3 when audit logging is off.
    With --all-vaults, -o json is an array of per-vault results.
    """
    if all_vaults:
        if ref is not None:
            raise UsageError("give a secret or --all-vaults, not both")
        if unused is not None:
            raise UsageError("--unused reads one vault's audit log; give the vault, not --all-vaults")
        _who_all_vaults(app)
        return
    from ..core.refs import parse_ref
    from ..core.whocan import who_can
    from ..output import WHO_COLUMNS
    from .cmd_audit import window_option

    settings = app.settings
    fmt = app.output_format(RECORD_FORMATS)
    window = window_option("--unused", unused) if unused is not None else None
    if ref is not None:
        parsed = parse_ref(ref, settings.vault, settings.cloud_info)
        if parsed.version is not None:
            raise UsageError("access is granted to a secret, not to one version", hint="drop the version")
        vault_url, secret = parsed.vault_url, parsed.name
    else:
        vault_url, secret = settings.require_vault_url(), None
    graph = app.clients.graph()
    with app.output.progress("reading role assignments", None):
        report = who_can(app.clients.arm(), vault_url, secret, graph, graph)
    if report.directory_problem:
        app.output.warn(
            f"Microsoft Graph could not be read ({report.directory_problem}): principals are shown by object id "
            "and groups are not expanded to their members"
        )
    if report.unknown_roles:
        app.output.warn(
            f"custom role(s) {', '.join(report.unknown_roles)} not classified: kvctl knows the built-in roles only"
        )
    if fmt == "table" and not report.vault.rbac:
        app.output.info(
            f"vault {report.vault.name} uses access policies: role assignments count only where they can "
            "change the policies"
        )
    if window is not None:
        _who_unused(app, report, window, fmt)
        return
    app.output.rows(
        (e.as_json() for e in report.entries),
        WHO_COLUMNS,
        fmt,
        plain=lambda r: r["principalId"],
        waiting="listing",
    )


def _who_unused(app: AppContext, report: WhoReport, window: dt.timedelta, fmt: str) -> None:
    """`access who --unused`: the same rows, with when each reader last read and, for the idle, how to revoke."""
    from ..core.audit_run import last_reads
    from ..core.unused import mark_unused
    from ..output import UNUSED_COLUMNS
    from .cmd_audit import incomplete_error

    arm = app.clients.arm()
    with app.output.progress("querying the audit log", None):
        now = dt.datetime.now(dt.UTC)
        reads = last_reads(arm, arm, app.clients.logs(), report.vault.vault_url, report.secret, window, now)
        # For one secret, grants at the vault or above are judged by reads of any of its secrets.
        vault_reads = (
            last_reads(
                arm, arm, app.clients.logs(), report.vault.vault_url, None, window, now,
                located=(reads.vault, reads.workspaces),
            )
            if report.secret is not None
            else None
        )  # fmt: skip
    if vault_reads is not None:
        reads.incomplete += vault_reads.incomplete
    if reads.incomplete:
        raise incomplete_error(reads.incomplete)  # an idle mark on a partial log could be wrong
    if reads.capped_by_retention:
        app.output.info(
            f"workspaces keep {reads.capped_by_retention} days of logs: "
            f"unused means no read since {reads.start:%Y-%m-%d}"
        )
    since = max(reads.start, reads.covered_from or reads.start)
    if since - reads.start > dt.timedelta(minutes=1):
        app.output.warn(
            f"the audit log of vault {report.vault.name} begins at {since:%Y-%m-%d %H:%M} UTC, inside the "
            f"window: unused means no read since then only (the window asked for began {reads.start:%Y-%m-%d})"
        )
    marked = mark_unused(report, reads, vault_reads)
    app.output.rows(
        (m.as_json() for m in marked), UNUSED_COLUMNS, fmt, plain=lambda r: r["principalId"], waiting="listing"
    )
    idle = [m for m in marked if m.unused]
    what = f"secret {report.secret}" if report.secret else "any secret"
    app.output.info(
        f"{len(idle)} grant(s) let a principal read {what} of vault {report.vault.name}, unused since "
        f"{since:%Y-%m-%d %H:%M} UTC"
    )
    if fmt == "table" and idle:
        commands = list(dict.fromkeys(m.revoke for m in idle if m.revoke))
        app.output.write(
            "\nTo remove unused read access (one command per line):\n" + "".join(f"{c}\n" for c in commands)
        )


def _who_all_vaults(app: AppContext) -> None:
    """`access who` for every vault Resource Graph finds, concurrently; a vault whose role
    assignments cannot be read gets its error in its result, the others are still shown."""
    from ..core.fleet import discover_vaults, fleet_scope
    from ..core.fleet_who import who_everywhere
    from ..output import FLEET_WHO_COLUMNS

    fmt = app.output_format(RECORD_FORMATS)
    arm = app.clients.fleet_arm()
    with app.output.progress("finding vaults (Resource Graph)", None):
        scope = fleet_scope(None, arm.visible_subscriptions)
        vaults = discover_vaults(app.clients.resource_graph(), scope)
    app.output.info(f"found {len(vaults)} vault(s) in {scope.description}")
    graph = app.clients.graph()
    with app.output.progress("reading role assignments", len(vaults)) as advance:
        results = who_everywhere(arm, vaults, graph, graph, progress=advance)
    for result in results:
        if result.error:
            app.output.warn(f"{result.vault.name}: {result.error}")
        elif result.report is not None and result.report.directory_problem:
            app.output.warn(
                f"{result.vault.name}: Microsoft Graph could not be read ({result.report.directory_problem})"
            )
    if fmt == "json":
        app.output.json([r.as_json() for r in results])
    else:
        rows = (
            {"vault": r.vault.name, **entry.as_json()}
            for r in results
            if r.report is not None
            for entry in r.report.entries
        )
        app.output.rows(
            rows, FLEET_WHO_COLUMNS, fmt, plain=lambda r: f"{r['vault']} {r['principalId']}", waiting="listing"
        )
    failed = [r.vault.name for r in results if r.error]
    if failed:
        from ..core.errors import ForbiddenError

        # Everything readable was shown; the exit code still tells a script the answer is partial.
        raise ForbiddenError(
            f"the access to {len(failed)} of {len(results)} vault(s) could not be read: {', '.join(failed)}",
            hint="each vault's error is above (and in its result's 'error' with -o json); Reader on a vault allows it",
        )
