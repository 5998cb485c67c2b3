"""Reading secrets: list, get, show, versions."""

from __future__ import annotations

import datetime as dt

import click

from ..core import validate
from ..core.errors import UsageError
from ..core.refs import parse_ref
from ..core.secrets import ListFilter
from .context import AppContext, global_options

pass_app = click.make_pass_decorator(AppContext, ensure=True)
VALUE_FORMATS = ("plain", "json", "env", "dotenv")
LIST_FORMATS = ("table", "json", "tsv", "plain")
RECORD_FORMATS = ("table", "json", "tsv", "plain")


@click.command("list")
@click.option("--prefix", help="Only secrets whose name starts with this (case-insensitive).")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="Only secrets with this tag (repeatable).")
@click.option(
    "--expiring-within", metavar="DURATION", help="Only secrets that expire within e.g. 30d (or already have)."
)
@click.option("--deleted", is_flag=True, help="List deleted (recoverable) secrets instead.")
@click.option("--include-disabled", is_flag=True, help="Include disabled secrets.")
@global_options(formats=LIST_FORMATS)
@pass_app
def list_cmd(
    app: AppContext,
    prefix: str | None,
    tags: tuple[str, ...],
    expiring_within: str | None,
    deleted: bool,
    include_disabled: bool,
) -> None:
    """List secrets with their attributes (never their values).

    Output is a table on a terminal and JSON otherwise; -o tsv and -o plain (names) stream too.
    """
    from ..core.secrets import list_secrets
    from ..output import DELETED_COLUMNS, SECRET_COLUMNS

    filters = ListFilter(
        prefix=prefix,
        tags=validate.tags(tags),
        expiring_within=validate.duration(expiring_within) if expiring_within else None,
        include_disabled=include_disabled or deleted,
    )
    vault = app.settings.require_vault_url()
    fmt = app.output_format(LIST_FORMATS)
    now = dt.datetime.now(dt.UTC)
    found = list_secrets(app.factory, vault, filters, now, deleted=deleted)
    count = app.output.secrets(found, fmt, DELETED_COLUMNS if deleted else SECRET_COLUMNS)
    app.output.detail(f"{count} {'deleted ' if deleted else ''}secret(s) in {vault}")


@click.command("get")
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@click.option("--version", help="A specific version (32 hex characters) instead of the latest.")
@click.option("--no-newline", "-n", is_flag=True, help="With -o plain, do not add a newline after the value.")
@click.option(
    "--file", "file_path", type=click.Path(dir_okay=False), help="Write to this file (mode 0600), not stdout."
)
@global_options(formats=VALUE_FORMATS)
@pass_app
def get(app: AppContext, refs: tuple[str, ...], version: str | None, no_newline: bool, file_path: str | None) -> None:
    """Print the value of one or more secrets.

    \b
    -o plain   the value and a newline (default; --no-newline omits it)
    -o json    the secret as `az keyvault secret show` prints it (an array for several)
    -o env     export NAME='value' lines, for eval
    -o dotenv  NAME='value' lines, for .env files
    """
    from ..core.bulk import fetch_values
    from ..output import values_text

    settings = app.settings
    fmt = app.output_format(VALUE_FORMATS, default="plain")
    if version and len(refs) > 1:
        raise UsageError("--version applies to a single secret", hint="name versions in the references instead")
    parsed = [parse_ref(r, settings.vault, settings.cloud_info, version) for r in refs]
    with app.output.progress("fetching", None):
        secrets = fetch_values(app.factory, parsed, concurrency=settings.concurrency)
    text = values_text(secrets, fmt, newline=not no_newline)
    if file_path:
        from ..core.files import write_private  # tempfile and its imports: only when writing a file

        write_private(file_path, text)
        app.output.info(f"wrote {len(secrets)} secret(s) to {file_path} (mode 0600)")
    else:
        app.output.write(text)


@click.command("show")
@click.argument("ref", metavar="REF")
@click.option("--version", help="A specific version instead of the latest.")
@global_options(formats=RECORD_FORMATS)
@pass_app
def show(app: AppContext, ref: str, version: str | None) -> None:
    """Show a secret's attributes and tags, without its value."""
    from ..core.secrets import show_secret

    settings = app.settings
    fmt = app.output_format(RECORD_FORMATS)
    with app.output.progress("reading", None):
        secret = show_secret(app.factory, parse_ref(ref, settings.vault, settings.cloud_info, version))
    app.output.secret(secret, fmt)


@click.command("versions")
@click.argument("ref", metavar="NAME")
@global_options(formats=LIST_FORMATS)
@pass_app
def versions(app: AppContext, ref: str) -> None:
    """List every version of a secret, newest first (attributes only)."""
    from ..core.secrets import list_versions
    from ..output import VERSION_COLUMNS

    settings = app.settings
    fmt = app.output_format(LIST_FORMATS)
    with app.output.progress("listing versions", None):
        found = list_versions(app.factory, parse_ref(ref, settings.vault, settings.cloud_info))
    app.output.secrets(found, fmt, VERSION_COLUMNS, plain=lambda row: row["id"].rsplit("/", 1)[-1])
