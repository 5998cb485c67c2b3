"""Writing secrets: set."""

from __future__ import annotations

import datetime as dt
import sys

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
@click.option("--content-type", help="Content type, e.g. text/plain or application/json.")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="A tag (repeatable).")
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
    expires: str | None,
    not_before: str | None,
    disabled: bool,
    allow_empty: bool,
) -> None:
    """Store a new version of secret NAME.

    The value comes from stdin when it is piped (one trailing newline is dropped, as `echo`
    adds one), from --file exactly, or from a hidden prompt on a terminal.

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
    )
    if props.expires and props.not_before and props.not_before >= props.expires:
        raise UsageError("--not-before must be earlier than --expires")
    fmt = app.output_format(RECORD_FORMATS)
    secret_value = read_value(app, value, file_path, allow_empty)
    with app.output.progress("storing", None):
        secret = set_secret(app.factory, ref, secret_value, props)
    app.output.info(f"stored version {secret.version} of '{secret.name}' in {ref.vault_url}")
    app.output.secret(secret, fmt)
