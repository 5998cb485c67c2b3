"""`kvctl diff`: compare two vaults, or a vault and a dotenv/JSON file; exit 1 when they differ."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ..core.errors import UsageError
from ..core.namemap import FILE_FORMATS
from .context import AppContext, global_options

if TYPE_CHECKING:
    from ..core.diff import DiffResult, Entry, KeyedHash, Side

pass_app = click.make_pass_decorator(AppContext, ensure=True)
FORMATS = ("table", "json", "tsv", "plain")


@click.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--prefix", help="Only secrets whose name starts with this (a file's names get it added).")
@click.option("--format", "fmt", type=click.Choice(FILE_FORMATS), help="A file's format (default: from its name).")
@click.option("--show-values", is_flag=True, help="Print the differing values (never printed otherwise).")
@global_options(exclude=("vault",))
@pass_app
def diff(app: AppContext, a: str, b: str, prefix: str | None, fmt: str | None, show_values: bool) -> int:
    """Compare vault A with vault B (or a dotenv/JSON file): names only in A, only in B, and
    in both with a different value or attributes.

    \b
    Examples:
      kvctl diff dev-kv prod-kv --prefix app-
      kvctl diff prod-kv .env.production -o json

    Exit status as diff(1): 0 when equal, 1 when they differ, others as for every command.
    Values are compared by a keyed hash made for this run and never printed unless
    --show-values. A side is a file when it names an existing file (a vault name or URL
    otherwise); a file's variables are named as `kvctl import` names them, and only values are
    compared with it (a file has no attributes). Disabled secrets are left out, as in export.
    """
    from ..core.diff import KeyedHash, compare, read_pair

    output = app.output_format(FORMATS)
    hasher = KeyedHash()
    readers = [_reader(app, side, prefix, fmt, hasher, show_values) for side in (a, b)]
    with app.output.progress("reading", None):
        left, right = read_pair(readers[0][1], readers[1][1])
    result = compare(readers[0][0], readers[1][0], left, right, show_values=show_values)
    _render(app, output, result)
    if result.equal:
        app.output.info(f"equal: {result.same} secret(s) the same")
        return 0
    app.output.info(
        f"differ: {len(result.only_a)} only in A, {len(result.only_b)} only in B, "
        f"{len(result.different)} different, {result.same} the same"
    )
    return 1


def _reader(
    app: AppContext, given: str, prefix: str | None, fmt: str | None, hasher: KeyedHash, show_values: bool
) -> tuple[Side, Callable[[], dict[str, Entry]]]:
    from ..core import namemap
    from ..core.diff import Side, file_entries, read_vault
    from ..core.files import read_text
    from ..core.refs import vault_url

    settings = app.settings
    if "://" not in given and os.path.isfile(given):
        text = read_text(given, "file")
        entries = namemap.map_entries(namemap.parse_file(text, given, fmt), namemap.prefix(prefix), {}, given)
        table = file_entries(entries, hasher, show_values)
        return Side(given, "file"), lambda: dict(table)
    if "://" not in given and (given.lower().endswith((".env", ".json")) or os.sep in given):
        raise UsageError(f"cannot read file {given}: no such file", hint="a side is a vault name or URL, or a file")
    url = vault_url(given, settings.cloud_info)
    now = dt.datetime.now(dt.UTC)

    def read() -> dict[str, Entry]:
        return read_vault(
            app.factory, url, prefix, hasher, keep_values=show_values, concurrency=settings.concurrency, now=now
        )

    return Side(url, "vault"), read


def _render(app: AppContext, output: str, result: DiffResult) -> None:
    from ..output import Column

    if output == "json":
        app.output.json(result.to_json())
        return
    rows: list[dict[str, object]] = [{"name": n, "state": "only in A", "details": ""} for n in result.only_a]
    rows += [{"name": n, "state": "only in B", "details": ""} for n in result.only_b]
    for d in result.different:
        details = ", ".join(d.fields)
        if result.show_values:
            details += f"  A={d.value_a!r} B={d.value_b!r}"
        rows.append({"name": d.name, "state": "different", "details": details})
    columns = (
        Column("Name", lambda r: r["name"]),
        Column("State", lambda r: r["state"]),
        Column("Differences", lambda r: r["details"]),
    )
    if output == "table" and not rows:
        return
    app.output.rows(rows, columns, output)
