"""`/_emulator/…` on the ARM port: switches for tests, reachable with the admin identity's token
for the emulator's own audience (`https://emulator.localhost`), so that no token a client obtained
for Azure (ARM, Key Vault, Graph) can flip a switch.

- `GET  /_emulator/state`            every vault's secrets and versions (with values), knob counters,
                                     the number of AuditEvent rows recorded
- `PUT  /_emulator/knobs`            change latencyMs, faultRate, dropResponseRate, throttle,
                                     lifecycleDelay, tokenLatencyMs, rbacPropagationDelay at run time;
                                     graphDenied: object ids whose tokens Graph refuses (403);
                                     logQueryRowLimit: rows a Log Analytics query answers at most
- `PATCH /_emulator/vaults/{name}`   set vault properties directly, even ones ARM refuses to change
- `POST /_emulator/identities`       `{"name": N}`: a new identity (subject to the replication delay)
- `POST /_emulator/revoke`           revoke every Key Vault, ARM, Graph and Log Analytics token issued
                                     so far (not the control API's own); `{"claimsChallenge": true}`:
                                     Key Vault answers a revoked token with a CAE claims challenge
                                     (error="insufficient_claims") instead of a plain 401;
                                     `{"alsoNext": N}`: the next N such tokens are born revoked
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .http import ApiError, Request, Response
from .knobs import KnobSettings
from .store import VaultRecord
from .tokens import EMULATOR_AUDIENCES, TokenError
from .world import World, utc_iso

PREFIX = "/_emulator/"
_KNOB_NAMES = {
    "latencyMs": "latency_ms",
    "faultRate": "fault_rate",
    "dropResponseRate": "drop_response_rate",
    "throttle": "throttle",
    "lifecycleDelay": "lifecycle_delay",
    "tokenLatencyMs": "token_latency_ms",
    "rbacPropagationDelay": "rbac_propagation_delay",
    "graphDenied": "graph_denied",
    "logQueryRowLimit": "log_query_row_limit",
}


def _knobs_json(settings: KnobSettings) -> dict[str, Any]:
    raw = asdict(settings)
    raw["graph_denied"] = list(raw["graph_denied"])
    return {public: raw[private] for public, private in _KNOB_NAMES.items()}


class ControlService:
    def __init__(self, world: World) -> None:
        self.world = world

    def _require_admin(self, request: Request) -> None:
        token = request.bearer_token()
        if token is None:
            raise ApiError(401, "AuthenticationFailed", "The admin identity's bearer token is required.")
        try:
            claims = self.world.tokens.verify(token, EMULATOR_AUDIENCES)
        except TokenError as exc:
            raise ApiError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid (the control API takes the admin identity's token for "
                "https://emulator.localhost).",
            ) from exc
        if claims.get("oid") != self.world.admin().object_id:
            raise ApiError(403, "AuthorizationFailed", "Only the admin identity may use /_emulator/.")

    def handle(self, request: Request) -> Response:
        self._require_admin(request)
        path = request.path[len(PREFIX) :].strip("/")
        if path == "state" and request.method == "GET":
            return Response(200, self._state())
        if path == "knobs" and request.method == "PUT":
            body = request.json()
            if not isinstance(body, dict):
                raise ApiError(400, "BadParameter", "Expected a JSON object of knobs.")
            unknown = set(body) - set(_KNOB_NAMES)
            if unknown:
                raise ApiError(400, "BadParameter", f"Unknown knob(s): {', '.join(sorted(unknown))}.")
            try:
                settings = self.world.knobs.update({_KNOB_NAMES[k]: v for k, v in body.items()})
            except (TypeError, ValueError) as exc:
                raise ApiError(400, "BadParameter", str(exc)) from exc
            return Response(200, _knobs_json(settings))
        if path.startswith("vaults/") and request.method == "PATCH":
            return self._patch_vault(path.split("/", 1)[1], request)
        if path == "identities" and request.method == "POST":
            body = request.json()
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                raise ApiError(400, "BadParameter", 'Expected {"name": "..."}.')
            identity = self.world.ensure_identity(name)
            return Response(
                200, {"name": identity.name, "clientId": identity.client_id, "objectId": identity.object_id}
            )
        if path == "revoke" and request.method == "POST":
            return Response(200, self._revoke(request))
        raise ApiError(404, "NotFound", f"No emulator control endpoint at {request.path}.")

    def _revoke(self, request: Request) -> dict[str, Any]:
        body = request.json() if request.body else {}
        if not isinstance(body, dict) or set(body) - {"claimsChallenge", "alsoNext"}:
            raise ApiError(400, "BadParameter", 'Expected {"claimsChallenge": true|false, "alsoNext": N}.')
        challenge, also_next = body.get("claimsChallenge", False), body.get("alsoNext", 0)
        if not isinstance(challenge, bool):
            raise ApiError(400, "BadParameter", "claimsChallenge must be true or false.")
        if isinstance(also_next, bool) or not isinstance(also_next, int) or not 0 <= also_next <= 1000:
            raise ApiError(400, "BadParameter", "alsoNext must be a whole number from 0 to 1000.")
        revoked = self.world.tokens.revoke(challenge, also_next)
        return {"revoked": revoked, "claimsChallenge": challenge, "alsoNext": also_next}

    def _state(self) -> dict[str, Any]:
        store = self.world.store
        return {
            "vaults": {v.name: store.dump_secrets(v.name) for v in store.list_vaults()},
            "knobs": _knobs_json(self.world.knobs.settings),
            "counters": dict(self.world.knobs.counters),
            "auditEvents": store.audit_event_count(),  # AuditEvent rows recorded, routed anywhere or not
        }

    def _patch_vault(self, name: str, request: Request) -> Response:
        record = self.world.store.get_vault(name)
        if record is None:
            raise ApiError(404, "ResourceNotFound", f"No emulated vault named {name}.")
        body = request.json()
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise ApiError(400, "BadParameter", 'Expected {"properties": {...}}.')
        merged = {**record.properties, **properties}
        updated = VaultRecord(record.name, record.location, record.tags, merged, record.created, utc_iso())
        self.world.store.put_vault(updated)
        return Response(200, {"name": updated.name, "properties": merged})
