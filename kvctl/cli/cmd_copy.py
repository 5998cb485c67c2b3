"""`kvctl copy`: promote secrets from one vault to another, idempotently."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from ..core import validate
from ..core.errors import UsageError
from ..core.settings import AUTH_MODES
from .context import AppContext, confirm, global_options
from .promote_support import FORMATS

if TYPE_CHECKING:
    from ..azure.clients import AzureClients

pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.command("copy")
@click.argument("names", nargs=-1, metavar="[NAME...]")
@click.option("--from", "from_vault", required=True, metavar="VAULT", help="Source vault (name or URL).")
@click.option("--to", "to_vault", required=True, metavar="VAULT", help="Destination vault (name or URL).")
@click.option("--prefix", "prefixes", multiple=True, metavar="P", help="Secrets whose name starts with P (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="Only secrets with this tag (repeatable).")
@click.option("--all-versions", is_flag=True, help="Copy every enabled version, oldest first (default: the latest).")
@click.option("--rename-prefix", metavar="OLD=NEW", help="Destination names: OLD at the start becomes NEW.")
@click.option("--recover-deleted", is_flag=True, help="Recover destination names that are deleted, then write.")
@click.option("--purge-deleted", is_flag=True, help="Purge destination names that are deleted, then write (asks).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before purging.")
@click.option("--dry-run", is_flag=True, help="Show what would be created, updated or skipped, and why.")
@click.option("--to-auth", type=click.Choice(AUTH_MODES), help="Credential for the destination (default: --auth).")
@click.option("--to-client-id", metavar="ID", help="Client id for the destination's credential.")
@click.option("--to-tenant", metavar="ID", help="Tenant for the destination's credential.")
@click.option("--report", metavar="FILE", help="Where a failed run leaves its per-secret report (0600, no values).")
@global_options(exclude=("vault",))
@pass_app
def copy(app: AppContext, names: tuple[str, ...], **opts: Any) -> None:
    """Copy secrets to another vault: the latest enabled version of each, with its value,
    content type, tags, expiry and not-before.

    \b
    Examples:
      kvctl copy --from dev-kv --to prod-kv --prefix app- --dry-run
      kvctl copy --from dev-kv --to prod-kv --prefix dev- --rename-prefix dev-=prod-
      kvctl copy --from a-kv --to b-kv --to-auth azure-cli --to-tenant OTHER-TENANT

    Idempotent: a destination secret whose latest version already has the same value and
    attributes is skipped, so a second run writes nothing, and a run that failed half way
    continues where it stopped. Disabled versions are never copied. With no NAME, --prefix or
    --tag, every enabled secret is copied. A destination name that is deleted but recoverable
    stops the copy before anything is written (exit 6) unless --recover-deleted or
    --purge-deleted says what to do with it. Writes are paced under the service's write limit
    (300 per 10 s per vault).
    """
    from ..core.promote_plan import parse_rename, plan
    from ..core.promote_read import CopySelection, read_both
    from ..core.promote_run import planned
    from ..core.refs import vault_url
    from .promote_support import execute, finish, refuse_conflicts, render, summary

    if opts["recover_deleted"] and opts["purge_deleted"]:
        raise UsageError("give --recover-deleted or --purge-deleted, not both")
    settings = app.settings
    cloud = settings.cloud_info
    for name in names:
        validate.secret_name(name)
    for p in opts["prefixes"]:
        if not p or not all(c.isascii() and (c.isalnum() or c == "-") for c in p):
            raise UsageError(f"invalid --prefix {p!r}", hint="a prefix is letters, digits and '-'")
    selection = CopySelection(
        from_url=vault_url(opts["from_vault"], cloud),
        to_url=vault_url(opts["to_vault"], cloud),
        names=names,
        prefixes=tuple(opts["prefixes"]),
        tags=validate.tags(opts["tags"]) or None,
        rename=parse_rename(opts["rename_prefix"]),
        all_versions=opts["all_versions"],
    )
    if selection.from_url == selection.to_url and not selection.rename:
        raise UsageError("--from and --to are the same vault", hint="add --rename-prefix OLD=NEW to copy within it")
    fmt = app.output_format(FORMATS)
    on_deleted = "recover" if opts["recover_deleted"] else "purge" if opts["purge_deleted"] else "fail"
    started = dt.datetime.now(dt.UTC)
    destination_clients = _destination_clients(app, opts)
    try:
        destination = destination_clients.secrets if destination_clients else app.factory
        with app.output.progress("reading", None) as advance:
            wanted, state = read_both(
                app.factory, destination, selection, concurrency=settings.concurrency, now=started, on_read=advance
            )
        items = plan(wanted, state.latest, state.deleted, on_deleted)
        header = {"from": selection.from_url, "to": selection.to_url, "dryRun": opts["dry_run"]}
        conflict = refuse_conflicts(items, selection.to_url)
        if opts["dry_run"] or conflict:
            render(app, fmt, header, planned(items))
            summary(app, planned(items), dry_run=True, refused=conflict is not None)
            if conflict:
                raise conflict
            return
        purges = [i.name for i in items if i.action == "purge"]
        if purges:
            shown = ", ".join(purges[:10]) + (" ..." if len(purges) > 10 else "")
            confirm(
                app, f"Purge {len(purges)} deleted secret(s) in {selection.to_url} for good ({shown})?", opts["yes"]
            )
        results = execute(app, destination, selection.to_url, items, "copying")
        render(app, fmt, header, results)
        summary(app, results, dry_run=False)
        finish(app, "copy", selection.from_url, selection.to_url, started, results, opts["report"])
    finally:
        if destination_clients is not None:
            destination_clients.close()


def _destination_clients(app: AppContext, opts: dict[str, Any]) -> AzureClients | None:
    """A second set of clients when the destination signs in differently (another tenant, say)."""
    if not (opts["to_auth"] or opts["to_client_id"] or opts["to_tenant"]):
        return None
    from dataclasses import replace

    from ..azure.clients import AzureClients

    settings = app.settings
    return AzureClients(
        replace(
            settings,
            auth=opts["to_auth"] or settings.auth,
            client_id=opts["to_client_id"] or (None if opts["to_auth"] else settings.client_id),
            tenant=opts["to_tenant"] or (None if opts["to_auth"] else settings.tenant),
        )
    )
