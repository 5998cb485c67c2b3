"""Writing secrets: set (a new version) and update (attributes only)."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import replace

import click

from ..core import validate
from ..core.errors import UsageError
from ..core.refs import parse_ref
from .context import AppContext, global_options

RECORD_FORMATS = ("table", "json", "tsv", "plain")
pass_app = click.make_pass_decorator(AppContext, ensure=True)


def read_value(app: AppContext, value: str | None, file_path: str | None, allow_empty: bool) -> str:
    """The new value: --value (warned), --file PATH or - (exact bytes), piped stdin, or a hidden prompt."""
    from ..core.files import decode_value, read_text
    from ..core.redaction import register

    if value is not None and file_path is not None:
        raise UsageError("give the value once: --value or --file, not both")
    if value is not None:
        app.output.warn("--value puts the secret in shell history and the process list; prefer stdin or --file")
        text = value
    elif file_path is not None:
        text = read_text(file_path, "the value", sys.stdin.buffer)
    elif not sys.stdin.isatty():
        text = decode_value(sys.stdin.buffer.read(), "stdin", strip_newline=True)
    else:
        text = click.prompt("Value", hide_input=True, confirmation_prompt=True, err=True)
    register(text)
    if not text and not allow_empty:
        # Most often an unset variable piped in (echo -n "$TOKEN" | kvctl set ...).
        raise UsageError("the value is empty; nothing was stored", hint="pass --allow-empty to store an empty value")
    return validate.secret_value(text)


@click.command("set")
@click.argument("name")
@click.option("--file", "file_path", metavar="PATH", help="Read the value from a file, exactly ('-' = stdin, exactly).")
@click.option("--value", help="The value on the command line (visible to other users: avoid).")
@click.option(
    "--content-type",
    help="Content type, e.g. text/plain. Default: the current version's; '' for none.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="NAME=VALUE",
    help="A tag, added to the current version's tags (repeatable).",
)
@click.option("--no-tags", is_flag=True, help="Do not carry the current version's tags over.")
@click.option("--expires", metavar="DURATION|DATE", help="Expiry: a duration from now (90d) or a date.")
@click.option("--not-before", metavar="DURATION|DATE", help="Not valid before: a duration from now or a date.")
@click.option("--disabled", is_flag=True, help="Store the new version disabled.")
@click.option("--allow-empty", is_flag=True, help="Store an empty value (refused otherwise, as a likely mistake).")
@global_options(formats=RECORD_FORMATS)
@pass_app
def set_cmd(
    app: AppContext,
    name: str,
    file_path: str | None,
    value: str | None,
    content_type: str | None,
    tags: tuple[str, ...],
    no_tags: bool,
    expires: str | None,
    not_before: str | None,
    disabled: bool,
    allow_empty: bool,
) -> None:
    """Store a new version of secret NAME.

    The value comes from stdin when it is piped (one trailing newline is dropped, as `echo`
    adds one), from --file exactly, or from a hidden prompt on a terminal.

    The new version keeps the current version's content type and tags (Key Vault itself would
    drop them): --tag adds or replaces a tag, --no-tags starts from none, --content-type ''
    stores none. The expiry is not carried over: kvctl warns when the current version has one
    and the new one would not (pass --expires).

    \b
    Examples:
      echo -n "$TOKEN" | kvctl set api-token --expires 90d --tag owner=ci
      kvctl set tls-key --file key.pem --content-type application/x-pem-file
    """
    from ..core.secrets import SecretProperties, set_secret

    settings = app.settings
    now = dt.datetime.now(dt.UTC)
    ref = parse_ref(name, settings.vault, settings.cloud_info)
    props = SecretProperties(
        content_type=validate.content_type(content_type) if content_type is not None else None,
        tags=validate.tags(tags) if tags else None,
        enabled=False if disabled else None,
        expires=validate.instant(expires, now) if expires else None,
        not_before=validate.instant(not_before, now) if not_before else None,
        clear_tags=no_tags,
    )
    if props.expires and props.not_before and props.not_before >= props.expires:
        raise UsageError("--not-before must be earlier than --expires")
    fmt = app.output_format(RECORD_FORMATS)
    secret_value = read_value(app, value, file_path, allow_empty)
    with app.output.progress("storing", None):
        outcome = set_secret(app.factory, ref, secret_value, props)
    secret = outcome.secret
    app.output.info(f"stored version {secret.version} of '{secret.name}' in {ref.vault_url}")
    if outcome.current_unknown:
        app.output.warn(
            "could not read the current version (forbidden): its content type and tags were not carried over"
        )
    if outcome.dropped_expiry is not None:
        app.output.warn(
            f"the previous version expires {outcome.dropped_expiry:%Y-%m-%d}; the new one has no expiry "
            f"(set one: kvctl update {secret.name} --expires 90d)"
        )
    app.output.secret(secret, fmt)


@click.command("update")
@click.argument("name")
@click.option("--version", "version", metavar="VERSION", help="The version to change (default: the latest).")
@click.option("--expires", metavar="DURATION|DATE", help="New expiry: a duration from now (90d) or a date.")
@click.option("--not-before", metavar="DURATION|DATE", help="New not-before: a duration from now or a date.")
@click.option("--enable", "enable", is_flag=True, help="Enable the version.")
@click.option("--disable", "disable", is_flag=True, help="Disable the version.")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="Add or replace a tag (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True, metavar="NAME", help="Remove a tag (repeatable).")
@click.option("--content-type", help="New content type ('' for none).")
@global_options(formats=RECORD_FORMATS)
@pass_app
def update_cmd(
    app: AppContext,
    name: str,
    version: str | None,
    expires: str | None,
    not_before: str | None,
    enable: bool,
    disable: bool,
    tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
    content_type: str | None,
) -> None:
    """Change the attributes of secret NAME without storing a new version.

    Only what is given changes; the value is neither read nor written. Tags are merged into
    the version's tags (--remove-tag drops one).

    \b
    Examples:
      kvctl update db-password --expires 90d
      kvctl update api-key --tag owner=payments --remove-tag temp
      kvctl update api-key --version 0f3c... --disable
    """
    from ..core.secrets import AttributeChanges, update_secret

    if enable and disable:  # a pair where the last one silently won would disable by a typo
        raise UsageError("--enable and --disable contradict each other: give one")
    enabled = True if enable else False if disable else None

    settings = app.settings
    now = dt.datetime.now(dt.UTC)
    ref = parse_ref(name, settings.vault, settings.cloud_info)
    if version is not None:
        version = validate.version(version)
        if ref.version and ref.version.lower() != version.lower():
            raise UsageError("two different versions given: one in NAME and one with --version")
        ref = replace(ref, version=version)
    set_tags = validate.tags(tags) if tags else {}
    for tag_name in remove_tags:
        if not tag_name.strip():
            raise UsageError("--remove-tag needs a tag name")
        if tag_name in set_tags:
            raise UsageError(f"tag {tag_name!r} is both set (--tag) and removed (--remove-tag)")
    changes = AttributeChanges(
        content_type=validate.content_type(content_type) if content_type is not None else None,
        set_tags=set_tags,
        remove_tags=tuple(remove_tags),
        enabled=enabled,
        expires=validate.instant(expires, now) if expires else None,
        not_before=validate.instant(not_before, now) if not_before else None,
    )
    if changes.expires and changes.not_before and changes.not_before >= changes.expires:
        raise UsageError("--not-before must be earlier than --expires")
    if changes.empty():
        raise UsageError(
            "nothing to change",
            hint="give --expires, --not-before, --enable/--disable, --tag, --remove-tag or --content-type",
        )
    fmt = app.output_format(RECORD_FORMATS)
    with app.output.progress("updating", None):
        secret = update_secret(app.factory, ref, changes)
    app.output.info(f"updated version {secret.version} of '{secret.name}' in {ref.vault_url}")
    app.output.secret(secret, fmt)
