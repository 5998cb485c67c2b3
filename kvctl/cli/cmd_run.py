"""`kvctl run`: a command with secrets in its environment, never in files or shell history."""

from __future__ import annotations

import os
from typing import Any

import click

from ..core.errors import UsageError
from .context import AppContext, global_options

pass_app = click.make_pass_decorator(AppContext, ensure=True)


class _DashDashCommand(click.Command):
    """Everything after the first `--` is the command, untouched; kvctl's options come before.
    Requiring `--` means a command's own flags (`-o`, `--env`) can never be taken for kvctl's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            if not ctx.resilient_parsing and not any(a in ("-h", "--help") for a in args):
                raise UsageError("no command to run", hint="put the command after --: kvctl run --env-file .env -- CMD")
            return super().parse_args(ctx, args)
        split = args.index("--")
        rest = super().parse_args(ctx, args[:split])
        ctx.params["command"] = tuple(args[split + 1 :])
        return rest


@click.command("run", cls=_DashDashCommand, options_metavar="[OPTIONS] -- CMD [ARGS]...")
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="NAME=VALUE lines; akv:// and secret-URL values are resolved, others passed as they are (repeatable).",
)
@click.option("--env", "env_refs", multiple=True, metavar="VAR=REF", help="Set VAR to a secret's value (repeatable).")
@click.option("--prefix", help="Every enabled secret whose name starts with this, as PREFIX-stripped VAR names.")
@click.option("--pristine", is_flag=True, help="Start from an empty environment (keeps only PATH, HOME and a few).")
@global_options(exclude=("output",))
@pass_app
def run(
    app: AppContext,
    env_files: tuple[str, ...],
    env_refs: tuple[str, ...],
    prefix: str | None,
    pristine: bool,
    **params: Any,
) -> int:
    """Run a command with secrets in its environment; exit with the command's own exit code.

    \b
    Examples:
      kvctl run --env-file .env -- npm start         (.env: DB_PASSWORD=akv://myvault/db-password)
      kvctl run --env DB_PASSWORD=db-password -- ./manage.py migrate
      kvctl run --prefix myapp- -- ./server          (myapp-db-password -> $DB_PASSWORD)

    Later sources win: --prefix, then each --env-file in order, then each --env. Every secret
    is fetched before the command starts; if any cannot be, the command is not run. --prefix
    never sets names that change how programs load code, where they connect or whom they trust
    (PATH, LD_*, PYTHON*, GIT_*, *_EDITOR, *_PAGER, *_PROXY, *_OPTIONS, *_OPTS, *FLAGS, SSL_*,
    AZURE_*, AWS_*, ...): it skips them with a warning; map one explicitly with --env NAME=REF.

    SIGINT, SIGTERM and friends sent to kvctl are passed on once; signals kvctl was started
    with ignored (nohup, cmd &) stay ignored for the command. A command killed by signal N
    kills kvctl by N too; if kvctl is killed, so is the command (Linux).
    """
    from ..core.process import note_interrupted, run_child

    command: tuple[str, ...] = params.get("command", ())
    if not command:
        raise UsageError("no command after --", hint="kvctl run --env-file .env -- CMD [ARGS]")
    try:
        env = _environment(app, env_files, env_refs, prefix, pristine)
    except KeyboardInterrupt:
        note_interrupted()  # Ctrl-C before the command started ends kvctl by SIGINT, as it would have
        raise
    return run_child(command, env)


def _environment(
    app: AppContext, env_files: tuple[str, ...], env_refs: tuple[str, ...], prefix: str | None, pristine: bool
) -> dict[str, str]:
    """Everything `run` does before the command starts: read, fetch, warn, and build its environment."""
    import datetime as dt

    from ..core.bulk import Listing
    from ..core.devenv import child_environment, entries_from_env_file, entry_from_option, refuse_nested, resolve
    from ..core.files import read_text
    from ..core.secrets import ListFilter

    refuse_nested(os.environ)
    if not (env_files or env_refs or prefix):
        raise UsageError("nothing to put in the environment", hint="give --env-file FILE, --env VAR=REF or --prefix P")
    settings = app.settings
    entries = []
    for path in env_files:
        entries += entries_from_env_file(read_text(path, "env file"), path, settings.vault, settings.cloud_info)
    entries += [entry_from_option(text, settings.vault, settings.cloud_info) for text in env_refs]
    listing = None
    if prefix is not None:
        listing = Listing(settings.require_vault_url(), ListFilter(prefix=prefix), dt.datetime.now(dt.UTC))
    with app.output.progress("fetching secrets", None) as advance:
        resolved = resolve(app.factory, entries, listing, prefix, concurrency=settings.concurrency, on_fetched=advance)
    for var, name in resolved.skipped:
        app.output.warn(
            f"skipped secret '{name}': ${var} can run code or redirect traffic, so --prefix never sets it; "
            f"if you mean it, map it explicitly with --env {var}={name}"
        )
    if listing is not None and not resolved.matched:
        app.output.warn(f"no enabled secret in {listing.vault_url} starts with {prefix!r}")
    env, overridden = child_environment(os.environ, resolved.variables, pristine=pristine)
    for var in overridden:
        app.output.warn(f"${var} is replaced by the value from {resolved.sources[var]}")
    app.output.detail(f"{len(resolved.variables)} variable(s), {resolved.secrets} secret(s) fetched")
    return env
