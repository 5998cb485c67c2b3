"""Key Vault's authentication challenge, remembered per vault beside the cached tokens.

A Key Vault client learns the tenant and scope to ask a token for from a 401 challenge: the SDK
sends each process's first request without a token, reads the challenge, and sends the request
again. With the token already cached, that first exchange is a whole round trip (and, in a bulk
fetch, one per thread that starts before the first answer) spent learning what the last process
already knew. kvctl keeps the challenge header of each vault (it is not a secret: the vault's
tenant and resource) in `challenges.json` beside the token file, with the same protections (0600
in the 0700 directory, never through a symbolic link, discarded when found otherwise), and hands
it to the SDK's challenge cache when it builds the vault's client, so a cached-token `get` is one
request. It is kept only while the token cache is on.

It is used only when it cannot mislead:
- the header parses as the SDK parses it, and for a real vault its scope is the cloud's Key Vault
  scope and passes the SDK's own resource check;
- the token that challenge leads to is in the cache right now: no credential is ever asked for a
  token because of a remembered challenge. If the vault has since moved to another tenant, the
  service answers the cached token with a 401 and a new challenge, and the SDK follows it exactly
  as without this (the new header is then remembered).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .pipeline import origin_of
from .token_cache import CHALLENGES_NAME, TokenStore, cache_dir, enabled, entry_key

# How long a remembered challenge is kept without being confirmed again (a vault's tenant and
# scope rarely change; a wrong one costs one extra round trip, never a wrong token).
KEEP_SECONDS = 30 * 24 * 3600


class ChallengeStore(TokenStore):
    """The token file's reading, locking and writing, for a file of challenge headers (a file
    found tampered discards the tokens too: see TokenStore._discard)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.path = directory / CHALLENGES_NAME


_STORE: ChallengeStore | None = None


def challenge_store() -> ChallengeStore | None:
    """The process's store of challenges, or None when the token cache is off."""
    global _STORE
    if not enabled():
        return None
    directory = cache_dir()
    if _STORE is None or _STORE.directory != directory:
        _STORE = ChallengeStore(directory)
    return _STORE


def _key(vault_url: str) -> str:
    return entry_key("challenge", origin_of(vault_url))


def _acceptable(challenge: Any, vault_url: str, vault_scope: str | None) -> str | None:
    """The scope a remembered challenge leads to, if kvctl may use it for `vault_url`."""
    from azure.keyvault.secrets._shared.challenge_auth_policy import _validate_challenge_resource

    scope = challenge.get_scope() or challenge.get_resource() + "/.default"
    if vault_scope is not None:  # a real vault: exactly its cloud's scope, and the SDK's own check
        if scope.rstrip("/") != vault_scope.rstrip("/"):
            return None
        _validate_challenge_resource(scope, vault_url)  # ValueError when the resource is not this vault's
    return scope


def seed(store: TokenStore, credential: Any, vault_url: str, vault_scope: str | None) -> bool:
    """Hand the vault's remembered challenge to the SDK when the token it leads to is cached.

    `vault_scope` is None for the emulator (loopback), whose challenge the SDK does not verify either.
    Any doubt (nothing remembered, a header that does not parse, another scope, no cached token)
    leaves the SDK to ask the service, as it would without this."""
    remembered = store.get(_key(vault_url))
    if remembered is None:
        return False
    try:
        from azure.keyvault.secrets._shared import http_challenge_cache
        from azure.keyvault.secrets._shared.http_challenge import HttpChallenge

        challenge = HttpChallenge(vault_url, remembered[0])
        scope = _acceptable(challenge, vault_url, vault_scope)
        cached = getattr(credential, "cached", None)
        if scope is None or cached is None or not cached(scope, challenge.tenant_id):
            return False
        if http_challenge_cache.get_challenge_for_url(vault_url) is None:
            http_challenge_cache.set_challenge_for_url(vault_url, challenge)
        return True
    except (ImportError, AttributeError, ValueError, TypeError):
        return False


class ChallengeRecorder:
    """Remembers the challenge a vault answered with, once a request that followed it succeeded
    (a challenge that led nowhere is not worth keeping). Called from the client's response hook."""

    def __init__(self, store: TokenStore, vault_url: str) -> None:
        self._store = store
        self._key = _key(vault_url)
        self._pending: str | None = None

    def observe(self, status: int, headers: Any) -> None:
        if status == 401:
            header = headers.get("WWW-Authenticate") or ""
            # A discovery challenge only: a CAE claims challenge or an error is about the token.
            plain = header.startswith("Bearer ") and "claims=" not in header and "error=" not in header
            self._pending = header if plain else None
        elif status < 400 and self._pending is not None:
            header, self._pending = self._pending, None
            remembered = self._store.get(self._key)
            if remembered is None or remembered[0] != header:
                self._store.put(self._key, header, int(time.time()) + KEEP_SECONDS)
