"""access: grant, revoke and list RBAC roles on a vault (or one secret), and explain the roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..core import validate
from ..core.access import PRINCIPAL_TYPES
from ..core.errors import UsageError
from .context import AppContext, global_options

if TYPE_CHECKING:
    from ..core.access import AccessChange, GrantRequest

F = TypeVar("F", bound=Callable[..., Any])
pass_app = click.make_pass_decorator(AppContext, ensure=True)
RECORD_FORMATS = ("table", "json", "tsv", "plain")


def _target_options(fn: F) -> F:
    fn = click.option("--secret", metavar="NAME", help="Only this secret, not the whole vault.")(fn)
    fn = click.option(
        "--role",
        default="Key Vault Secrets User",
        show_default=True,
        metavar="NAME|GUID",
        help="A built-in role (see `kvctl access roles`).",
    )(fn)
    return click.option("--assignee", required=True, metavar="OBJECT_ID", help="Object id of the identity.")(fn)


def _request(
    app: AppContext,
    assignee: str,
    role: str,
    secret: str | None,
    assignee_type: str | None = None,
    wait: str | None = None,
) -> GrantRequest:
    from ..core.access import GrantRequest
    from ..core.roles import find_role

    return GrantRequest(
        vault_url=app.settings.require_vault_url(),
        assignee=validate.guid(assignee, "--assignee object id"),
        role=find_role(role),
        assignee_type=assignee_type,
        secret=validate.secret_name(secret) if secret else None,
        wait_for_principal=validate.duration(wait) if wait else dt.timedelta(minutes=2),
    )


ACCESS_CHANGE_COLUMNS = ("status", "role", "assignee", "vault", "scope", "assignmentIds")


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
        app.output.write(f"{change.status}: {change.role} for {change.assignee} on {where}\n")


@click.group("access")
def access() -> None:
    """Grant, revoke and list RBAC roles on a vault (or one secret).

    \b
    CI example (idempotent: re-running it succeeds):
      kvctl access grant --assignee "$APP_OBJECT_ID" --assignee-type ServicePrincipal
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
@global_options(formats=RECORD_FORMATS)
@pass_app
def grant(
    app: AppContext, assignee: str, role: str, secret: str | None, assignee_type: str | None, wait_for_principal: str
) -> None:
    """Give an identity a role on the vault; an existing equal assignment is success."""
    import time

    from ..core.access import grant as grant_role

    request = _request(app, assignee, role, secret, assignee_type, wait_for_principal)
    with app.output.progress("granting", None):
        change = grant_role(app.clients.arm(), request, clock=time.monotonic, sleep=time.sleep, notify=app.output.info)
    _report(app, change)


@access.command("revoke")
@_target_options
@global_options(formats=RECORD_FORMATS)
@pass_app
def revoke(app: AppContext, assignee: str, role: str, secret: str | None) -> None:
    """Remove an identity's role on the vault; nothing to remove is success."""
    from ..core.access import revoke as revoke_role

    request = _request(app, assignee, role, secret)
    with app.output.progress("revoking", None):
        change = revoke_role(app.clients.arm(), request)
    _report(app, change)


@access.command("list")
@global_options(formats=RECORD_FORMATS)
@pass_app
def list_cmd(app: AppContext) -> None:
    """Who has what on the vault: role assignments (with roles by name) and access policies."""
    from ..core.access import list_access
    from ..output import ACCESS_COLUMNS

    fmt = app.output_format(RECORD_FORMATS)
    with app.output.progress("reading role assignments", None):
        report = list_access(app.clients.arm(), app.settings.require_vault_url())
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
