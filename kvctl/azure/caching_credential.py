"""A credential in front of the token cache: answered from the cache when it holds a usable
token, and built (azure.identity, MSAL, cryptography: ~0.5 s of imports) only when it does not."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .token_cache import EXPIRY_MARGIN, MemoryStore, TokenStore, entry_key

_LOG = logging.getLogger("kvctl")


class CachingCredential:
    """A credential that answers from the token file and builds the real credential (azure.identity,
    MSAL, cryptography: ~0.5 s of imports) only when the file has no usable token.

    One instance serves every vault of a command (they need the same token), and a token missing
    from the cache is asked for once however many threads want it at the same moment: three vaults
    fetched at once through `--auth azure-cli` start one `az` process, not three."""

    def __init__(
        self,
        build: Callable[[], Any],
        key_parts: Callable[[str, str | None], tuple[str, ...]],
        store: TokenStore | MemoryStore,
        name: str,
        key_labels: Callable[[str | None], tuple[str, ...]] = lambda tenant: (),
    ) -> None:
        self._build = build
        self._key_parts = key_parts
        self._key_labels = key_labels
        self._store = store
        self._inner: Any = None
        self._lock = threading.Lock()
        self._said: set[str] = set()
        self._fetching: dict[str, threading.Lock] = {}  # one lock per key: a single request in flight
        self.name = name

    @property
    def inner(self) -> Any:
        with self._lock:
            if self._inner is None:
                self._inner = self._build()
                self.name = getattr(self._inner, "name", type(self._inner).__name__)
            return self._inner

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        scope = scopes[0] if scopes else ""
        key = entry_key(*self._key_parts(scope, kwargs.get("tenant_id")))
        challenged = bool(kwargs.get("claims"))
        if challenged:
            # A CAE claims challenge: the service revoked the token; never answer it from the cache.
            self._store.evict(key)
        else:
            hit = self._hit(key)
            if hit is not None:
                return hit
        with self._lock:
            fetching = self._fetching.setdefault(key, threading.Lock())
        with fetching:
            if not challenged:  # another thread may have fetched it while this one waited
                hit = self._hit(key)
                if hit is not None:
                    return hit
            token = self.inner.get_token(*scopes, **kwargs)
            self._store.put(key, token.token, int(token.expires_on), self._key_labels(kwargs.get("tenant_id")))
        return token

    def cached(self, scope: str, tenant_id: str | None = None) -> bool:
        """Will get_token(scope, tenant_id=...) be answered from the cache for at least another
        minute (so that a caller deciding on it now is not overtaken by the expiry margin)?"""
        hit = self._store.get(entry_key(*self._key_parts(scope, tenant_id)))
        return hit is not None and hit[1] - EXPIRY_MARGIN - 60 > time.time()

    def _hit(self, key: str) -> Any:
        hit = self._store.get(key)
        if hit is None:
            return None
        from azure.core.credentials import AccessToken  # already loaded with any SDK client

        if key not in self._said:  # -v: the choice made, once per token (never the token)
            self._said.add(key)
            minutes = max(0, int((hit[1] - time.time()) // 60))
            _LOG.info("token cache: %s token used from the cache (expires in %d min)", self.name, minutes)
        return AccessToken(hit[0], hit[1])

    def close(self) -> None:
        if self._inner is not None:
            close = getattr(self._inner, "close", None)
            if close:
                close()
