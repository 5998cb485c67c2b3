"""`kvctl export` (many secrets at once, as dotenv, shell, JSON or CI variables) and `kvctl inject` (a template)."""

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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("dotenv", "json", "shell", "github", "azure-devops")),
    default="dotenv",
    show_default=True,
)
@click.option(
    "--dotenv-dialect",
    type=click.Choice(("portable", "python-dotenv", "node", "compose", "shell")),
    default="portable",
    show_default=True,
    help="dotenv for every consumer (portable), or for one of them only (fewer values refused).",
)
@click.option("--file", "file_path", type=click.Path(dir_okay=False), help="Write here (mode 0600), not stdout.")
@global_options(exclude=("output",))
@pass_app
def export(
    app: AppContext, prefix: str | None, tags: tuple[str, ...], fmt: str, dotenv_dialect: str, file_path: str | None
) -> None:
    """Every enabled secret's current value as environment variables, fetched concurrently.

    Variable names are upper-case with '-' -> '_', and the --prefix (and a '-' after it) is
    stripped: with --prefix myapp-, secret myapp-db-password becomes DB_PASSWORD. Names that
    change how programs load code, where they connect or whom they trust (PATH, LD_*, GIT_*,
    *_PROXY, *_OPTIONS, AZURE_*, ...) are skipped, with a warning, in every format but json.

    \b
      --format dotenv        DB_PASSWORD='value' lines that python-dotenv, npm dotenv, Docker
                             Compose and `set -a; . FILE` read back exactly (else refused)
      --format shell         export DB_PASSWORD='value' lines, for eval or `.` (any value)
      --format json          {"DB_PASSWORD": "value", ...}
      --format github        ::add-mask:: every line on stdout, then append to $GITHUB_ENV
      --format azure-devops  ##vso[task.setvariable variable=DB_PASSWORD;issecret=true]value

    If any value cannot be fetched, or cannot be written so that its reader gets it exactly,
    nothing is written and every such secret is listed (exit 2 for the latter).
    """
    import datetime as dt
    import os

    from ..core.bulk import Listing, fetch_bulk
    from ..core.devenv import render_export, variable_names, without_loader_names
    from ..core.envformat import CONSUMERS, NUL_REFUSAL
    from ..core.files import append_private, write_private
    from ..core.secrets import ListFilter

    if app.root.get("output_explicit"):
        raise UsageError("export takes --format, not -o", hint="--format dotenv|json|shell|github|azure-devops")
    if dotenv_dialect != "portable" and fmt != "dotenv":
        raise UsageError("--dotenv-dialect goes with --format dotenv", hint="drop it, or use --format dotenv")
    target = file_path
    if fmt == "github" and not target:
        target = os.environ.get("GITHUB_ENV") or None
        if not target:
            raise UsageError(
                "--format github appends to the file named by $GITHUB_ENV, which is not set",
                hint="run it in a GitHub Actions step, or name the file with --file PATH",
            )
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
    by_var = variable_names(fetched.matched, prefix)
    if fmt != "json":  # everything but JSON ends up in some process's environment
        by_var, skipped = without_loader_names(by_var)
        for var, name in skipped:
            app.output.warn(
                f"skipped secret '{name}': ${var} can run code or redirect traffic, so it is never set from a "
                "secret name (use kvctl get or --format json for it)"
            )
    variables = {var: s.value or "" for var, s in by_var.items()}
    rendered = render_export(variables, fmt, dotenv_dialect)
    if rendered.refused:
        what = "dotenv that " + CONSUMERS.get(dotenv_dialect, dotenv_dialect) + " read" if fmt == "dotenv" else fmt
        listed = "; ".join(f"'{by_var[var].name}' (${var}): {why}" for var, why in rendered.refused)
        hint = "export those with --format json or --format shell, or narrow --prefix/--tag"
        if any(why == NUL_REFUSAL for _, why in rendered.refused):
            hint = "export those with --format json (it writes a NUL as \\u0000), or narrow --prefix/--tag"
        elif fmt == "dotenv":
            hint += "; --dotenv-dialect python-dotenv|node|compose|shell writes for one consumer only"
        raise UsageError(f"cannot write {len(rendered.refused)} secret(s) as {what} exactly: {listed}", hint=hint)
    if not variables:
        app.output.warn(f"no enabled secret in {listing.vault_url} matches")
    if fmt == "github":
        assert target is not None
        app.output.write(rendered.masks)
        append_private(target, rendered.text)
        app.output.info(f"appended {len(variables)} masked variable(s) to {target}")
    elif file_path:
        write_private(file_path, rendered.text)
        app.output.info(f"wrote {len(variables)} secret(s) to {file_path} (mode 0600)")
    else:
        app.output.write(rendered.text)
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
