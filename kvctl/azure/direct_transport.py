"""The data plane's transport: azure-core's pipeline over the standard library's http.client.

Why not requests, azure-core's default: a `get` that finds its token in the cache spends ~45 ms
importing requests, urllib3 and charset_normalizer, and a bulk fetch spends about a third of its
CPU in requests' per-request work (merging settings, hooks, cookie jars, adapters). Key Vault's data
plane needs none of it: one origin per client, TLS, keep-alive, JSON bodies of a few kilobytes.

Everything above the transport is the SDK's own and unchanged: challenge authentication, CAE,
retries, error types. What this transport promises the layers above, as requests' did:
- a request goes only to its client's origin (pipeline.refuse_other_origin);
- a failure before any byte of the request left is a ServiceRequestError (never sent); any
  failure after is a ServiceResponseError (it may have been applied): kvctl's exact writes
  (writes.py) depend on that split, so a doubt always falls on the "may have been applied" side;
- a timeout is the matching *TimeoutError, a short body an IncompleteReadError;
- every answer is read whole before it is returned, so it is the same to the SDK whether or not it
  asked to stream.

Trust is what requests' was: with `--ca-bundle`, the system's CAs plus that bundle (core.trust);
without, certifi's bundle, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in its place. With a proxy
configured for HTTPS, kvctl keeps requests' transport, which implements every proxy form and
NO_PROXY rule users rely on (clients.py decides; see `proxy_configured`).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import (
    IncompleteReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import CaseInsensitiveDict

from .pipeline import refuse_other_origin, sane_retry_after

_BLOCK_SIZE = 4096
# The largest answer kvctl reads. Key Vault's are a few kilobytes (a secret is at most 25 KiB, a page
# of 25 items far less): a bigger one is a misbehaving service or something in between, and an
# answer that never ends must not take all of the machine's memory first.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
# One line per request with -vv, as urllib3's pool logged for requests' transport: method, path
# (the console redacts the query) and status. Never a header or a body.
_LOG = logging.getLogger("kvctl.http")


def proxy_configured() -> bool:
    """Does the environment (or the system's settings, as urllib reads them) name a proxy for
    HTTPS? requests would use it, so kvctl keeps requests' transport then. Elsewhere than macOS and
    Windows urllib reads only the environment (`*_proxy`, any case): so does this, without
    importing urllib.request for it."""
    import sys

    if sys.platform in ("darwin", "win32"):
        import urllib.request

        proxies = urllib.request.getproxies()
        return bool(proxies.get("https") or proxies.get("all"))
    return any(value and name.lower() in ("https_proxy", "all_proxy") for name, value in os.environ.items())


def trust_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The TLS trust requests' transport gave kvctl's clients (see transport._TrustAdapter)."""
    variable = next((name for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(name)), None)
    if ca_bundle:
        from ..core.trust import context_with

        context = context_with(ca_bundle)  # shared per process: built (and checked) once
        if variable:
            _load_environment_bundle(context, variable, os.environ[variable])
        return context
    if variable:
        # requests trusted only the variable's bundle: an empty client context (certificate and
        # host name checked), not create_default_context(), which would add the system store.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        _load_environment_bundle(context, variable, os.environ[variable])
        return context
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _load_environment_bundle(context: ssl.SSLContext, variable: str, path: str) -> None:
    """Trust what REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) names, as requests did: a PEM file, or a
    hashed CA directory. Anything else is the user's to fix: one line, exit 2, before any request
    (never a hang on a pipe, never a traceback)."""
    import stat

    from ..core.errors import UsageError

    hint = f"point {variable} at a PEM file or a hashed CA directory, or unset it"
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
        if kind == stat.S_IFDIR:
            context.load_verify_locations(capath=path)
            return
        if kind != stat.S_IFREG:
            raise UsageError(f"{variable} names {path!r}, which is not a file or a directory", hint=hint)
        from ..core.trust import system_directory_for

        directory = system_directory_for(path)  # the system bundle: its hashed directory, read lazily
        if directory:
            context.load_verify_locations(capath=directory)
        else:
            context.load_verify_locations(cafile=path)
    except UsageError:
        raise
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "no PEM certificate in it"
        raise UsageError(
            f"{variable} names {path!r}, which kvctl cannot use as CA bundle: {reason}", hint=hint
        ) from None


class _Drained:
    """The internal response of an answer read whole: there is nothing left to close."""

    def close(self) -> None:
        pass


def _whole_body(response: HttpResponseImpl, **kwargs: Any) -> Iterator[bytes]:
    """The stream of an answer read whole: its content, once."""
    yield response.content


def _as_bytes(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"kvctl's data-plane transport sends bytes or text bodies, not {type(body).__name__}")


def _dropped(connection: http.client.HTTPSConnection) -> bool:
    """Has an idle kept-alive connection been closed (or sent something unasked) by the server?
    Readable while idle means either: reusing it would fail, or answer with stale bytes."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _Deadlines:
    """Cuts the connection of a request whose whole answer has not arrived by its deadline.

    The read timeout bounds each wait for bytes, not the answer: a service (or a proxy) that sends
    a byte every second would keep a read going for ever. One daemon thread holds every deadline
    of the process and shuts down a late request's socket; the read then fails at once, and
    `expired` tells that failure apart from any other."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._due: dict[int, tuple[float, Any]] = {}
        self._expired: set[int] = set()
        self._next_id = 0
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the watcher wakes next: only a sooner deadline needs to wake it

    def start(self, seconds: float, sock: Any) -> int:
        with self._condition:
            self._next_id += 1
            ident = self._next_id
            due = time.monotonic() + seconds
            self._due[ident] = (due, sock)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="kvctl-deadlines", daemon=True)
                self._thread.start()
            elif due < self._wakes_at:
                self._condition.notify()
            return ident

    def stop(self, ident: int) -> bool:
        """Forget the deadline; True when it had expired (the connection was cut)."""
        with self._condition:
            self._due.pop(ident, None)
            if ident in self._expired:
                self._expired.discard(ident)
                return True
            return False

    def _watch(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for ident, (due, sock) in list(self._due.items()):
                    if due <= now:
                        del self._due[ident]
                        self._expired.add(ident)
                        with contextlib.suppress(OSError):
                            # The socket's own shutdown, not SSLSocket's: that one would unwrap TLS,
                            # and a read after it would take plaintext as the answer.
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
                self._wakes_at = min((due for due, _ in self._due.values()), default=now + 3600)
                self._condition.wait(max(0.0, self._wakes_at - now))


_DEADLINES = _Deadlines()


def _read_whole(answer: http.client.HTTPResponse) -> bytes:
    """The body, refusing one larger than MAX_ANSWER_BYTES before it is all in memory."""
    length = answer.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > MAX_ANSWER_BYTES:
        raise _TooLarge(int(length))
    chunks: list[bytes] = []
    size = 0
    while chunk := answer.read(65536):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _TooLarge(size)
        chunks.append(chunk)
    if answer.length:  # read(amt) ends quietly at a premature end; read() would have raised
        raise http.client.IncompleteRead(b"".join(chunks), answer.length)
    return b"".join(chunks)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"an answer of over {MAX_ANSWER_BYTES // (1024 * 1024)} MiB ({size} bytes so far)")


