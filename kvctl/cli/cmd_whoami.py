"""whoami: which identity kvctl signs in as, from the token's claims (never the token)."""

from __future__ import annotations

import datetime as dt

import click

from .context import AppContext, global_options

RECORD_FORMATS = ("table", "json", "tsv", "plain")
pass_app = click.make_pass_decorator(AppContext, ensure=True)


@click.command("whoami")
@global_options(formats=RECORD_FORMATS)
@pass_app
def whoami(app: AppContext) -> None:
    """Show which credential answered, the tenant, object id, app id or user, and token expiry.

    With --vault, the token is one for Key Vault; otherwise one for ARM. The token itself is
    never printed.
    """
    settings = app.settings
    fmt = app.output_format(RECORD_FORMATS)
    cloud = settings.cloud_info
    if settings.vault:
        target, scope = settings.require_vault_url(), cloud.vault_scope
    else:
        from ..core.clouds import arm_endpoint

        target, scope = arm_endpoint(settings.arm_endpoint, cloud), cloud.arm_scope
    with app.output.progress("getting a token", None):
        info = app.clients.token_info(target, scope)
    claims = info["claims"]
    record = {
        "authMode": info["mode"],
        "credential": info["credential"],
        "tenantId": claims.get("tid"),
        "objectId": claims.get("oid"),
        "appId": claims.get("appid") or claims.get("azp"),
        "upn": claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username"),
        "name": claims.get("name"),
        "audience": claims.get("aud"),
        "issuer": claims.get("iss"),
        "expiresOn": dt.datetime.fromtimestamp(info["expires_on"], dt.UTC).isoformat(),
    }
    if fmt == "json":
        app.output.json(record)
    elif fmt == "plain":
        app.output.write(f"{record['objectId']}\n")
    elif fmt == "tsv":
        app.output.write("\t".join("" if v is None else str(v) for v in record.values()) + "\n")
    else:
        app.output.key_values(list(record.items()))
