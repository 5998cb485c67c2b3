"""`kvctl import`: a dotenv or JSON file's variables as secrets (the reverse of `export`)."""

from __future__ import annotations

import datetime as dt
import sys

import click

from ..core.errors import UsageError
from ..core.namemap import FILE_FORMATS
from .context import AppContext, global_options
from .promote_support import FORMATS

pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.command("import")
@click.argument("file", metavar="FILE")
@click.option("--format", "fmt", type=click.Choice(FILE_FORMATS), help="The file's format (default: from its name).")
@click.option("--prefix", help="Put this prefix (and a '-') before every secret name.")
@click.option("--name-map", "name_map", multiple=True, metavar="VAR=NAME", help="Name VAR's secret NAME exactly.")
@click.option("--allow-empty", is_flag=True, help="Store empty values (refused otherwise, as a likely mistake).")
@click.option("--dry-run", is_flag=True, help="Show what would be created, updated or skipped, and why.")
@click.option("--report", metavar="FILE", help="Where a failed run leaves its per-secret report (0600, no values).")
@global_options()
@pass_app
def import_cmd(
    app: AppContext,
    file: str,
    fmt: str | None,
    prefix: str | None,
    name_map: tuple[str, ...],
    allow_empty: bool,
    dry_run: bool,
    report: str | None,
) -> None:
    """Set each variable of a dotenv or JSON file ('-' = stdin) as a secret in --vault.

    \b
    Names: letters lower-cased, every other character '-', no '-' at either end:
      DB_PASSWORD -> db-password      _1ST_KEY -> 1st-key
      --prefix myapp:  DB_PASSWORD -> myapp-db-password
      --name-map DB_PASSWORD=prod-db-pw  names one exactly (no prefix added)

    Idempotent: a secret whose latest version already has the value is skipped; a new version
    keeps the current one's content type and tags. Values go from the file to the vault and
    nowhere else. JSON is one object of names to string values (what export --format json
    writes). Every name and value is checked before anything is written.
    """
    from ..core import namemap, validate
    from ..core.files import read_text
    from ..core.promote_plan import Content, Wanted, plan
    from ..core.promote_read import read_for_import
    from ..core.promote_run import planned
    from .promote_support import execute, finish, refuse_conflicts, render, summary

    settings = app.settings
    to_url = settings.require_vault_url()
    output = app.output_format(FORMATS)
    overrides = namemap.name_overrides(name_map)
    text = read_text(file, "file", sys.stdin.buffer)
    source = "stdin" if file == "-" else file
    pairs = namemap.parse_file(text, source, fmt)
    entries = namemap.map_entries(pairs, namemap.prefix(prefix), overrides, source)
    empty = [e.variable for e in entries if not e.value]
    if empty and not allow_empty:
        raise UsageError(
            f"{len(empty)} variable(s) are empty: {', '.join(empty[:10])}; nothing was written",
            hint="pass --allow-empty to store empty values, or remove them",
        )
    for e in entries:
        try:
            validate.secret_value(e.value)
        except UsageError as exc:
            raise UsageError(f"{e.variable}: {exc.message}", exc.hint) from None
    started = dt.datetime.now(dt.UTC)
    wanted = [Wanted(e.variable, e.name, (Content(e.value),), compare_attributes=False) for e in entries]
    state = read_for_import(app.factory, to_url, wanted, concurrency=settings.concurrency)
    items = plan(wanted, state.latest, state.deleted)
    header = {"from": source, "to": to_url, "dryRun": dry_run}
    conflict = refuse_conflicts(items, to_url)
    if dry_run or conflict:
        render(app, output, header, planned(items))
        summary(app, planned(items), dry_run=True, refused=conflict is not None)
        if conflict:
            raise conflict
        return
    results = execute(app, app.factory, to_url, items, "importing")
    render(app, output, header, results)
    summary(app, results, dry_run=False)
    finish(app, "import", source, to_url, started, results, report)
