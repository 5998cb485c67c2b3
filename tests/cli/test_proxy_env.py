"""kvctl reads the proxy settings once per process and origin, not on every request: the settings
must still be honoured. A real kvctl process against the emulator, through a loopback HTTP
CONNECT proxy that records every tunnel it opens."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import closed_port, run_kvctl_subprocess

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_NO_PROXY = ("NO_PROXY", "no_proxy")


class _ConnectProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.targets: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Tunnel(socketserver.BaseRequestHandler):
    server: _ConnectProxy

    def handle(self) -> None:
        client = self.request
        client.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = head.split(b"\r\n", 1)[0].split(b" ")[:2]
        if method != b"CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.decode().rpartition(":")
        if host not in ("127.0.0.1", "localhost"):  # loopback only, whatever is asked
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with self.server.lock:
            self.server.targets.append(target.decode())
        upstream = socket.create_connection((host, int(port)), timeout=30)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for s in (source, sink):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(timeout=30)
        upstream.close()


@pytest.fixture()
def proxy() -> Iterator[_ConnectProxy]:
    server = _ConnectProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _seed(client, unique, count: int) -> tuple[str, dict[str, str]]:
    prefix = unique("px") + "-"
    values = {f"{prefix}v{i}": f"value {i}" for i in range(count)}
    for name, value in values.items():
        client.set_secret(name, value)
    return prefix, values


def _export(emulator, prefix: str, env: dict[str, str | None]):
    unset = dict.fromkeys(_PROXY_VARIABLES + _NO_PROXY)
    return run_kvctl_subprocess(
        ["export", "--prefix", prefix, "--format", "json"],
        emulator=emulator,
        env={**unset, "KVCTL_TOKEN_CACHE": "off", "KVCTL_CONCURRENCY": "4", **env},
    )


def test_every_request_of_a_bulk_fetch_goes_through_the_proxy_the_environment_names(emulator, client, unique, proxy):
    prefix, values = _seed(client, unique, 12)
    result = _export(emulator, prefix, {"HTTPS_PROXY": proxy.url})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {name[len(prefix) :].upper(): v for name, v in values.items()}
    vault = urlsplit(emulator.vault_url).netloc
    # The list and 12 gets over up to 4 pooled connections: every one of them a tunnel to the vault.
    assert proxy.targets and set(proxy.targets) == {vault}


@pytest.mark.parametrize("variable", _NO_PROXY)
def test_no_proxy_is_honoured_too(emulator, client, unique, proxy, variable):
    prefix, _ = _seed(client, unique, 3)
    result = _export(emulator, prefix, {"https_proxy": proxy.url, variable: "127.0.0.1"})
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 3
    assert proxy.targets == []


def test_a_proxy_that_cannot_be_reached_fails_the_command_with_one_clear_line(emulator, client, unique):
    prefix, _ = _seed(client, unique, 2)
    result = _export(emulator, prefix, {"HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}", "KVCTL_RETRIES": "0"})
    assert result.exit_code != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr and result.stderr.strip()
