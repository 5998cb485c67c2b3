"""The soft-delete lifecycle and backups: delete, recover, purge, backup, restore."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import click

from ..core.errors import KvctlError, NotFoundError, UsageError
from ..core.refs import parse_ref
from .context import AppContext, confirm, global_options

pass_app = click.make_pass_decorator(AppContext, ensure=True)
RECORD_FORMATS = ("table", "json", "tsv", "plain")


def _waiting(app: AppContext) -> Any:
    """The spinner kvctl shows while the service finishes a delete, recover, purge or restore.

    It only starts once the service has accepted the request, so Ctrl-C here must not say
    "aborted": the operation goes on in the service; kvctl merely stops waiting for it."""

    @contextlib.contextmanager
    def waiting(description: str) -> Iterator[Any]:
        try:
            with app.output.progress(description, None) as tracker:
                yield tracker
        except KeyboardInterrupt:
            app.output.error(
                f"interrupted while {description}: the service had already accepted the request, "
                "so it completes without kvctl",
                "see where it stands: kvctl show NAME, or kvctl list --deleted",
            )
            raise SystemExit(130) from None

    return waiting


@click.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask, even where the delete cannot be undone.")
@global_options(formats=RECORD_FORMATS)
@pass_app
def delete(app: AppContext, name: str, yes: bool) -> None:
    """Delete secret NAME and all its versions.

    With soft delete (every vault made since 2020) it stays recoverable for the vault's
    retention period: `kvctl recover NAME`. Where the vault has no soft delete, kvctl asks first.
    kvctl says "deleted" once the service lists the secret as deleted (it takes a few seconds),
    so `kvctl purge NAME` or `kvctl recover NAME` can follow at once.
    """
    from ..core.secrets import delete_secret, show_secret

    settings = app.settings
    ref = parse_ref(name, settings.vault, settings.cloud_info)
    fmt = app.output_format(RECORD_FORMATS)
    if not yes:
        try:
            level = show_secret(app.factory, ref).attributes.recovery_level
        except NotFoundError:
            raise
        except KvctlError:
            level = None
        if level is None:
            # Without the vault's recovery level, the delete might be permanent: ask, as if it were.
            confirm(app, f"Cannot tell whether {ref.vault_url} has soft delete: delete '{ref.name}' anyway?", yes)
        elif "Recoverable" not in level:
            confirm(app, f"Vault {ref.vault_url} has no soft delete: erase '{ref.name}' for good?", yes)
    deleted = delete_secret(app.factory, ref, _waiting(app))
    if deleted.deleted and deleted.deleted.scheduled_purge_date:
        until = f"{deleted.deleted.scheduled_purge_date:%Y-%m-%d}"
        app.output.info(f"deleted '{deleted.name}'; recoverable until {until}: kvctl recover {deleted.name}")
    else:
        app.output.info(f"deleted '{deleted.name}' (this vault has no soft delete: it is gone)")
    app.output.secret(deleted, fmt)


@click.command("recover")
@click.argument("name")
@global_options(formats=RECORD_FORMATS)
@pass_app
def recover(app: AppContext, name: str) -> None:
    """Recover deleted secret NAME, with all its versions.

    Returns once the secret can be read again (the service takes a few seconds).
    """
    from ..core.secrets import recover_secret

    settings = app.settings
    ref = parse_ref(name, settings.vault, settings.cloud_info)
    fmt = app.output_format(RECORD_FORMATS)
    secret = recover_secret(app.factory, ref, _waiting(app))
    app.output.info(f"recovered '{secret.name}'")
    app.output.secret(secret, fmt)


@click.command("purge")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@global_options()
@pass_app
def purge(app: AppContext, name: str, yes: bool) -> None:
    """Erase deleted secret NAME permanently. This cannot be undone, so kvctl asks first."""
    from ..core.secrets import purge_secret

    settings = app.settings
    ref = parse_ref(name, settings.vault, settings.cloud_info)
    confirm(app, f"Permanently erase deleted secret '{ref.name}' from {ref.vault_url}? This cannot be undone.", yes)
    purge_secret(app.factory, ref, _waiting(app))
    app.output.info(f"purged '{ref.name}'")


@click.command("backup")
@click.argument("name")
@click.option("--file", "file_path", required=True, type=click.Path(dir_okay=False), help="Where to write the blob.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@global_options()
@pass_app
def backup(app: AppContext, name: str, file_path: str, force: bool) -> None:
    """Save secret NAME (all versions) as the service's protected backup blob (mode 0600).

    The blob can only be restored into a vault of the same subscription and geography.
    """
    from ..core.files import write_private
    from ..core.secrets import backup_secret

    settings = app.settings
    ref = parse_ref(name, settings.vault, settings.cloud_info)
    if os.path.exists(file_path) and not force:
        raise UsageError(f"{file_path} exists", hint="pass --force to overwrite it")
    with app.output.progress("backing up", None):
        blob = backup_secret(app.factory, ref)
    write_private(file_path, blob)
    app.output.info(f"backed up '{ref.name}' to {file_path} ({len(blob)} bytes, mode 0600)")


@click.command("restore")
@click.option("--file", "file_path", required=True, type=click.Path(dir_okay=False), help="A blob from `backup`.")
@global_options(formats=RECORD_FORMATS)
@pass_app
def restore(app: AppContext, file_path: str) -> None:
    """Restore a secret, with all its versions, from a backup file."""
    from ..core.files import read_input_file
    from ..core.secrets import restore_secret

    vault = app.settings.require_vault_url()
    fmt = app.output_format(RECORD_FORMATS)
    blob = read_input_file(file_path, "backup file")
    if not blob:
        raise UsageError(f"backup file {file_path} is empty")
    secret = restore_secret(app.factory, vault, blob, _waiting(app))
    app.output.info(f"restored '{secret.name}' into {vault}")
    app.output.secret(secret, fmt)
