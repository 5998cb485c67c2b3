"""A vault that misbehaves: truncated JSON, wrong content types, huge pages, dropped connections,
answers slower than the timeout. kvctl fails clearly (documented exit code, one line) and never hangs."""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.conftest import run_kvctl

CHALLENGE = 'Bearer authorization="https://login.windows.net/t", resource="https://vault.azure.net"'


class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    behaviour: ClassVar[dict[str, Any]] = {}
    authorized_requests: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json", length: int | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if status == 401:
            self.send_header("WWW-Authenticate", CHALLENGE)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.headers.get("Authorization"):
            self._send(401, b'{"error": {"code": "Unauthorized", "message": "no token"}}')
            return
        kind = _Hostile.behaviour["kind"]
        _Hostile.authorized_requests.append(self.path)
        if kind == "truncated":
            self._send(200, b'{"value": "abc", "id": "https://x/secrets/a/0123')
        elif kind == "html":
            self._send(200, b"<html><body>Service Unavailable</body></html>", "text/html")
        elif kind == "html-500":
            self._send(500, b"<html>oops</html>", "text/html")
        elif kind == "short-body":
            self._send(200, b'{"value": ', length=500)
            self.close_connection = True
        elif kind == "slow":
            time.sleep(_Hostile.behaviour["seconds"])
            self._send(200, b'{"value": "late", "id": "https://x/secrets/a/00000000000000000000000000000000"}')
        elif kind == "huge-page":
            items = [{"id": f"https://h/secrets/s{i:06d}", "attributes": {"enabled": True}} for i in range(20000)]
            self._send(200, json.dumps({"value": items, "nextLink": None}).encode())
        elif kind == "wrong-shape":
            self._send(200, b'["not", "an", "object"]')

    do_PUT = do_POST = do_DELETE = do_PATCH = do_GET


@pytest.fixture
def hostile(emulator):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(emulator.state_dir / "server.pem", emulator.state_dir / "server-key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def run(kind: str, *args: str, **behaviour: Any):
        _Hostile.behaviour = {"kind": kind, **behaviour}
        _Hostile.authorized_requests = []
        result = run_kvctl(
            ["--vault", f"https://127.0.0.1:{server.server_address[1]}", *args],
            emulator=emulator,
            env={"KVCTL_RETRIES": "1", "KVCTL_TIMEOUT": "2"},
        )
        return result, list(_Hostile.authorized_requests)

    yield run
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", ["truncated", "html", "html-500", "short-body", "wrong-shape"])
def test_malformed_answers_fail_clearly(hostile, kind):
    result, _ = hostile(kind, "get", "a")
    assert result.exit_code == 7, (kind, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("kvctl: error: ")
    assert len(result.stderr.strip().splitlines()) <= 2


def test_answers_slower_than_the_timeout_do_not_hang(hostile):
    result, attempts = hostile("slow", "get", "a", seconds=6)
    assert result.exit_code == 7 and "timed out" in result.stderr
    assert 1 <= len(attempts) <= 2, ("KVCTL_RETRIES=1: at most two attempts, each given up at the timeout", attempts)


def test_a_huge_page_is_handled(hostile):
    result, _ = hostile("huge-page", "list", "-o", "plain")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 20000
