"""What an attacker on the path (or a broken service) can do to a real `kvctl` process, each found by
the attack pass on the data plane's transport and the token cache: answers that never end or
trickle in, proxies that would see the emulator's tokens, files planted where kvctl keeps its cache,
and a CA bundle variable that names something kvctl cannot use."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import EmulatorProcess, kvctl_cache_dir, run_kvctl_subprocess
from tests.servers import serve_connections

CHALLENGE = b'Bearer authorization="https://login.windows.net/t", resource="https://vault.azure.net"'


def _serve(emulator: EmulatorProcess, answer: str | Callable[[int], bytes]) -> Iterator[str]:
    """A TLS server with the emulator's certificate that answers 401 challenges properly, then
    answers every request that carries a token with `answer` (endless or trickle)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(emulator.state_dir / "server.pem", emulator.state_dir / "server-key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def handle(raw: socket.socket) -> None:
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                conn.settimeout(30)
                while not stop.is_set():
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(4096)
                        if not chunk:
                            return
                        head += chunk
                    if b"\r\nauthorization:" not in head.lower():
                        conn.sendall(
                            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nWWW-Authenticate: "
                            + CHALLENGE
                            + b"\r\n\r\n"
                        )
                        continue
                    if callable(answer):  # a canned answer, given the server's port
                        conn.sendall(answer(listener.getsockname()[1]))
                        continue
                    if answer == "endless":
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        )
                        block = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
                        while not stop.is_set():
                            conn.sendall(block)
                    else:  # trickle: a byte at a time, each well within the read timeout
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                        )
                        while not stop.wait(0.3):
                            conn.sendall(b" ")
        except (OSError, ssl.SSLError):
            pass

    serve_connections(listener, handle)
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


@pytest.fixture
def hostile_vault(emulator):
    servers: list[Iterator[str]] = []

    def start(answer: str | Callable[[int], bytes]) -> str:
        server = _serve(emulator, answer)
        servers.append(server)
        return next(server)

    yield start
    for server in servers:
        server.close()


def test_an_answer_that_never_ends_is_cut_off_not_read_into_memory(emulator, hostile_vault):
    url = hostile_vault("endless")
    done = run_kvctl_subprocess(
        ["--vault", url, "get", "a"], emulator=emulator, env={"KVCTL_RETRIES": "0", "KVCTL_TIMEOUT": "30"}
    )
    assert done.exit_code == 7, done.stderr
    assert "MiB" in done.stderr and "Traceback" not in done.stderr and "MemoryError" not in done.stderr


def test_an_answer_that_trickles_in_ends_at_the_timeout(emulator, hostile_vault):
    """Every byte comes within the read timeout, the whole answer never does: KVCTL_TIMEOUT bounds
    the answer, not each wait (the process would otherwise run for ever; the guard here is 60 s)."""
    url = hostile_vault("trickle")
    done = run_kvctl_subprocess(
        ["--vault", url, "get", "a"], emulator=emulator, env={"KVCTL_RETRIES": "0", "KVCTL_TIMEOUT": "2"}
    )
    assert done.exit_code == 7 and "timed out" in done.stderr, done.stderr


