"""check: vault settings and secret hygiene, as a table, JSON or SARIF, with a CI gate and safe fixes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from ..core import validate
from ..core.errors import UsageError
from .context import AppContext, confirm, global_options

if TYPE_CHECKING:
    from ..core.checks import Finding, Fix
    from ..core.sarif import AnchorSpec

pass_app = click.make_pass_decorator(AppContext, ensure=True)
FORMATS = ("table", "json", "sarif", "tsv", "plain")
THRESHOLDS = ("FAIL", "WARN", "INFO", "never")


@click.command("check")
@click.argument("vaults", nargs=-1, metavar="[VAULT...]")
@click.option("--all", "all_vaults", is_flag=True, help="Every vault in the subscription, checked concurrently.")
@click.option(
    "--all-subscriptions",
    is_flag=True,
    help="Every vault you can see in every subscription, found with one Azure Resource Graph query.",
)
@click.option(
    "--management-group",
    metavar="ID",
    help="Every vault you can see under this management group (Resource Graph); the tenant root group's id "
    "is the tenant id.",
)
@click.option(
    "--fail-on",
    type=click.Choice(THRESHOLDS, case_sensitive=False),
    default="FAIL",
    show_default=True,
    help="Exit 10 when a finding is at or above this severity.",
)
@click.option(
    "--expiring-within",
    default="30d",
    show_default=True,
    metavar="DURATION",
    help="Warn about secrets expiring within this window.",
)
@click.option("--max-age", metavar="DURATION", help="Warn about secrets whose latest version is older than this.")
@click.option(
    "--unread-for",
    default="90d",
    show_default=True,
    metavar="DURATION",
    help="KV015: warn about enabled secrets nobody read in this window (from the vault's audit log in Log "
    "Analytics, when it has one kvctl may query; at most 730d).",
)
@click.option("--fix", is_flag=True, help="Enable soft delete and purge protection (irreversible: asks first).")
@click.option(
    "--retention",
    type=click.IntRange(7, 90),
    metavar="DAYS",
    help="With --fix: raise soft-delete retention to DAYS (never lowers it; irreversible: asks first).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before irreversible fixes.")
@click.option(
    "--sarif-anchor",
    "sarif_anchors",
    multiple=True,
    metavar="[VAULT=]FILE[:LINE]",
    help="With -o sarif: locate findings (of VAULT, or of every vault) in this repository file, e.g. the "
    "Bicep/Terraform defining the vault, so GitHub code scanning shows them. Without LINE: the first line "
    "naming the vault. Repeatable.",
)
@global_options(formats=FORMATS)
@pass_app
def check(
    app: AppContext,
    vaults: tuple[str, ...],
    all_vaults: bool,
    all_subscriptions: bool,
    management_group: str | None,
    fail_on: str,
    expiring_within: str,
    max_age: str | None,
    unread_for: str,
    fix: bool,
    retention: int | None,
    yes: bool,
    sarif_anchors: tuple[str, ...],
) -> int:
    """Check vault settings and secret hygiene; exit 10 when a finding reaches --fail-on.

    \b
    FAIL  KV001 soft delete off, KV002 purge protection off, KV010 expired enabled secret
    WARN  KV003 retention < 90 days, KV004 access policies instead of RBAC, KV005 a policy grants
          purge or everything, KV006 public network open, KV008 audit logging off, KV009 a broad
          role above the vault reaches its secrets, KV011 no expiry, KV012 expiring soon,
          KV013 older than --max-age, KV015 not read within --unread-for (from the audit log)
    INFO  KV007 no private endpoint, KV014 no content type, KV020 secrets could not be listed,
          KV021 diagnostic settings or role assignments could not be read, KV022 the audit
          log's workspace could not be queried (KV015 not checked)
    \b
    -o sarif writes SARIF 2.1.0 for code scanning. --fix never deletes, disables or lowers anything.
    --all-subscriptions / --management-group: vault settings come from the Resource Graph query
    (no ARM read per vault); secrets are checked up to 8 vaults at a time.
    """
    from ..core.check_run import CheckRequest, run_checks
    from ..core.checks import CheckOptions, at_or_above, summary
    from ..core.refs import vault_url
    from .cmd_audit import window_option

    settings = app.settings
    fleet = all_subscriptions or management_group is not None
    if sum(map(bool, (vaults, all_vaults, all_subscriptions, management_group is not None))) > 1:
        raise UsageError("give vaults, --all, --all-subscriptions or --management-group: one of them")
    if management_group is not None:
        management_group = _management_group(management_group)
    if fix and fleet:
        raise UsageError(
            "--fix works on one subscription's vaults",
            hint="kvctl check --all --fix --subscription ID, per subscription",
        )
    if retention is not None and not fix:
        raise UsageError("--retention only applies with --fix", hint="kvctl check VAULT --fix --retention 90")
    targets = [vault_url(v, settings.cloud_info) for v in vaults]
    if not targets and not all_vaults and not fleet:
        targets = [settings.require_vault_url()]
    request = CheckRequest(
        vault_urls=targets,
        all_vaults=all_vaults,
        options=CheckOptions(
            expiring_within=validate.duration(expiring_within),
            max_age=validate.duration(max_age) if max_age else None,
            unread_for=window_option("--unread-for", unread_for),
            logs=app.clients.logs(),
        ),
        fix=fix,
        retention=retention,
    )
    fmt = app.output_format(FORMATS)
    anchor_specs = _anchor_specs(sarif_anchors, fmt)
    arm = app.clients.arm()
    category = "all" if all_vaults else _category(targets)
    if fleet:
        from dataclasses import replace

        from ..core.fleet import discover_vaults, fleet_scope

        arm = app.clients.fleet_arm()
        with app.output.progress("finding vaults (Resource Graph)", None):
            scope = fleet_scope(management_group, arm.visible_subscriptions)
            found = discover_vaults(app.clients.resource_graph(), scope)
        if not found:
            from ..core.errors import NotFoundError

            # A gate that checked nothing must not pass: no vault is visible in the scope.
            raise NotFoundError(
                f"no vault is visible in {scope.description}, so nothing was checked",
                hint="a role that reads vaults (Reader) on the subscriptions or the management group is needed",
            )
        app.output.info(f"found {len(found)} vault(s) in {scope.description}")
        request = replace(request, discovered=found)
        category = f"management-group-{management_group}" if management_group else "all-subscriptions"

    def confirm_fixes(fixes: list[Fix]) -> None:
        for planned in fixes:
            app.output.info(f"will {planned.description}" + (" (irreversible)" if planned.irreversible else ""))
        if any(planned.irreversible for planned in fixes):
            confirm(app, "Apply these irreversible changes?", yes)

    total = len(request.discovered) if request.discovered is not None else None
    with app.output.progress("checking vaults", total) as advance:
        results = run_checks(
            arm,
            app.factory,
            request,
            now=dt.datetime.now(dt.UTC),
            confirm=confirm_fixes,
            progress=advance,
        )
    for result in results:
        for change in result.changes:
            app.output.info(f"changed: {change}")
    findings = [f for result in results for f in result.findings]
    _render(app, findings, fmt, anchor_specs, category)
    counts = summary(findings)
    app.output.info(
        f"{len(results)} vault(s) checked: {counts['FAIL']} FAIL, {counts['WARN']} WARN, {counts['INFO']} INFO"
    )
    threshold = fail_on.upper()
    if threshold != "NEVER" and any(at_or_above(f, threshold) for f in findings):
        return 10
    return 0


def _management_group(given: str) -> str:
    """A management group id (or its resource id) -> the id; checked before any request."""
    text = given.strip().rstrip("/")
    prefix = "/providers/microsoft.management/managementgroups/"
    if text.lower().startswith(prefix):
        text = text[len(prefix) :]
    if not re.fullmatch(r"[A-Za-z0-9_().-]{1,90}", text):
        raise UsageError(
            f"invalid management group id {given!r}",
            hint="1-90 letters, digits, '-', '_', '(', ')' or '.'; see az account management-group list",
        )
    return text


def _anchor_specs(given: tuple[str, ...], fmt: str) -> dict[str | None, AnchorSpec]:
    """Parse and check every --sarif-anchor before any request: the file exists, the line too."""
    from ..core.sarif import parse_anchor, resolve_anchor

    if given and fmt != "sarif":
        raise UsageError("--sarif-anchor only applies with -o sarif")
    specs: dict[str | None, AnchorSpec] = {}
    for text in given:
        try:
            spec = parse_anchor(text)
            resolve_anchor(spec, Path.cwd())
        except ValueError as exc:
            raise UsageError(f"--sarif-anchor: {exc}", hint="give [VAULT=]FILE[:LINE], FILE in this checkout") from None
        if spec.vault in specs:
            raise UsageError(f"--sarif-anchor given twice for {spec.vault or 'every vault'}")
        specs[spec.vault] = spec
    return specs


def _category(urls: list[str]) -> str:
    """A stable name for what was checked: code scanning keeps one set of alerts per category."""
    names = []
    for url in urls:
        host = urlsplit(url).netloc.lower()
        names.append(host.split(".")[0] if not host.startswith(("127.", "[", "localhost")) else host)
    return ",".join(sorted(re.sub(r"[^a-z0-9.,-]+", "-", name) for name in names)) or "default"


def _render(
    app: AppContext, findings: list[Finding], fmt: str, specs: dict[str | None, AnchorSpec], category: str
) -> None:
    from .. import __version__
    from ..output import FINDING_COLUMNS

    if fmt == "sarif":
        from ..core.sarif import Anchor, resolve_anchor, to_sarif

        root = Path.cwd()
        anchors: dict[str | None, Anchor] = {}
        for vault in sorted({f.vault for f in findings}):
            spec = specs.get(vault) or specs.get(None)
            if spec is not None:
                anchors[vault] = resolve_anchor(spec, root, vault)
        app.output.json(to_sarif(findings, __version__, category=category, anchors=anchors, source_root=root))
        return
    app.output.rows((f.as_json() for f in findings), FINDING_COLUMNS, fmt, plain=lambda r: f"{r['id']} {r['resource']}")
    if fmt == "table" and findings:
        # Below the table, whole, one per line: each can be copied and pasted as it is.
        remedies = list(dict.fromkeys(f.remedy for f in findings))
        app.output.write("\nTo fix (one command per line, ready to paste):\n" + "".join(f"{r}\n" for r in remedies))
