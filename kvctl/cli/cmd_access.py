"""access: grant, revoke and list RBAC roles on a vault (or one secret), and explain the roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..core import validate
from ..core.access import PRINCIPAL_TYPES
from ..core.errors import PrincipalNotFoundError, UsageError
from .cmd_access_who import RECORD_FORMATS, who
from .context import AppContext, global_options

if TYPE_CHECKING:
    from ..core.access import AccessChange, GrantRequest
    from ..core.principals import Resolved

F = TypeVar("F", bound=Callable[..., Any])
pass_app = click.make_pass_decorator(AppContext, ensure=True)


def _target_options(fn: F) -> F:
    fn = click.option("--secret", metavar="NAME", help="Only this secret, not the whole vault.")(fn)
    fn = click.option(
        "--role",
        default="Key Vault Secrets User",
        show_default=True,
        metavar="NAME|GUID",
        help="A built-in role (see `kvctl access roles`).",
    )(fn)
    return click.option("--assignee", required=True, metavar="WHO", help=_ASSIGNEE_HELP)(fn)


_ASSIGNEE_HELP = (
    "Object id, client (app) id, user principal name, or unique display name (resolved through Microsoft Graph)."
)


def _resolve(app: AppContext, assignee: str, *, lookup: bool = True, missing_ok: bool = False) -> Resolved:
    from ..core.principals import resolve

    try:
        resolved = resolve(app.clients.graph(), assignee, lookup=lookup, missing_ok=missing_ok)
    except PrincipalNotFoundError as exc:
        if validate.GUID.match(assignee.strip()):
            exc.hint = (
                "check the id; right after creating an identity, pass its object id with --assignee-type "
                "ServicePrincipal (or User/Group): that skips the directory lookup and waits out replication"
            )
        raise
    if resolved.note:
        app.output.info(resolved.note)
    return resolved


def _request(
    app: AppContext,
    assignee: str,
    role: str,
    secret: str | None,
    assignee_type: str | None = None,
    wait: str | None = None,
    *,
    revoking: bool = False,
) -> GrantRequest:
    from ..core.access import GrantRequest
    from ..core.principals import validate_assignee
    from ..core.roles import find_role

    # Everything the user typed is checked before any request (Graph included).
    validate_assignee(assignee)
    if assignee_type and not validate.GUID.match(assignee.strip()):
        raise UsageError(
            f"invalid --assignee object id {assignee!r}",
            hint="--assignee-type skips the directory lookup, so --assignee must then be an object id",
        )
    found_role = find_role(role)
    secret_name = validate.secret_name(secret) if secret else None
    wait_for_principal = validate.duration(wait) if wait else dt.timedelta(minutes=2)
    vault_url = app.settings.require_vault_url()
    # --assignee-type: the caller vouches for the principal (one created a moment ago may not be in
    # the directory yet), so an object id is used without a lookup.
    resolved = _resolve(app, assignee, lookup=assignee_type is None, missing_ok=revoking)
    return GrantRequest(
        vault_url=vault_url,
        assignee=resolved.object_id,
        role=found_role,
        assignee_type=assignee_type,
        secret=secret_name,
        wait_for_principal=wait_for_principal,
        principal=resolved.principal,
    )


ACCESS_CHANGE_COLUMNS = ("status", "role", "assignee", "vault", "scope", "assignmentIds")


def _probe(app: AppContext, request: GrantRequest) -> Callable[[], None] | None:
    """The cheapest data-plane call that the granted role allows, or None when it allows none."""
    from ..builtin_roles import role_allows

    backend = app.clients.secrets(request.vault_url)
    if request.secret and role_allows(request.role, "Microsoft.KeyVault/vaults/secrets/getSecret/action", data=True):
        name = request.secret
        return lambda: _ignore_not_found(lambda: backend.get(name))
    if request.secret is None and role_allows(
        request.role, "Microsoft.KeyVault/vaults/secrets/readMetadata/action", data=True
    ):

        def first_page() -> None:
            next(iter(backend.list()), None)

        return first_page
    return None


def _ignore_not_found(call: Callable[[], object]) -> None:
    from ..core.errors import NotFoundError

    try:
        call()
    except NotFoundError:
        pass  # allowed to look, and nothing there: the role is honoured


def _report(app: AppContext, change: AccessChange) -> None:
    """The result on stdout in the format asked for (warnings stay on stderr)."""
    for warning in change.warnings:
        app.output.warn(warning)
    fmt = app.output_format(RECORD_FORMATS)
    if fmt == "json":
        app.output.json(change.as_json())
    elif fmt == "plain":
        app.output.write(f"{change.status}\n")
    elif fmt == "tsv":
        record = change.as_json()
        record["assignmentIds"] = ",".join(record["assignmentIds"])
        app.output.write("\t".join(str(record[k] or "") for k in ACCESS_CHANGE_COLUMNS) + "\n")
    else:
        where = (
            f"secret {change.scope.rsplit('/', 1)[-1]} in vault {change.vault}"
            if "/secrets/" in change.scope
            else f"vault {change.vault}"
        )
        who = f"{change.principal.label} ({change.assignee})" if change.principal else change.assignee
        app.output.write(f"{change.status}: {change.role} for {who} on {where}\n")


@click.group("access")
def access() -> None:
    """Grant, revoke and list RBAC roles on a vault (or one secret); see who can read it.

    \b
    CI example (idempotent: re-running it succeeds):
      kvctl access grant --assignee "$APP_CLIENT_ID" --wait 5m

    --assignee takes an object id, a client (app) id, a user principal name or a
    unique display name, resolved through Microsoft Graph.
    """


@access.command("grant")
@_target_options
@click.option(
    "--assignee-type",
    type=click.Choice(PRINCIPAL_TYPES),
    help="Skip the directory lookup (needed right after creating an identity).",
)
@click.option(
    "--wait-for-principal",
    metavar="DURATION",
    default="2m",
    show_default=True,
    help="How long to retry while a new identity is not yet in the directory.",
)
@click.option(
    "--wait",
    "wait",
    metavar="DURATION",
    help="Return only when ARM lists the assignment and, if you are the assignee, Key Vault honours it.",
)
@global_options(formats=RECORD_FORMATS)
@pass_app
def grant(
    app: AppContext,
    assignee: str,
    role: str,
    secret: str | None,
    assignee_type: str | None,
    wait_for_principal: str,
    wait: str | None,
) -> None:
    """Give an identity a role on the vault; an existing equal assignment is success."""
    import time

    from ..core.access import GrantWait, wait_for_grant
    from ..core.access import grant as grant_role

    wait_for = validate.duration(wait) if wait else None
    request = _request(app, assignee, role, secret, assignee_type, wait_for_principal)
    arm = app.clients.arm()
    with app.output.progress("granting", None):
        change = grant_role(arm, request, clock=time.monotonic, sleep=time.sleep, notify=app.output.info)
    if wait_for is not None:
        cloud = app.settings.cloud_info
        caller = app.clients.caller_object_id(request.vault_url, cloud.vault_scope)
        plan = GrantWait(wait_for, caller, _probe(app, request))
        change = wait_for_grant(
            arm, change, request.role.guid, plan, clock=time.monotonic, sleep=time.sleep, notify=app.output.info
        )
        if change.propagation == "visible":
            why = (
                "this role allows no secrets call kvctl could watch"
                if (caller or "").lower() == change.assignee.lower()
                else "kvctl is not the assignee"
            )
            app.output.info(
                f"ARM lists the assignment; {why}, so it cannot see when Key Vault honours it "
                "(in Azure usually within minutes; the assignee can use --wait-for-access)"
            )
    _report(app, change)


@access.command("revoke")
@_target_options
@global_options(formats=RECORD_FORMATS)
@pass_app
def revoke(app: AppContext, assignee: str, role: str, secret: str | None) -> None:
    """Remove an identity's role on the vault; nothing to remove is success."""
    from ..core.access import revoke as revoke_role

    request = _request(app, assignee, role, secret, revoking=True)
    with app.output.progress("revoking", None):
        change = revoke_role(app.clients.arm(), request)
    _report(app, change)


