"""How kvctl's SDK clients talk HTTP: one pooled session sized for the concurrency in use,
an extra trusted CA added to (not replacing) the usual trust store, timeouts and retries."""

from __future__ import annotations

import ssl
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ..core.settings import Settings


class _ExtraCAAdapter(HTTPAdapter):
    """An adapter whose TLS context trusts the usual CAs plus one more (e.g. the emulator's)."""

    def __init__(self, ca_file: str, **kwargs: Any) -> None:
        self._context = ssl.create_default_context()
        self._context.load_verify_locations(cafile=ca_file)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


def make_session(settings: Settings) -> requests.Session:
    session = requests.Session()
    pool = max(4, settings.concurrency + 4)
    adapter: HTTPAdapter
    if settings.ca_bundle:
        adapter = _ExtraCAAdapter(settings.ca_bundle, pool_connections=4, pool_maxsize=pool)
    else:
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool)
    session.mount("https://", adapter)
    return session


def client_options(settings: Settings, session: requests.Session) -> dict[str, Any]:
    """Keyword arguments shared by every SDK client kvctl builds."""
    from azure.core.pipeline.transport import RequestsTransport

    # Timeouts belong to the transport: given to a client that is handed its own transport, they
    # would silently not apply.
    transport = RequestsTransport(
        session=session,
        session_owner=False,
        connection_timeout=min(settings.timeout, 10.0),
        read_timeout=settings.timeout,
    )
    return {
        "transport": transport,
        "retry_total": settings.retries,
        "retry_status": settings.retries,  # azure-core's default of 3 gives up inside a throttle window
        "retry_backoff_factor": 0.5,
        "retry_backoff_max": 8,
        "logging_enable": False,  # request bodies (secret values) are never logged
    }
