"""logout: forget the access tokens kvctl keeps across invocations (it signs nobody out of Azure)."""

from __future__ import annotations

import click

from .context import AppContext, global_options

pass_app = click.make_pass_decorator(AppContext, ensure=True)

# The options that pick an identity's tokens, in the order the message names them. Only those on
# the command line count: AZURE_CLIENT_ID in a CI environment must not turn a plain `kvctl logout`
# into one that keeps every other identity's tokens.
_FILTERS = (("auth", "--auth"), ("client_id", "--client-id"), ("tenant", "--tenant"), ("cloud", "--cloud"))


@click.command("logout")
@global_options(formats=("plain",))
@pass_app
def logout(app: AppContext) -> None:
    """Clear kvctl's token cache (${XDG_CACHE_HOME:-~/.cache}/kvctl/tokens.json).

    With --client-id, --tenant, --auth or --cloud on the command line, only the tokens cached for
    that identity (all of those given) are removed; without them, every token is.

    The next command asks its credential for a new token. Your Azure CLI, managed identity or
    other sign-in is left as it is.
    """

    from ..azure.token_cache import TokenStore, cache_dir, enabled, labels
    from ..core.errors import UsageError

    enabled()  # a KVCTL_TOKEN_CACHE value kvctl cannot read is refused here too
    given = {name: app.value(name) for name, _flag in _FILTERS if name in app.explicit and app.value(name)}
    if given.get("auth") == "auto":
        del given["auth"]  # auto is every kind: no filter
    store = TokenStore(cache_dir())
    try:
        if not given:
            count = store.clear()
            app.output.info(f"removed {_tokens(count)} from {store.path}")
            return
        wanted = labels(given.get("cloud"), given.get("tenant"), given.get("auth"), given.get("client_id"))
        removed, kept = store.clear_matching(wanted)
    except OSError as exc:
        raise UsageError(f"could not clear the token cache {store.path}: {exc.strerror or exc}") from None
    which = " ".join(f"{flag} {_shown(given[name])}" for name, flag in _FILTERS if name in given)
    if removed:
        app.output.info(f"removed {_tokens(removed)} for {which} from {store.path} ({kept} other{_s(kept)} kept)")
    else:
        app.output.info(f"no cached token matched {which}; {_tokens(kept)} kept in {store.path}")


def _shown(value: str) -> str:
    """A value as typed, or escaped when it holds a control character (never sent to the terminal)."""
    return value if value.isprintable() else repr(value)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _tokens(count: int) -> str:
    return f"{count} cached token{_s(count)}"
