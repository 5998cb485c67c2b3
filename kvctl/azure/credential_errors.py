"""A credential that could not get a token, told in one line of kvctl's own with a hint that fits
the actual cause.

azure-identity's messages are written for its own logs: "configuration not found in environment"
when the configuration is there and the endpoint refused the client id, three variants of one
failure, `az login` suggested when `az` is not even installed. kvctl looks at the mode, the
environment and the failure, and says what happened and what would fix it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping

from ..core.errors import AuthenticationError
from ..core.redaction import redact

_IMDS = "http://169.254.169.254"
_INSTALL_CLI = "install the Azure CLI (https://aka.ms/installazurecli) and run `az login`"
_OTHER_AUTH = "--auth managed-identity, workload-identity, environment or device-code"
# How the managed identity endpoints and azure-identity say "no such identity here".
_REFUSED = re.compile(
    r"\b400\b|No Managed Identity found|Identity not found|identity has been assigned|not been assigned",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(r"no response|unreachable|refused|timed out|failed to establish|unavailable", re.IGNORECASE)
_MI_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET")
_TRACE = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*", re.IGNORECASE | re.DOTALL)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = _TRACE.sub("", lines[0]) if lines else "no details"
    return line[:240]


def managed_identity_source(environ: Mapping[str, str]) -> tuple[str, str]:
    """Which managed identity endpoint azure-identity uses here (the same order it checks), and its URL."""
    endpoint = environ.get("IDENTITY_ENDPOINT")
    if endpoint and environ.get("IDENTITY_HEADER"):
        return "App Service", endpoint
    if endpoint and environ.get("IMDS_ENDPOINT"):
        return "Azure Arc", endpoint
    if environ.get("MSI_ENDPOINT"):
        return "Cloud Shell", environ["MSI_ENDPOINT"]
    return "IMDS", (environ.get("AZURE_POD_IDENTITY_AUTHORITY_HOST") or _IMDS).rstrip("/")


def explain(
    error: BaseException,
    mode: str,
    client_id: str | None,
    environ: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
) -> AuthenticationError:
    """kvctl's one-line account of `error`, raised by the credential of `--auth mode`."""
    from .errors import summarize_credential_failure

    text = redact(str(getattr(error, "message", None) or error))
    has_cli = which("az") is not None
    if mode == "azure-cli":
        if not has_cli or "not found on path" in text.lower():
            return AuthenticationError(
                "--auth azure-cli: the Azure CLI (`az`) is not installed or not on PATH",
                hint=f"{_INSTALL_CLI}, or choose another credential: {_OTHER_AUTH}",
            )
        if "az login" in text:
            return AuthenticationError(
                "--auth azure-cli: the Azure CLI is not signed in",
                hint="run `az login` (and `az account set --subscription ...` for another subscription)",
            )
        return AuthenticationError(
            f"--auth azure-cli: the Azure CLI gave no token: {_first_line(text)}",
            hint="check `az account get-access-token --resource https://vault.azure.net`",
        )
    if mode == "managed-identity":
        return _managed_identity(text, client_id, environ, has_cli)
    if mode == "default":
        refused = client_id and _REFUSED.search(text) and "ManagedIdentityCredential" in text
        if refused:
            kind, url = managed_identity_source(environ)
            hint = f"the {kind} identity endpoint ({url}) knows no identity with client id {client_id}: check it"
        elif has_cli:
            hint = f"sign in with `az login`, or choose a credential: {_OTHER_AUTH}"
        else:
            hint = f"the Azure CLI is not installed: {_INSTALL_CLI}, or choose a credential: {_OTHER_AUTH}"
        return AuthenticationError(summarize_credential_failure(text), hint=hint)
    hints = {
        "workload-identity": "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE "
        "(and the federated credential on the app registration)",
        "environment": "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET "
        "(or AZURE_CLIENT_CERTIFICATE_PATH)",
        "device-code": "finish the sign-in in the browser before the code expires, or choose another --auth",
    }
    return AuthenticationError(f"--auth {mode}: {_first_line(text)}", hint=hints.get(mode))


def _managed_identity(
    text: str, client_id: str | None, environ: Mapping[str, str], has_cli: bool
) -> AuthenticationError:
    # azure-identity skips an empty variable but MSAL, which it hands the request to, sees it as
    # set: an empty IDENTITY_ENDPOINT sends the request nowhere, whatever the error then says.
    empty = [name for name in _MI_VARIABLES if name in environ and not environ[name].strip()]
    if empty:
        return AuthenticationError(
            f"managed identity: {', '.join(empty)} {'is' if len(empty) == 1 else 'are'} set but empty",
            hint=f"unset {' '.join(empty)} (or give {'it' if len(empty) == 1 else 'them'} a value)",
        )
    kind, url = managed_identity_source(environ)
    elsewhere = (
        "--auth azure-cli, workload-identity or environment" if has_cli else "--auth workload-identity or environment"
    )
    # azure-identity may say "no response from the IMDS endpoint" and then quote the endpoint's
    # answer ("Token request error: ... Identity not found"): the answer is what happened.
    answer = text.split("Token request error:", 1)[1] if "Token request error:" in text else None
    if _REFUSED.search(text):
        if client_id:
            return AuthenticationError(
                f"the managed identity endpoint ({kind}, {url}) refused client id {client_id}: "
                "no identity with that client id is assigned here",
                hint="check --client-id (or AZURE_CLIENT_ID) against the user-assigned identities of this resource "
                "(az identity show --query clientId), or leave it out for the system-assigned identity",
            )
        return AuthenticationError(
            f"the managed identity endpoint ({kind}, {url}) refused a token: no system-assigned identity here",
            hint="enable the system-assigned identity of this resource, or pass --client-id for a user-assigned one",
        )
    if answer is None and _UNREACHABLE.search(text):
        return AuthenticationError(
            f"no managed identity endpoint answered ({kind}, {url})",
            hint=f"managed identity works only on Azure compute with an identity assigned; elsewhere use {elsewhere}",
        )
    return AuthenticationError(
        f"the managed identity endpoint ({kind}, {url}) gave no token: {_first_line(answer or text)}",
        hint="check the identity assigned to this resource, or pass --client-id for a user-assigned one",
    )