def test_the_emulators_identity_endpoint_is_never_reached_through_http_proxy(fresh_emulator, unique):
    """HTTP_PROXY without a loopback exception is common: the identity header and the token must
    not cross it (the emulator's endpoint is plain HTTP on loopback)."""
    emulator = fresh_emulator()
    seen: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def record(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                seen.append(conn.recv(4096))
            except OSError:
                seen.append(b"")

    serve_connections(listener, record)
    proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
    name = unique()
    env = {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": None, "no_proxy": None, "KVCTL_TOKEN_CACHE": "off"}
    try:
        done = run_kvctl_subprocess(["set", name, "--value", "v", "-q"], emulator=emulator, env=env)
        assert done.exit_code == 0, done.stderr
        assert run_kvctl_subprocess(["get", name], emulator=emulator, env=env).stdout == "v\n"
    finally:
        listener.close()
    assert seen == [], seen


def _cache_dir() -> Path:
    return kvctl_cache_dir()


def test_a_fifo_planted_as_the_challenge_file_neither_hangs_nor_stays(fresh_emulator, unique):
    emulator = fresh_emulator()
    name = unique()
    assert run_kvctl_subprocess(["set", name, "--value", "v", "-q"], emulator=emulator).exit_code == 0
    directory = _cache_dir()
    directory.chmod(0o777)  # left open, and something planted while it was
    (directory / "challenges.json").unlink()
    os.mkfifo(directory / "challenges.json")
    done = run_kvctl_subprocess(["get", name], emulator=emulator, timeout=30)
    assert (done.exit_code, done.stdout) == (0, "v\n"), done.stderr
    assert not (directory / "challenges.json").is_fifo()
    again = run_kvctl_subprocess(["get", name], emulator=emulator, timeout=30)
    assert again.exit_code == 0


def test_logout_never_removes_a_file_through_a_symlinked_cache_directory(emulator, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    precious = elsewhere / "tokens.json"
    precious.write_text('{"version": 1, "tokens": {}}')
    precious.chmod(0o600)
    cache_home = tmp_path / "cache-home"
    cache_home.mkdir()
    (cache_home / "kvctl").symlink_to(elsewhere)
    done = run_kvctl_subprocess(["logout"], emulator=emulator, env={"XDG_CACHE_HOME": str(cache_home)})
    assert done.exit_code == 0, done.stderr
    assert precious.exists()


@pytest.mark.parametrize("kind", ["directory", "missing", "not-pem", "fifo"])
def test_requests_ca_bundle_is_used_as_requests_did_or_refused_in_one_line(emulator, tmp_path, kind):
    """A hashed CA directory works as it did with requests; anything unusable is exit 2 with one
    line naming the variable, never a traceback or a hang."""
    ca = emulator.info["caFile"]
    path = tmp_path / kind
    if kind == "directory":
        path.mkdir()
        import subprocess

        subject_hash = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", ca], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not subject_hash:
            pytest.skip("openssl is not installed to name the hashed file")
        (path / f"{subject_hash}.0").write_bytes(Path(ca).read_bytes())
    elif kind == "not-pem":
        path.write_text("not a certificate\n")
    elif kind == "fifo":
        os.mkfifo(path)
    env = {"REQUESTS_CA_BUNDLE": str(path), "KVCTL_CA_BUNDLE": None, "KVCTL_RETRIES": "0"}
    done = run_kvctl_subprocess(["get", "no-such-secret"], emulator=emulator, env=env, timeout=30)
    if kind == "directory":
        assert done.exit_code == 3, done.stderr  # trusted: the vault answered "not found"
    else:
        assert done.exit_code == 2, done.stderr
        assert "REQUESTS_CA_BUNDLE" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2


def _answer(status: str, body: object, *headers: str) -> Callable[[int], bytes]:
    def make(port: int) -> bytes:
        data = (body(port) if callable(body) else json.dumps(body)).encode()
        head = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(data)}", *headers]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + data

    return make


def test_terminal_escapes_in_a_services_error_never_reach_the_terminal(emulator, hostile_vault):
    message = "nope\x1b]0;PWNED-TITLE\x07\x1b[31mRED\x1b[0m\x1b[2J"
    url = hostile_vault(_answer("403 Forbidden", {"error": {"code": "Forbidden", "message": message}}))
    done = run_kvctl_subprocess(["--vault", url, "get", "a"], emulator=emulator, env={"KVCTL_RETRIES": "0"})
    assert done.exit_code == 5, done.stderr
    assert "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert "\\x1b]0;PWNED-TITLE" in done.stderr  # shown, as an escape


@pytest.mark.parametrize("retry_after", ["inf", "1e400", "abc", "99999999999999999999", "1, 1"])
def test_a_retry_after_kvctl_cannot_sleep_is_neither_a_crash_nor_a_hang(emulator, hostile_vault, retry_after):
    throttled = {"error": {"code": "Throttled", "message": "Request was not processed because too many requests"}}
    url = hostile_vault(_answer("429 Too Many Requests", throttled, f"Retry-After: {retry_after}"))
    done = run_kvctl_subprocess(["--vault", url, "get", "a"], emulator=emulator, env={"KVCTL_RETRIES": "1"}, timeout=45)
    assert done.exit_code == 7 and "throttling" in done.stderr, done.stderr


def test_json_nested_thousands_deep_is_an_invalid_answer(emulator, hostile_vault):
    url = hostile_vault(_answer("200 OK", lambda port: '{"value": "v", "x": ' + "[" * 3000 + "]" * 3000 + "}"))
    done = run_kvctl_subprocess(["--vault", url, "get", "a"], emulator=emulator, env={"KVCTL_RETRIES": "0"})
    assert done.exit_code == 7 and "unexpected" not in done.stderr, done.stderr


def test_a_page_link_with_a_backslash_is_an_invalid_answer_and_nothing_follows_it(emulator, hostile_vault):
    def page(port: int) -> str:
        link = f"https://evil.example\\@127.0.0.1:{port}/secrets?$skiptoken=2"
        item = {"id": f"https://127.0.0.1:{port}/secrets/a", "attributes": {"enabled": True}}
        return json.dumps({"value": [item], "nextLink": link})

    url = hostile_vault(_answer("200 OK", page))
    done = run_kvctl_subprocess(["--vault", url, "list", "-o", "plain"], emulator=emulator, env={"KVCTL_RETRIES": "0"})
    assert done.exit_code == 7 and "unexpected" not in done.stderr, done.stderr


def test_an_answer_about_another_secret_is_refused(emulator, hostile_vault):
    foreign = {"id": "https://evil.vault.azure.net/secrets/b/0123456789abcdef0123456789abcdef", "value": "x"}
    url = hostile_vault(_answer("200 OK", foreign))
    done = run_kvctl_subprocess(["--vault", url, "get", "a"], emulator=emulator, env={"KVCTL_RETRIES": "0"})
    assert done.exit_code == 7 and done.stdout == "", done.stderr
