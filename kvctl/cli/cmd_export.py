"""`kvctl export` (many secrets at once, as dotenv, shell or JSON) and `kvctl inject` (a template)."""

from __future__ import annotations

import sys

import click

from ..core import validate
from ..core.errors import UsageError
from .context import AppContext, global_options

pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.command("export")
@click.option("--prefix", help="Only secrets whose name starts with this; it is stripped from variable names.")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="Only secrets with this tag (repeatable).")
@click.option("--format", "fmt", type=click.Choice(("dotenv", "json", "shell")), default="dotenv", show_default=True)
@click.option("--file", "file_path", type=click.Path(dir_okay=False), help="Write here (mode 0600), not stdout.")
@global_options(exclude=("output",))
@pass_app
def export(app: AppContext, prefix: str | None, tags: tuple[str, ...], fmt: str, file_path: str | None) -> None:
    """Every enabled secret's current value as environment variables, fetched concurrently.

    Variable names are upper-case with '-' -> '_', and the --prefix (and a '-' after it) is
    stripped: with --prefix myapp-, secret myapp-db-password becomes DB_PASSWORD.

    \b
      --format dotenv  DB_PASSWORD='value' lines (any value reads back exactly)
      --format shell   export DB_PASSWORD='value' lines, for eval
      --format json    {"DB_PASSWORD": "value", ...}

    If any value cannot be fetched, nothing is written and every failure is listed.
    """
    import datetime as dt

    from ..core.bulk import Listing, fetch_bulk
    from ..core.devenv import export_text, variable_names
    from ..core.files import write_private
    from ..core.secrets import ListFilter

    if app.root.get("output_explicit"):
        raise UsageError("export takes --format, not -o", hint="--format dotenv|json|shell")
    listing = Listing(
        app.settings.require_vault_url(),
        ListFilter(prefix=prefix, tags=validate.tags(tags)),
        dt.datetime.now(dt.UTC),
    )
    with app.output.progress("fetching secrets", None) as advance:
        fetched = fetch_bulk(
            app.factory,
            listing=listing,
            concurrency=app.settings.concurrency,
            on_fetched=advance,
            on_listed=advance.set_total,
        )
    variables = {var: s.value or "" for var, s in variable_names(fetched.matched, prefix).items()}
    text = export_text(variables, fmt)
    if not variables:
        app.output.warn(f"no enabled secret in {listing.vault_url} matches")
    if file_path:
        write_private(file_path, text)
        app.output.info(f"wrote {len(variables)} secret(s) to {file_path} (mode 0600)")
    else:
        app.output.write(text)
        app.output.detail(f"{len(variables)} secret(s) from {listing.vault_url}")


@click.command("inject")
@click.option("-i", "--in", "template", required=True, metavar="TEMPLATE", help="The template ('-' = stdin).")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), help="Write here (mode 0600), not stdout.")
@global_options(exclude=("output",))
@pass_app
def inject(app: AppContext, template: str, out: str | None) -> None:
    """Replace each {{ REF }} in a template with the secret's value.

    \b
    Example:  kvctl inject -i config.yml.tpl -o config.yml
      password: {{ akv://myvault/db-password }}
      api_key: {{api-key}}                    (a bare name uses --vault)
      literal: {{ "{{" }}                     (a literal {{)

    Every reference is resolved before anything is written: if one cannot be, nothing is.
    A {{ that opens no valid placeholder is an error, never copied through.
    """
    import os

    from ..core.files import read_text, write_private
    from ..core.template import inject as render_template

    if app.root.get("output_explicit"):
        raise UsageError("inject's -o is the output file and goes after the command", hint="kvctl inject -i T -o OUT")
    text = read_text(template, "template", sys.stdin.buffer)
    if template != "-" and out and os.path.exists(out) and os.path.samefile(template, out):
        raise UsageError("-o would overwrite the template itself", hint="write to another file")
    settings = app.settings
    source = "stdin" if template == "-" else template
    result = render_template(
        app.factory, text, source, settings.vault, settings.cloud_info, concurrency=settings.concurrency
    )
    if out:
        write_private(out, result.text)
        app.output.info(f"wrote {out} (mode 0600): {result.placeholders} placeholder(s), {result.secrets} secret(s)")
    else:
        app.output.write(result.text)
