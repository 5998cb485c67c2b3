"""The requests-based transport of kvctl's SDK clients: one pooled session sized for the
concurrency in use, an extra trusted CA added to (not replacing) the usual trust store.

It carries ARM, Graph, Log Analytics and Resource Graph, and the data plane when a proxy is
configured (see direct_transport for the data plane's own transport)."""

from __future__ import annotations

import os
import threading
from typing import Any

import requests
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.util.ssl_ import create_urllib3_context

from ..core.settings import Settings
from .pipeline import client_options, refuse_other_origin, sane_retry_after


class _TrustAdapter(HTTPAdapter):
    """An adapter whose connections share one TLS context, each CA bundle loaded into it once.

    requests hands every new connection the path of the bundle to trust (certifi, or
    REQUESTS_CA_BUNDLE), and urllib3 then parses the whole bundle again for each (~25 ms of CPU
    per connection; a bulk fetch opens up to concurrency + 4). The trust is the same: the bundle
    requests chose; with `ca_file`, the system's CAs (read lazily, see core.trust) and that one
    (e.g. the emulator's) instead of certifi's copy of them, plus REQUESTS_CA_BUNDLE when set.
    """

    def __init__(self, ca_file: str | None, **kwargs: Any) -> None:
        self._skip_default = bool(ca_file)
        if ca_file:
            from ..core.trust import context_with

            self._context = context_with(ca_file)  # already built (and checked) with the settings
        else:
            self._context = create_urllib3_context()  # what urllib3 itself would use
        self._loaded: set[tuple[str | None, str | None]] = set()
        self._lock = threading.Lock()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        bundle = (conn.ca_certs, conn.ca_cert_dir)
        if bundle == (None, None) or (self._skip_default and bundle == (DEFAULT_CA_BUNDLE_PATH, None)):
            conn.ca_certs = conn.ca_cert_dir = None
            return
        with self._lock:
            if bundle not in self._loaded:
                self._context.load_verify_locations(cafile=bundle[0], capath=bundle[1])
                self._loaded.add(bundle)
        conn.ca_certs = conn.ca_cert_dir = None  # in the shared context now


def _no_auth(request: Any) -> Any:
    """A request's auth meaning "none": requests would otherwise look netrc up again for it."""
    return request


class _Session(requests.Session):
    """requests' Session, with what it takes from the environment read once per origin.

    On every request requests reads the proxy variables and no_proxy (urllib's getproxies walks
    the whole environment), REQUESTS_CA_BUNDLE and netrc (a stat of ~/.netrc and more) again:
    about a quarter of kvctl's CPU per request in a bulk fetch. One kvctl process is one short
    session: its environment does not change while it runs, so the answers are kept per origin
    (scheme, host and port, which is all they depend on). Everything else is requests' own:
    proxies and netrc are honoured exactly as before, and a proxy or CA given explicitly wins.
    """

    def __init__(self) -> None:
        super().__init__()
        self._origins: dict[tuple[str, str | None], tuple[dict[str, str], Any]] = {}
        self._env_bundle: str | None = None
        self._env_bundle_read = False

    def _environment(self, url: str, no_proxy: str | None) -> tuple[dict[str, str], Any]:
        """The environment's proxies for `url`'s origin, and its netrc credentials (or None)."""
        from requests.utils import get_environ_proxies, get_netrc_auth

        start = url.find("//") + 2
        end = url.find("/", start)
        key = (url[: end if end > 0 else len(url)].lower(), no_proxy)  # scheme://host:port
        found = self._origins.get(key)
        if found is None:  # two threads may both look: the answer is the same
            found = self._origins[key] = (get_environ_proxies(url, no_proxy=no_proxy), get_netrc_auth(url))
        return found

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if self.trust_env and not request.auth and not self.auth and request.url:
            request.auth = self._environment(str(request.url), None)[1] or _no_auth
        return super().prepare_request(request)

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        proxies = dict(proxies) if proxies else {}
        if self.trust_env:
            for scheme, proxy in self._environment(str(url), proxies.get("no_proxy"))[0].items():
                proxies.setdefault(scheme, proxy)
            if verify is True or verify is None:
                if not self._env_bundle_read:
                    self._env_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                    self._env_bundle_read = True
                verify = self._env_bundle or verify
        if self.proxies:
            proxies = {**self.proxies, **proxies}
        return {
            "proxies": {k: v for k, v in proxies.items() if v is not None},
            "stream": self.stream if stream is None else stream,
            "verify": self.verify if verify is None else verify,
            "cert": self.cert if cert is None else cert,
        }


def make_session(settings: Settings) -> requests.Session:
    session = _Session()
    pool = max(4, settings.concurrency + 4)
    session.mount("https://", _TrustAdapter(settings.ca_bundle, pool_connections=4, pool_maxsize=pool))
    return session


class OriginGuardTransport(RequestsTransport):
    """requests' transport, sending a request only to the origin (scheme, host, port) its client
    was built for (see pipeline.refuse_other_origin)."""

    def __init__(self, origin: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.origin = origin

    def send(self, request: Any, **kwargs: Any) -> Any:
        refuse_other_origin(self.origin, str(request.url))
        response = super().send(request, **kwargs)
        sane_retry_after(response.headers)
        return response


def requests_options(settings: Settings, session: requests.Session, origin: str | None) -> dict[str, Any]:
    """The SDK options of a client on requests' transport, refusing any origin but `origin`."""
    transport = OriginGuardTransport(
        origin,
        session=session,
        session_owner=False,
        connection_timeout=min(settings.timeout, 10.0),
        read_timeout=settings.timeout,
    )
    return client_options(settings, transport)