@access.command("list")
@click.option("--assignee", metavar="WHO", help="Only this principal's entries. " + _ASSIGNEE_HELP)
@global_options(formats=RECORD_FORMATS)
@pass_app
def list_cmd(app: AppContext, assignee: str | None) -> None:
    """Who has what on the vault: role assignments (roles and principals by name) and access policies."""
    from ..core.access import list_access
    from ..core.principals import validate_assignee
    from ..output import ACCESS_COLUMNS

    if assignee is not None:
        validate_assignee(assignee)
    fmt = app.output_format(RECORD_FORMATS)
    vault_url = app.settings.require_vault_url()
    object_id = _resolve(app, assignee, missing_ok=True).object_id if assignee is not None else None
    with app.output.progress("reading role assignments", None):
        report = list_access(app.clients.arm(), vault_url, app.clients.graph(), object_id)
    if report.names_missing:
        app.output.warn(f"principal names are not shown: {report.names_missing}")
    if fmt == "table" and not report.vault.rbac:
        app.output.warn(f"vault {report.vault.name} uses access policies: role assignments grant no data access")
    app.output.rows(
        (e.as_json() for e in report.entries), ACCESS_COLUMNS, fmt, plain=lambda r: r["principalId"], waiting="listing"
    )


@access.command("roles")
@click.option("-o", "--output", "fmt", type=click.Choice(RECORD_FORMATS), help="Output format.")
@pass_app
def roles(app: AppContext, fmt: str | None) -> None:
    """The built-in Key Vault roles and what each allows with secrets."""
    from ..core.access import role_summaries
    from ..output import ROLE_COLUMNS

    if fmt is None:
        fmt = app.output_format(RECORD_FORMATS)
    if fmt not in RECORD_FORMATS:
        raise UsageError(f"-o {fmt} is not available here")
    app.output.rows((r.as_json() for r in role_summaries()), ROLE_COLUMNS, fmt)


access.add_command(who)
