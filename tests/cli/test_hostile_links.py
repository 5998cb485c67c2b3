"""A service that points kvctl elsewhere: a `nextLink` to another host, or the same page link or
skip token again and again. Through a real kvctl process against loopback fakes: the token never
reaches the other host, a repeated link ends with one clear line and exit 7, never a hang."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.conftest import run_kvctl_subprocess

SUB = "11111111-2222-3333-4444-555555555555"


class _Fake(BaseHTTPRequestHandler):
    """Plays ARM (with Resource Graph) or, with `answer` unset, a foreign host that only records."""

    protocol_version = "HTTP/1.1"
    answer: ClassVar[Any] = None
    foreign_port: ClassVar[int] = 0
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        port = self.server.server_address[1]
        type(self).seen.append({"port": port, "path": self.path, "authorization": self.headers.get("Authorization")})
        body = json.dumps(self.answer(self.path) if port != self.foreign_port else {"value": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _handle


def _serve(emulator: Any, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(emulator.state_dir / "server.pem", emulator.state_dir / "server-key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def fakes(emulator: Any) -> Iterator[tuple[str, str]]:
    """(fake ARM's URL, a foreign host's URL): both loopback, different origins (ports)."""
    _Fake.seen = []
    arm, foreign = _serve(emulator, _Fake), _serve(emulator, _Fake)
    _Fake.foreign_port = foreign.server_address[1]
    yield f"https://127.0.0.1:{arm.server_address[1]}", f"https://127.0.0.1:{foreign.server_address[1]}"
    _Fake.answer = None
    for server in (arm, foreign):
        server.shutdown()
        server.server_close()


def _kvctl(emulator: Any, arm: str, *args: str) -> Any:
    env = {"KVCTL_ARM_ENDPOINT": arm, "KVCTL_RETRIES": "0", "AZURE_SUBSCRIPTION_ID": SUB}
    return run_kvctl_subprocess(["--auth", "emulator", *args], emulator=emulator, env=env, timeout=120)


def _one_clear_line(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert len([line for line in stderr.splitlines() if line.startswith("kvctl: error")]) == 1, stderr


def _foreign_requests(foreign: str) -> list[dict[str, Any]]:
    port = int(foreign.rsplit(":", 1)[1])
    return [r for r in _Fake.seen if r["port"] == port]


def test_a_subscription_next_link_to_another_host_is_not_followed(emulator, fakes):
    arm, foreign = fakes

    def answer(path: str) -> Any:
        return {"value": [], "nextLink": f"{foreign}/subscriptions?api-version=2022-12-01&page=2"}

    _Fake.answer = staticmethod(answer)
    result = _kvctl(emulator, arm, "check", "--all-subscriptions")
    assert any(r["authorization"] for r in _Fake.seen), "the fake ARM was asked with a token"
    assert not _foreign_requests(foreign), "nothing at all, and so no token, reached the other host"
    assert result.exit_code == 7, result.stderr
    assert "another host" in result.stderr and foreign.rsplit(":", 1)[1] in result.stderr
    _one_clear_line(result.stderr)


def test_an_sdk_pager_next_link_to_another_host_is_not_followed(emulator, fakes):
    """The vault list (azure-mgmt-keyvault's own pager) follows nextLink: not off the endpoint."""
    arm, foreign = fakes

    def answer(path: str) -> Any:
        if path.startswith("/subscriptions?"):
            return {"value": [{"subscriptionId": SUB, "state": "Enabled"}]}
        return {"value": [], "nextLink": f"{foreign}/subscriptions/{SUB}/vaults?page=2"}

    _Fake.answer = staticmethod(answer)
    result = _kvctl(emulator, arm, "check", "--all")
    assert not _foreign_requests(foreign)
    assert result.exit_code == 7, result.stderr
    _one_clear_line(result.stderr)


def test_a_repeated_skip_token_ends_with_exit_7(emulator, fakes):
    arm, _ = fakes
    _Fake.answer = staticmethod(lambda path: {"data": [], "$skipToken": "same", "count": 0, "totalRecords": 0})
    result = _kvctl(emulator, arm, "check", "--management-group", "abc")
    assert result.exit_code == 7, result.stderr
    assert "same next page" in result.stderr
    assert len(_Fake.seen) < 10, "it stopped at the repeat"
    _one_clear_line(result.stderr)


@pytest.mark.parametrize("args", [["check", "--all-subscriptions"], ["check", "--all"]])
def test_a_repeated_next_link_ends_with_exit_7(emulator, fakes, args):
    arm, _ = fakes

    def answer(path: str) -> Any:
        if path.startswith("/subscriptions?") and "--all" in args:
            return {"value": [{"subscriptionId": SUB, "state": "Enabled"}]}
        return {"value": [], "nextLink": f"{arm}{path.split('&page=')[0]}&page=again"}

    _Fake.answer = staticmethod(answer)
    result = _kvctl(emulator, arm, *args)
    assert result.exit_code == 7, result.stderr
    assert "same next page" in result.stderr
    _one_clear_line(result.stderr)
