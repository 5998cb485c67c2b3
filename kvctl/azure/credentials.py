"""Credentials: which one each `--auth` mode means, the emulator's own light credential, and the
guard that keeps real Azure tokens away from hosts that are not Azure's."""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
import time
import urllib.parse
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from ..core import validate
from ..core.clouds import (
    Cloud,
    host_of,
    is_azure_arm_host,
    is_azure_graph_host,
    is_azure_log_analytics_host,
    is_azure_vault_host,
    is_loopback,
    parse_netloc,
)
from ..core.errors import AuthenticationError, UsageError
from ..core.settings import Settings
from .credential_errors import explain
from .token_keys import identity_of

_EMULATOR_HINT = "start `kvctl emulator` and `source STATE_DIR/emulator.env` (or pass --auth for a real credential)"


def _resource(scope: str) -> str:
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: for display and for telling emulator tokens apart."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


# The issuer host of the emulator's tokens: a name, never contacted, that tells them apart.
EMULATOR_ISSUER_HOST = "sts.emulator.localhost"


def is_emulator_token(token: str) -> bool:
    issuer = str(token_claims(token).get("iss", ""))
    parsed = parse_netloc(urllib.parse.urlsplit(issuer).netloc)
    return parsed is not None and (parsed.host == EMULATOR_ISSUER_HOST or is_loopback(parsed.host))


