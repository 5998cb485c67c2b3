"""Token endpoints: App Service managed identity, IMDS, and the Entra token endpoint that
workload identity federation uses (KEYVAULT-WIRE.md §4).

Each issues JWT-shaped tokens for one of the emulator's identities; the admin identity answers
when the caller names none (a system-assigned identity).
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from .http import ApiError, Request, Response, parse_query
from .tokens import FEDERATION_AUDIENCE, Identity, TokenError
from .world import World

APP_SERVICE_PATH = "/msi/token"
IMDS_PATH = "/metadata/identity/oauth2/token"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def host_is_loopback(host: str | None) -> bool:
    """True for `127.0.0.1[:port]`, `localhost[:port]` and `[::1][:port]` (what a local client sends)."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    else:
        name, _, port = host.partition(":")
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5):
        return False
    return name in ("127.0.0.1", "localhost", "::1")


def _resource_of(value: str) -> str:
    return value[: -len("/.default")] if value.endswith("/.default") else value


class IdentityService:
    """Served over plain HTTP on loopback, like the real App Service and IMDS endpoints."""

    def __init__(self, world: World, identity_header: str) -> None:
        self.world = world
        self.identity_header = identity_header

    def handle(self, request: Request) -> Response:
        if not host_is_loopback(request.header("host")):
            # A web page could otherwise reach this plain-HTTP port through DNS rebinding and
            # read tokens: the real endpoints are only reachable from the machine itself too.
            return Response(
                403, {"error": "invalid_request", "error_description": "The Host header must name a loopback address."}
            )
        # msal-node asks IMDS for `/metadata/identity/oauth2/token/`; the service answers both.
        path = request.path.rstrip("/") or "/"
        if path == APP_SERVICE_PATH and request.method == "GET":
            self.world.knobs.before_token()
            return self._app_service(request)
        if path == IMDS_PATH and request.method == "GET":
            self.world.knobs.before_token()
            return self._imds(request)
        return Response(404, {"error": "not_found", "error_description": f"No endpoint at {request.path}."})

    def _select(self, query: dict[str, str]) -> Identity | None:
        client_id = query.get("client_id")
        object_id = query.get("object_id") or query.get("principal_id")
        resource_id = query.get("mi_res_id") or query.get("msi_res_id")
        if client_id:
            return self.world.find_identity(client_id=client_id)
        if object_id:
            return self.world.find_identity(object_id=object_id)
        if resource_id:
            return self.world.find_identity(name=resource_id.rstrip("/").rsplit("/", 1)[-1])
        return self.world.admin()

    def _app_service(self, request: Request) -> Response:
        given = request.header("x-identity-header") or ""
        if not hmac.compare_digest(given, self.identity_header):
            return Response(401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER is missing or invalid."})
        resource = request.query.get("resource")
        if not resource:
            return Response(400, {"statusCode": 400, "message": "The resource parameter is required."})
        identity = self._select(request.query)
        if identity is None:
            return Response(
                400,
                {
                    "statusCode": 400,
                    "message": "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
                },
            )
        token, expires_on = self.world.tokens.issue(identity, _resource_of(resource))
        return Response(
            200,
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            },
        )

    def _imds(self, request: Request) -> Response:
        if (request.header("metadata") or "").lower() != "true":
            return Response(
                400, {"error": "invalid_request", "error_description": "Required metadata header not specified"}
            )
        resource = request.query.get("resource")
        if not resource:
            return Response(400, {"error": "invalid_request", "error_description": "Required resource not specified"})
        identity = self._select(request.query)
        if identity is None:
            return Response(400, {"error": "invalid_request", "error_description": "Identity not found"})
        token, expires_on = self.world.tokens.issue(identity, _resource_of(resource))
        now = int(time.time())
        return Response(
            200,
            {
                "access_token": token,
                "client_id": identity.client_id,
                "expires_in": str(expires_on - now),
                "expires_on": str(expires_on),
                "ext_expires_in": str(expires_on - now),
                "not_before": str(now),
                "resource": resource,
                "token_type": "Bearer",
            },
        )


def federated_token(world: World, identity: Identity) -> str:
    """What a CI system's OIDC provider would hand a job: an assertion for `identity`."""
    token, _ = world.tokens.issue(identity, FEDERATION_AUDIENCE, lifetime=30 * 86400)
    return token


def entra_token(world: World, request: Request, tenant: str) -> Response:
    """`POST /{tenant}/oauth2/v2.0/token` with a client assertion (workload identity federation)."""
    world.knobs.before_token()
    form = _form(request)

    def fail(status: int, error: str, description: str) -> Response:
        return Response(status, {"error": error, "error_description": description, "error_codes": [], "timestamp": ""})

    if tenant.lower() not in (world.site.tenant_id, "organizations", "common"):
        return fail(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
    if form.get("grant_type") != "client_credentials":
        return fail(400, "unsupported_grant_type", "AADSTS70003: Only client_credentials is supported here.")
    identity = world.find_identity(client_id=form.get("client_id", ""))
    if identity is None:
        return fail(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
    if form.get("client_assertion_type") != _ASSERTION_TYPE or not form.get("client_assertion"):
        return fail(401, "invalid_client", "AADSTS7000216: client_assertion is required.")
    try:
        claims = world.tokens.verify(form["client_assertion"], frozenset({FEDERATION_AUDIENCE}))
    except TokenError:
        return fail(401, "invalid_client", "AADSTS700211: No matching federated identity record found.")
    if claims.get("appid") != identity.client_id:
        return fail(401, "invalid_client", "AADSTS700213: The assertion was issued for another identity.")
    scope = form.get("scope", "").split(" ")[0]
    token, expires_on = world.tokens.issue(identity, _resource_of(scope))
    return Response(
        200,
        {
            "token_type": "Bearer",
            "expires_in": expires_on - int(time.time()),
            "ext_expires_in": expires_on - int(time.time()),
            "access_token": token,
        },
    )


def _form(request: Request) -> dict[str, str]:
    try:
        return parse_query(request.body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_request", "The request body is not form-encoded text.") from exc


def openid_configuration(world: World, base_url: str, tenant: str) -> dict[str, Any]:
    root = f"{base_url}/{tenant}"
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "issuer": f"{root}/v2.0",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "tenant_region_scope": "WW",
    }
