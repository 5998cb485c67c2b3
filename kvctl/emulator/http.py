"""The emulator's HTTP(S) plumbing: a threaded server, a request/response pair, and the
error shape every Azure endpoint it imitates uses.

The TLS handshake happens in the connection's own thread, not in the accept loop, so a client
that connects and never speaks cannot stall everyone else. Every failure inside a handler
becomes a JSON error response; no stack trace ever reaches a client.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import struct
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

log = logging.getLogger("kvctl.emulator")

MAX_BODY_BYTES = 1024 * 1024
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 120
# A body announced by Content-Length must arrive within this long in all (not per read): a client
# that announces 5000 bytes and sends one must not hold a connection and a thread for ever.
BODY_TIMEOUT_SECONDS = 10.0


class _BodyTimeout(Exception):
    """The announced request body did not arrive in time."""


def has_lone_surrogate(data: Any) -> bool:
    """JSON's \\ud800 escapes decode to text that is not Unicode and cannot be stored or sent."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class ApiError(Exception):
    """An error answer in the `{"error": {"code", "message", "innererror"}}` shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        inner: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return {"error": error}


def bad_request(message: str, code: str = "BadRequest") -> ApiError:
    return ApiError(400, code, message)


class ResetConnection(Exception):
    """Abort the connection with a TCP reset instead of answering."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        content_type = (self.header("content-type") or "application/json").split(";")[0].strip().lower()
        if content_type not in ("application/json", "text/json"):
            raise ApiError(
                400, "BadParameter", f"Unsupported content type '{content_type}'; expected application/json."
            )
        if not self.body:
            raise ApiError(400, "BadParameter", "The request body is required.")
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ApiError(400, "BadParameter", "The request body is not valid JSON.") from exc
        if has_lone_surrogate(data):
            raise ApiError(400, "BadParameter", "The request body holds a lone surrogate (not valid Unicode).")
        return data

    def bearer_token(self) -> str | None:
        auth = self.header("authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, err: ApiError, headers: dict[str, str] | None = None) -> Response:
        return cls(err.status, err.body(), {**(headers or {}), **err.headers})


def parse_query(raw: str) -> dict[str, str]:
    """Query parameters, percent-decoded; the SDKs send `$filter` both quoted and raw."""
    params: dict[str, str] = {}
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        params[unquote(key.replace("+", " "))] = unquote(value.replace("+", " "))
    return params


Handler = Callable[[Request], Response]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer
    server_version = "kvctl-emulator"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
            self.close_connection = True

    def _dispatch(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Response.error(ApiError(411, "LengthRequired", "Chunked request bodies are not supported.")))
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            # Read (and drop) what the client is sending, so it gets to see the answer.
            try:
                self._read_body(min(max(length, 0), DRAIN_LIMIT_BYTES))
            except _BodyTimeout:
                pass
            self._send(
                Response.error(
                    ApiError(
                        413,
                        "RequestEntityTooLarge" if length > 0 else "BadParameter",
                        f"The request body must be at most {MAX_BODY_BYTES} bytes.",
                    )
                )
            )
            self.close_connection = True
            return
        try:
            body = self._read_body(length) if length else b""
        except _BodyTimeout:
            self.close_connection = True
            self._send(
                Response.error(
                    ApiError(408, "RequestTimeout", "The request body did not arrive in time."),
                    {"Connection": "close"},
                )
            )
            return
        raw_path, _, raw_query = self.path.partition("?")
        request = Request(
            method=self.command,
            path=unquote(raw_path),
            query=parse_query(raw_query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client=self.client_address[0],
        )
        try:
            response = self.server.handler(request)
        except ResetConnection:
            self._reset()
            return
        except ApiError as err:
            response = Response.error(err)
        except Exception:  # a bug must not take the emulator down or leak a trace to the client
            log.exception("unhandled error for %s %s", self.command, raw_path)
            response = Response.error(ApiError(500, "InternalServerError", "The server encountered an internal error."))
        self._send(response)
        log.info("%s %s -> %d", self.command, raw_path, response.status)

    def _read_body(self, length: int) -> bytes:
        """Up to `length` bytes (fewer if the client closes), within BODY_TIMEOUT_SECONDS in all."""
        deadline = time.monotonic() + BODY_TIMEOUT_SECONDS
        parts: list[bytes] = []
        remaining = length
        try:
            while remaining > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _BodyTimeout()
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    break
                parts.append(chunk)
                remaining -= len(chunk)
        except TimeoutError as exc:
            raise _BodyTimeout() from exc
        finally:
            self.connection.settimeout(IDLE_TIMEOUT_SECONDS)
        return b"".join(parts)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        headers = {
            "Cache-Control": "no-cache",
            "Pragma": "no-cache",
            "Expires": "-1",
            "x-ms-request-id": str(uuid.uuid4()),
            "Strict-Transport-Security": "max-age=31536000;includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            **self.server.extra_headers,
            **response.headers,
        }
        if response.body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        headers["Content-Length"] = str(len(payload))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def _reset(self) -> None:
        """Close with RST so the client sees a reset connection, not a clean end of stream."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        port: int,
        handler: Handler,
        ssl_context: ssl.SSLContext | None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.extra_headers = extra_headers or {}
        super().__init__(("127.0.0.1", port), _RequestHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(IDLE_TIMEOUT_SECONDS)
        # Headers and body go out as two writes; with Nagle on, the body waits for the client's
        # delayed ACK (~40 ms per request on a kept-alive connection), which the service has not.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
        try:
            super().finish_request(request, client_address)
        finally:
            try:
                request.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            log.debug("connection error from %s: %r", client_address, exc)


def server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
