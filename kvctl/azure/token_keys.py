"""Who a credential would sign in as, found cheaply and without asking it: the part of a token
cache key that keeps one identity's token from being handed to another.

Each answer is read from the environment or a small file (the Azure CLI's profile), never from a
token endpoint, so a cache hit costs no process and no request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

# Variables that decide which identity azure-identity's credentials use (never a secret's value:
# AZURE_CLIENT_SECRET and AZURE_PASSWORD are not part of a key, only which account they belong to).
_ENVIRONMENT = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_USERNAME",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_AUTHORITY_HOST",
)
_WORKLOAD = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")
_MANAGED = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IMDS_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST")


def azure_cli_account(environ: Mapping[str, str] = os.environ) -> str:
    """The Azure CLI's signed-in account as its profile names it: config dir, user, tenant and
    default subscription. `az login` as someone else or `az account set` changes it."""
    config = environ.get("AZURE_CONFIG_DIR") or str(Path.home() / ".azure")
    try:
        # The CLI writes this file with a byte-order mark.
        profile = json.loads((Path(config) / "azureProfile.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return f"{config}|no-profile"
    subscriptions = profile.get("subscriptions") if isinstance(profile, dict) else None
    for sub in subscriptions if isinstance(subscriptions, list) else []:
        if isinstance(sub, dict) and sub.get("isDefault"):
            raw = sub.get("user")
            user: dict[str, object] = raw if isinstance(raw, dict) else {}
            return "|".join(
                [
                    config,
                    str(user.get("type", "")),
                    str(user.get("name", "")),
                    str(sub.get("tenantId", "")),
                    str(sub.get("id", "")),
                ]
            )
    return f"{config}|no-default-account"


def _env(names: tuple[str, ...], environ: Mapping[str, str]) -> str:
    return "|".join(f"{name}={environ.get(name, '')}" for name in names)


def identity_of(mode: str, client_id: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """What distinguishes the identity `mode` signs in as, on this machine, now."""
    if mode == "emulator":
        # The emulator that issued it (its identity endpoint) and which of its identities.
        return f"{environ.get('IDENTITY_ENDPOINT', '')}|{client_id or 'admin'}"
    if mode == "azure-cli":
        return azure_cli_account(environ)
    if mode == "managed-identity":
        return f"{client_id or 'system-assigned'}|{_env(_MANAGED, environ)}"
    if mode == "workload-identity":
        return f"{client_id or ''}|{_env(_WORKLOAD, environ)}"
    if mode == "environment":
        return _env(_ENVIRONMENT, environ)
    if mode == "device-code":
        # The account is whoever signs in at the prompt: the app and tenant are all that is known.
        return f"{client_id or 'azure-cli-app'}"
    # default: any link of the chain may answer, so every signal it reads is part of the key.
    return "|".join(
        [
            client_id or "",
            _env(_ENVIRONMENT, environ),
            _env(_WORKLOAD, environ),
            _env(_MANAGED, environ),
            azure_cli_account(environ),
        ]
    )
