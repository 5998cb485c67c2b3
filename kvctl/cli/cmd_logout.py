"""logout: forget the access tokens kvctl keeps across invocations (it signs nobody out of Azure)."""

from __future__ import annotations

import click

from .context import AppContext, global_options

pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.command("logout")
@global_options(formats=("plain",))
@pass_app
def logout(app: AppContext) -> None:
    """Clear kvctl's token cache (${XDG_CACHE_HOME:-~/.cache}/kvctl/tokens.json).

    The next command asks its credential for a new token. Your Azure CLI, managed identity or
    other sign-in is left as it is.
    """
    from ..azure.token_cache import TokenStore, cache_dir

    store = TokenStore(cache_dir())
    try:
        count = store.clear()
    except OSError as exc:
        from ..core.errors import UsageError

        raise UsageError(f"could not clear the token cache {store.path}: {exc.strerror}") from None
    app.output.info(f"removed {count} cached token{'s' if count != 1 else ''} from {store.path}")
