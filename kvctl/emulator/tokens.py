"""JWT-shaped access tokens that only this emulator issues and accepts.

Tokens are HS256-signed with a key kept in the state directory, so a restarted emulator still
accepts the tokens it issued before, and a token from anywhere else (or a forged one) is refused.
The issuer is a `.localhost` URL: kvctl uses it to tell an emulator token from a real Azure one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

TOKEN_LIFETIME_SECONDS = 3600
ISSUER_HOST = "sts.emulator.localhost"

VAULT_AUDIENCES = frozenset({"https://vault.azure.net", "https://vault.azure.net/"})
ARM_AUDIENCES = frozenset(
    {
        "https://management.azure.com",
        "https://management.azure.com/",
        "https://management.core.windows.net",
        "https://management.core.windows.net/",
    }
)
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
# The audience of tokens for the emulator's own control API (`/_emulator/`): no Azure service has it.
EMULATOR_AUDIENCE = "https://emulator.localhost"
EMULATOR_AUDIENCES = frozenset({EMULATOR_AUDIENCE, EMULATOR_AUDIENCE + "/"})
# What a service says when continuous access evaluation refuses a token (Microsoft Graph's wording).
CAE_MESSAGE = (
    "Continuous access evaluation resulted in challenge with result: InteractionRequired "
    "and code: TokenIssuedBeforeRevocationTimestamp"
)
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,8192}\.[A-Za-z0-9_-]{1,65536}\.[A-Za-z0-9_-]{1,1024}\Z")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issuer_for(tenant_id: str) -> str:
    return f"https://{ISSUER_HOST}/{tenant_id}/"


@dataclass(frozen=True)
class Identity:
    name: str
    client_id: str
    object_id: str
    created: float


class TokenError(Exception):
    """The bearer token is missing, malformed, forged, expired or for another audience."""


class TokenAuthority:
    def __init__(self, signing_key: bytes, tenant_id: str) -> None:
        self._key = signing_key
        self.tenant_id = tenant_id
        # Revocation (POST /_emulator/revoke), for tests of a client's answer to a refused token:
        # tokens this run issued, by Entra ID's token id (uti) and expiry; those revoked; how many
        # of the next tokens are born revoked; and whether Key Vault answers a revoked token with
        # a CAE claims challenge (as it does for a CAE-capable client) or a plain 401.
        self._lock = threading.Lock()
        self._issued: dict[str, int] = {}
        self._revoked: dict[str, int] = {}
        self._revoke_next = 0
        self.claims_challenge = False
        self.revoked_at = 0

    def revoke(self, claims_challenge: bool = False, also_next: int = 0) -> int:
        """Revoke every token issued so far (but the control API's own and federation assertions)
        and the next `also_next` ones. Returns how many were revoked now."""
        now = int(time.time())
        with self._lock:
            live = {uti: exp for uti, exp in self._issued.items() if exp >= now}
            self._revoked = {uti: exp for uti, exp in self._revoked.items() if exp >= now} | live
            self._issued = {}
            self._revoke_next = also_next
            self.claims_challenge = claims_challenge
            self.revoked_at = now
            return len(live)

    def claims_challenge_header(self) -> str:
        """Continuous access evaluation: a revoked token is refused with the claims the client must
        ask Entra ID for (a token issued after the revocation), base64url-encoded."""
        wanted = {"access_token": {"nbf": {"essential": True, "value": str(self.revoked_at)}}}
        claims = _b64url(json.dumps(wanted, separators=(",", ":")).encode())
        return (
            f'Bearer realm="", authorization_uri="https://login.windows.net/{self.tenant_id}", '
            f'error="insufficient_claims", claims="{claims}"'
        )

    def is_revoked(self, claims: dict[str, Any]) -> bool:
        with self._lock:
            return str(claims.get("uti", "")) in self._revoked

    def issue(self, identity: Identity, audience: str, lifetime: int = TOKEN_LIFETIME_SECONDS) -> tuple[str, int]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer_for(self.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "oid": identity.object_id,
            "sub": identity.object_id,
            "tid": self.tenant_id,
            "appid": identity.client_id,
            "azp": identity.client_id,
            "idtyp": "app",
            "name": identity.name,
            # Entra ID's unique token id: two tokens issued in one second still differ, as in Azure.
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        if audience not in EMULATOR_AUDIENCES and audience != FEDERATION_AUDIENCE:
            with self._lock:
                if self._revoke_next > 0:
                    self._revoke_next -= 1
                    self._revoked[claims["uti"]] = claims["exp"]
                else:
                    self._issued[claims["uti"]] = claims["exp"]
        return self._sign(claims), claims["exp"]

    def _sign(self, claims: dict[str, Any]) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def verify(self, token: str, audiences: frozenset[str] | None) -> dict[str, Any]:
        """Return the claims of a token this emulator issued for one of `audiences` (None: any)."""
        # Anything that is not three base64url segments is refused before it is decoded: a header
        # value may carry any character the HTTP parser let through (non-ASCII included).
        if not _TOKEN_SHAPE.match(token):
            raise TokenError("malformed")
        parts = token.split(".")
        try:
            signature = _b64url_decode(parts[2])
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise TokenError("malformed") from exc
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict):
            raise TokenError("signature")
        audience = claims.get("aud")
        if audiences is not None and (not isinstance(audience, str) or audience not in audiences):
            raise TokenError("audience")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            raise TokenError("expired")
        if self.is_revoked(claims):
            raise TokenError("revoked")
        return claims