class DirectTransport(HttpTransport):
    """Sends an SDK client's requests to its one origin over pooled http.client connections."""

    def __init__(
        self,
        origin: str,
        context: ssl.SSLContext,
        *,
        connection_timeout: float,
        read_timeout: float,
        pool_size: int,
    ) -> None:
        parts = urllib.parse.urlsplit(origin)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"the direct transport speaks HTTPS to one host, not {origin!r}")
        self.origin = origin
        self._host = parts.hostname
        self._port = parts.port or 443
        self._context = context
        self._connection_timeout = connection_timeout
        self._read_timeout = read_timeout
        self._pool_size = pool_size
        self._idle: list[http.client.HTTPSConnection] = []
        self._lock = threading.Lock()

    def __enter__(self) -> DirectTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def open(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connection(self, timeout: float) -> http.client.HTTPSConnection:
        """An idle connection that is still open, else a new one (connected here, so that a failure
        to connect is told apart from a failure once the request is on its way)."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            if not _dropped(connection):
                return connection
            connection.close()
        connection = http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._context)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise ServiceRequestTimeoutError("connecting timed out", error=exc) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ServiceRequestError(str(exc) or type(exc).__name__, error=exc) from exc
        return connection

    def _release(self, connection: http.client.HTTPSConnection) -> None:
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(connection)
                return
        connection.close()

    def send(self, request: Any, **kwargs: Any) -> HttpResponseImpl:
        url = str(request.url)
        refuse_other_origin(self.origin, url)
        if not hasattr(request, "content"):  # a legacy azure.core.pipeline.transport.HttpRequest
            raise TypeError("kvctl's data-plane transport carries azure.core.rest requests only")
        connection_timeout = kwargs.get("connection_timeout") or self._connection_timeout
        read_timeout = kwargs.get("read_timeout") or self._read_timeout
        body = _as_bytes(request.content)
        parts = urllib.parse.urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

        connection = self._connection(connection_timeout)
        deadline: int | None = None
        cut = False
        try:
            if connection.sock is not None:
                connection.sock.settimeout(read_timeout)
                deadline = _DEADLINES.start(read_timeout, connection.sock)
            # From here on the request may have reached the service: every failure says so.
            connection.request(request.method, target, body=body, headers=dict(request.headers))
            answer = connection.getresponse()
            content = _read_whole(answer)
        except TimeoutError as exc:
            connection.close()
            raise ServiceResponseTimeoutError("timed out waiting for the answer", error=exc) from exc
        except _TooLarge as exc:
            connection.close()
            raise ServiceResponseError(f"no usable answer: {exc}", error=exc) from exc
        except http.client.IncompleteRead as exc:
            connection.close()
            if deadline is not None and _DEADLINES.stop(deadline):
                raise ServiceResponseTimeoutError("timed out: the whole answer took too long", error=exc) from exc
            raise IncompleteReadError(f"incomplete answer: {exc!r}", error=exc) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            if deadline is not None and _DEADLINES.stop(deadline):
                raise ServiceResponseTimeoutError("timed out: the whole answer took too long", error=exc) from exc
            raise ServiceResponseError(f"no answer: {exc!r}", error=exc) from exc
        except BaseException:  # an interrupt mid-request: the connection's state is unknown
            connection.close()
            raise
        finally:
            cut = deadline is not None and _DEADLINES.stop(deadline)

        if _LOG.isEnabledFor(logging.DEBUG):
            _LOG.debug('%s "%s %s HTTP/1.1" %s %s', self.origin, request.method, target, answer.status, len(content))
        if cut:  # the deadline fell as the last bytes came: an answer read across a cut is not trusted
            connection.close()
            raise ServiceResponseTimeoutError("timed out: the whole answer took too long")
        if answer.will_close:
            connection.close()
        else:
            self._release(connection)

        headers: CaseInsensitiveDict = CaseInsensitiveDict()
        for name, value in answer.getheaders():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        sane_retry_after(headers)
        response = HttpResponseImpl(
            request=request,
            internal_response=_Drained(),
            block_size=_BLOCK_SIZE,
            status_code=answer.status,
            reason=answer.reason,
            content_type=headers.get("Content-Type"),
            headers=headers,
            stream_download_generator=_whole_body,
        )
        response._content = content  # read whole above: the pipeline reads it without the network
        if not kwargs.get("stream"):
            response.read()
        return response
