"""The data plane's http.client transport, against real TLS sockets that misbehave on purpose.

What kvctl's exact writes rely on is checked here at the socket: a request that cannot have left
is a ServiceRequestError, one that may have reached the service is a ServiceResponseError, and
trust, hostname checks, keep-alive and the origin rule hold. The whole CLI runs on this transport
in every end-to-end test; these pin the edges those cannot reach on demand."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from azure.core.exceptions import (
    IncompleteReadError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest

from kvctl.azure.direct_transport import DirectTransport
from kvctl.core.errors import UnavailableError
from kvctl.emulator.tls import ensure_tls_files
from tests.conftest import closed_port
from tests.servers import serve_connections

Behaviour = Callable[[ssl.SSLSocket, bytes], None]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


@dataclass
class Server:
    host: str
    port: int
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"https://{self.host}:{self.port}"


def _read_request(conn: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[Path, ssl.SSLContext]:
    """The emulator's CA and a server context with its certificate (127.0.0.1, ::1, localhost)."""
    files = ensure_tls_files(tmp_path_factory.mktemp("tls"))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(files.server_cert, files.server_key)
    return files.ca_cert, server_context


@pytest.fixture
def serve(tls) -> Iterator[Callable[..., Server]]:
    """Starts a TLS server whose every request gets `behaviour(connection, request)`."""
    sockets: list[socket.socket] = []

    def start(behaviour: Behaviour, host: str = "127.0.0.1") -> Server:
        listener = socket.create_server((host, 0))
        sockets.append(listener)
        server = Server(host, listener.getsockname()[1])

        def handle(raw: socket.socket) -> None:
            server.connections += 1
            try:
                with tls[1].wrap_socket(raw, server_side=True) as conn:
                    while request := _read_request(conn):
                        server.requests.append(request)
                        behaviour(conn, request)
            except (OSError, ssl.SSLError):
                pass

        serve_connections(listener, handle)
        return server

    yield start
    for listener in sockets:
        listener.close()


def _transport(origin: str, ca: Path | None, read_timeout: float = 5.0) -> DirectTransport:
    context = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
    return DirectTransport(origin, context, connection_timeout=5.0, read_timeout=read_timeout, pool_size=4)


def _get(transport: DirectTransport, url: str, **kwargs: object):
    return transport.send(HttpRequest("GET", url), **kwargs)


def test_answers_arrive_whole_and_one_connection_is_kept_alive(serve, tls):
    server = serve(lambda conn, request: conn.sendall(OK))
    transport = _transport(server.origin, tls[0])
    for _ in range(5):
        response = _get(transport, server.origin + "/secrets/a?api-version=7.5")
        assert (response.status_code, response.json()) == (200, {})
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /secrets/a?api-version=7.5 HTTP/1.1\r\n")


def test_a_body_and_its_headers_reach_the_service_intact(serve, tls):
    server = serve(lambda conn, request: conn.sendall(OK))
    transport = _transport(server.origin, tls[0])
    request = HttpRequest("PUT", server.origin + "/secrets/a", json={"value": "line1\nline2 é"})
    request.headers["x-ms-client-request-id"] = "abc"
    transport.send(request)
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert json.loads(body) == {"value": "line1\nline2 é"}
    assert f"content-length: {len(body)}".encode() in head.lower()
    assert b"x-ms-client-request-id: abc" in head


def test_repeated_headers_are_joined_as_requests_did(serve, tls):
    answer = (
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer a=1\r\n"
        b"WWW-Authenticate: Bearer b=2\r\nContent-Length: 0\r\n\r\n"
    )
    server = serve(lambda conn, request: conn.sendall(answer))
    response = _get(_transport(server.origin, tls[0]), server.origin + "/")
    assert response.headers["www-authenticate"] == "Bearer a=1, Bearer b=2"