@functools.cache
def _direct_opener() -> Any:
    """The emulator's identity endpoint is on loopback: straight there, never through HTTP_PROXY
    (which would see the identity header and the token in clear), never where a redirect points.
    Built on first use: a command whose token is cached never loads urllib.request."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # a redirect is an error: the identity header goes to the endpoint alone

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())


class EmulatorCredential:
    """Gets tokens from the emulator's App Service-style endpoint (IDENTITY_ENDPOINT/HEADER).

    Plain urllib, no MSAL: the emulator is local and the import of azure.identity alone costs
    more than the whole token request.
    """

    def __init__(self, endpoint: str | None, header: str | None, client_id: str | None, timeout: float) -> None:
        if not endpoint or not header:
            raise AuthenticationError(
                "the emulator credential needs IDENTITY_ENDPOINT and IDENTITY_HEADER", hint=_EMULATOR_HINT
            )
        if not is_loopback(host_of(urllib.parse.urlsplit(endpoint).netloc)):
            raise AuthenticationError(
                f"IDENTITY_ENDPOINT {endpoint} is not a local emulator", hint="use --auth managed-identity for Azure"
            )
        self._endpoint = endpoint
        self._header = header
        self._client_id = client_id
        self._timeout = timeout
        self._cache: dict[str, AccessToken] = {}
        self._lock = threading.Lock()
        self.name = "EmulatorCredential"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        resource = _resource(scopes[0]) if scopes else "https://vault.azure.net"
        with self._lock:
            cached = self._cache.get(resource)
            if cached and cached.expires_on - 300 > time.time() and not kwargs.get("claims"):  # CAE: a new one
                return cached
        query: dict[str, str] = {"api-version": "2019-08-01", "resource": resource}
        if self._client_id:
            key = "client_id" if validate.GUID.match(self._client_id) else "mi_res_id"
            query[key] = self._client_id
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the endpoint was checked to be a loopback URL
            f"{self._endpoint}?{urllib.parse.urlencode(query)}",
            headers={"X-IDENTITY-HEADER": self._header, "Metadata": "true"},
        )
        try:
            with _direct_opener().open(request, timeout=self._timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = _error_text(exc)
            raise AuthenticationError(
                f"the emulator refused a token for {self._client_id or 'the admin identity'}: {detail}",
                hint="check --client-id against `identities` in emulator.json",
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AuthenticationError(
                f"could not get a token from the emulator at {self._endpoint}: {reason}", hint=_EMULATOR_HINT
            ) from None
        token = AccessToken(str(body["access_token"]), int(body["expires_on"]))
        with self._lock:
            self._cache[resource] = token
        return token

    def close(self) -> None:
        pass


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return str(body.get("message") or body.get("error_description") or exc.reason)
    except (ValueError, OSError):
        return str(exc.reason)


class GuardedCredential:
    """Hands out tokens for one target host, refusing to give a real Azure token to a host outside
    the cloud's Key Vault, ARM, Microsoft Graph and Log Analytics hosts (the emulator's own tokens may
    go to loopback)."""

    def __init__(
        self, inner: Any, target_host: str, cloud: Cloud, mode: str = "", client_id: str | None = None
    ) -> None:
        self.inner = inner
        self.target_host = target_host.lower()
        self.cloud = cloud
        self.mode = mode
        self.client_id = client_id

    @property
    def name(self) -> str:
        return str(getattr(self.inner, "name", type(self.inner).__name__))

    def cached(self, scope: str, tenant_id: str | None = None) -> bool:
        """Is a token for `scope` cached (see challenges.seed)? The guard judges it when it is used."""
        cached = getattr(self.inner, "cached", None)
        return bool(cached and cached(scope, tenant_id))

    def _azure_target(self) -> bool:
        return (
            is_azure_vault_host(self.target_host, self.cloud)
            or is_azure_arm_host(self.target_host, self.cloud)
            or is_azure_graph_host(self.target_host, self.cloud)
            or is_azure_log_analytics_host(self.target_host, self.cloud)
        )

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        try:
            token = self.inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as exc:
            # One line of kvctl's own, with a hint for the actual cause, instead of azure-identity's text.
            raise explain(exc, self.mode, self.client_id, os.environ) from exc
        emulator_token = is_emulator_token(token.token)
        if emulator_token and not is_loopback(self.target_host):
            raise UsageError(
                f"refusing to send the emulator's token to {self.target_host}, which is not the emulator",
                hint="the emulator's tokens are only for loopback addresses; pass --auth for a real credential",
            )
        if not self._azure_target() and not emulator_token:
            raise UsageError(
                f"refusing to send an Azure token to {self.target_host}, which is not an Azure host",
                hint="real credentials only talk to Azure; use --auth emulator (or auto) for the local emulator",
            )
        return token

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close:
            close()


def _azure_identity_credential(settings: Settings) -> Any:
    mode = settings.auth
    verify: dict[str, Any] = {"connection_verify": settings.ca_bundle} if settings.ca_bundle else {}
    client_id = settings.client_id
    import azure.identity as identity  # deferred: costs ~0.3 s and is not needed for the emulator

    if mode == "managed-identity":
        if client_id:
            validate.guid(client_id, "client id")
        return identity.ManagedIdentityCredential(client_id=client_id, **verify)
    if mode == "workload-identity":
        return identity.WorkloadIdentityCredential(tenant_id=settings.tenant, client_id=client_id, **verify)
    if mode == "azure-cli":
        return identity.AzureCliCredential(tenant_id=settings.tenant or "")
    if mode == "environment":
        return identity.EnvironmentCredential(**verify)
    if mode == "device-code":
        return identity.DeviceCodeCredential(
            client_id=client_id or "04b07795-8ddb-461a-bbee-02f9e1bf7b46", tenant_id=settings.tenant, **verify
        )
    from .chain import fast_default  # only credentials with a signal here, the last winner first

    return fast_default(identity, settings, verify)


def resolve_mode(settings: Settings, target_host: str) -> str:
    if settings.auth != "auto":
        return settings.auth
    return "emulator" if is_loopback(target_host) else "default"


def build_credential(settings: Settings, target_url: str, shared: dict[str, Any] | None = None) -> GuardedCredential:
    """The credential for requests to `target_url` (a vault or the ARM endpoint).

    `shared` holds one token-caching credential per mode for the whole command: every host gets
    its own guard, but all of them share the tokens (and the single request for a missing one)."""
    host = host_of(urllib.parse.urlsplit(target_url).netloc)
    mode = resolve_mode(settings, host)
    shared = {} if shared is None else shared
    inner = shared.get(mode)
    if inner is None:
        inner = shared[mode] = _caching_credential(settings, mode)
    return GuardedCredential(inner, host, settings.cloud_info, mode, settings.client_id)


def _caching_credential(settings: Settings, mode: str) -> Any:
    """The credential of `mode`, behind the token cache (in this process only when it is off): the
    real credential, and azure.identity with it, is built only when no cached token serves."""
    if mode == "managed-identity" and settings.client_id:
        validate.guid(settings.client_id, "client id")  # before any request, cached token or not

    def build() -> Any:
        if mode == "emulator":
            return EmulatorCredential(
                os.environ.get("IDENTITY_ENDPOINT"),
                os.environ.get("IDENTITY_HEADER"),
                settings.client_id,
                timeout=min(settings.timeout, 10.0),
            )
        try:
            return _azure_identity_credential(settings)
        except ValueError as exc:
            raise AuthenticationError(f"--auth {mode}: {exc}", hint=_MODE_HINTS.get(mode)) from None

    from . import token_cache
    from .caching_credential import CachingCredential

    store = token_cache.default_store() or token_cache.MemoryStore()
    make = build
    if mode == "emulator":
        emulator = build()  # checks IDENTITY_ENDPOINT/HEADER now, as without the cache (it is cheap)
        make = lambda: emulator  # noqa: E731
    identity = identity_of(mode, settings.client_id)

    def key_parts(scope: str, tenant: str | None) -> tuple[str, ...]:
        return cache_key_parts(settings.cloud, tenant or settings.tenant, mode, identity, scope)

    def key_labels(tenant: str | None) -> tuple[str, ...]:
        return token_cache.labels(settings.cloud, tenant or settings.tenant, mode, settings.client_id)

    return CachingCredential(make, key_parts, store, _CREDENTIAL_NAMES.get(mode, mode), key_labels)


def cache_key_parts(cloud: str, tenant: str | None, mode: str, identity: str, scope: str) -> tuple[str, ...]:
    """What tells cached tokens apart: a token is found again only for the same cloud, tenant,
    credential kind, identity (for the emulator: its identity endpoint) and scope."""
    return ("v1", cloud, (tenant or "").lower(), mode, identity, scope.lower())


_CREDENTIAL_NAMES = {
    "emulator": "EmulatorCredential",
    "azure-cli": "AzureCliCredential",
    "managed-identity": "ManagedIdentityCredential",
    "workload-identity": "WorkloadIdentityCredential",
    "environment": "EnvironmentCredential",
    "device-code": "DeviceCodeCredential",
    "default": "DefaultAzureCredential",
}


_MODE_HINTS = {
    "workload-identity": "set AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE (and AZURE_AUTHORITY_HOST)",
    "environment": "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
    "managed-identity": "run where a managed identity is assigned, or pass --client-id for a user-assigned one",
}