def test_an_idle_connection_the_service_closed_is_not_reused(serve, tls):
    """Closing after an answer that promised keep-alive is legal (idle timeout): the next request
    must open a new connection, not fail as an answer lost (which a write would have to verify)."""

    closed = threading.Event()

    def answer_then_close(conn: ssl.SSLSocket, request: bytes) -> None:
        conn.sendall(OK)
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()
        closed.set()

    server = serve(answer_then_close)
    transport = _transport(server.origin, tls[0])
    _get(transport, server.origin + "/")
    assert closed.wait(10)
    assert _get(transport, server.origin + "/").status_code == 200
    assert server.connections == 2


def test_nothing_listening_means_never_sent():
    origin = f"https://127.0.0.1:{closed_port()}"
    with pytest.raises(ServiceRequestError) as caught:
        _get(_transport(origin, None), origin + "/")
    assert not isinstance(caught.value, ServiceResponseError)
    assert "refused" in str(caught.value).lower()


def test_an_untrusted_certificate_is_refused_before_the_request_leaves(serve, tls):
    server = serve(lambda conn, request: conn.sendall(OK))
    with pytest.raises(ServiceRequestError) as caught:
        _get(_transport(server.origin, None), server.origin + "/")  # the system's CAs only
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert server.requests == []


def test_a_certificate_for_another_name_is_refused(serve, tls):
    """127.0.0.2 is loopback too, but the certificate names only 127.0.0.1, ::1 and localhost."""
    try:
        server = serve(lambda conn, request: conn.sendall(OK), host="127.0.0.2")
    except OSError:
        pytest.skip("this machine cannot bind 127.0.0.2")
    with pytest.raises(ServiceRequestError) as caught:
        _get(_transport(server.origin, tls[0]), server.origin + "/")
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) and server.requests == []


def test_a_reset_after_the_request_arrived_may_have_been_applied(serve, tls):
    def reset(conn: ssl.SSLSocket, request: bytes) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    server = serve(reset)
    with pytest.raises(ServiceResponseError):
        _get(_transport(server.origin, tls[0]), server.origin + "/")
    assert len(server.requests) == 1


def test_a_short_body_is_an_incomplete_read(serve, tls):
    def short(conn: ssl.SSLSocket, request: bytes) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"value": ')
        conn.close()

    server = serve(short)
    with pytest.raises(IncompleteReadError):
        _get(_transport(server.origin, tls[0]), server.origin + "/")


def test_an_answer_slower_than_the_read_timeout_times_out(serve, tls):
    release = threading.Event()
    server = serve(lambda conn, request: release.wait(10))
    try:
        with pytest.raises(ServiceResponseTimeoutError):
            _get(_transport(server.origin, tls[0], read_timeout=0.3), server.origin + "/")
    finally:
        release.set()


def test_a_request_to_another_origin_never_connects(serve, tls):
    server = serve(lambda conn, request: conn.sendall(OK))
    other = serve(lambda conn, request: conn.sendall(OK))
    transport = _transport(server.origin, tls[0])
    with pytest.raises(UnavailableError, match="another host"):
        _get(transport, other.origin + "/secrets?$skiptoken=x")
    assert other.connections == 0 and server.connections == 0


def test_a_deadline_cuts_the_connection_without_unwrapping_tls(serve, tls):
    """After the watchdog's cut a read must fail, never go on as plaintext (SSLSocket.shutdown
    would drop the TLS layer and let unauthenticated bytes be read as the answer)."""
    from kvctl.azure.direct_transport import _DEADLINES

    release = threading.Event()
    server = serve(lambda conn, request: release.wait(10))
    context = ssl.create_default_context(cafile=str(tls[0]))
    raw = socket.create_connection(("127.0.0.1", server.port))
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        ident = _DEADLINES.start(0.05, sock)
        assert sock.recv(1024) == b""  # a TLS read of a cut socket ends (a ragged EOF), with no data
        assert _DEADLINES.stop(ident) is True
        assert sock._sslobj is not None, "the TLS layer is still there: nothing after the cut is plaintext"
    finally:
        release.set()
        sock.close()
