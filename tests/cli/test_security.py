"""Security rules: values never in stderr or --debug output, tokens never printed, and a real
Azure token never sent to a host that is not Azure's."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.conftest import run_kvctl_subprocess

MARKER = "MARKER-7f3c1e9b-do-not-leak"


def _leaks(text: str) -> bool:
    return MARKER in text


def test_values_never_reach_stderr_even_with_debug(kvctl, unique, tmp_path):
    name = unique("leak")
    assert kvctl("--debug", "-v", "set", name, input=MARKER).exit_code == 0
    runs = [
        kvctl("--debug", "-v", "get", name),
        kvctl("--debug", "-v", "get", name, "-o", "json"),
        kvctl("--debug", "-v", "get", name, "-o", "dotenv", "--file", str(tmp_path / "f")),
        kvctl("--debug", "-v", "show", name),
        kvctl("--debug", "-v", "list", "-o", "json"),
        kvctl("--debug", "-v", "versions", name),
        kvctl("--debug", "-v", "set", name, "--value", MARKER),
        kvctl("--debug", "-v", "backup", name, "--file", str(tmp_path / "b")),
        kvctl("--debug", "-v", "delete", name),
        kvctl("--debug", "-v", "set", name, input=MARKER),  # conflict: an error path holding the value
        kvctl("--debug", "-v", "recover", name),
    ]
    assert runs[-2].exit_code == 6
    for result in runs:
        assert not _leaks(result.stderr), result.stderr
        assert "eyJ" not in result.stderr, "no token in --debug output"
    assert _leaks(runs[0].stdout) and _leaks(runs[1].stdout), "the value goes where it was asked for"
    assert not any(_leaks(r.stdout) for r in runs[3:])
    assert _leaks((tmp_path / "f").read_text())


# Plants a bug in a fresh kvctl process: `show` fails with the value in the exception's message
# (and in its cause's), before kvctl has read - and so registered - that value anywhere.
_BUGGY_KVCTL = """
import sys
from kvctl.core import secrets

def broken(*args, **kwargs):
    try:
        raise ValueError("cause holds " + sys.argv[1])
    except ValueError as exc:
        raise RuntimeError("bug with " + sys.argv[1]) from exc

secrets.show_secret = broken
from kvctl.cli.main import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize("flags", [[], ["--debug"], ["--debug", "-v"]])
def test_unexpected_errors_never_print_a_value_in_the_exception(emulator, unique, flags):
    """Even a bug that puts a value into an exception message does not print it - in a fresh
    process, where nothing registered the value before (kvctl only stored it, in another process)."""
    name = unique("bug")
    assert run_kvctl_subprocess(["set", name], emulator=emulator, input=MARKER).exit_code == 0
    result = run_kvctl_subprocess([MARKER, *flags, "show", name], emulator=emulator, python=["-c", _BUGGY_KVCTL])
    assert result.exit_code == 1, result.stderr
    assert "unexpected error" in result.stderr and "RuntimeError" in result.stderr
    assert not _leaks(result.stderr), result.stderr
    if "--debug" in flags:
        assert "Traceback" in result.stderr and "broken" in result.stderr, "--debug still shows where it failed"
        assert "ValueError" in result.stderr, "and the cause's type"


# A library failing inside an SDK call, with a value in its message (as a client that quotes the
# request body would): kvctl's translation of SDK errors must not repeat that message either.
_BUGGY_SDK = """
import sys
from azure.keyvault.secrets import SecretClient

def broken(self, *args, **kwargs):
    raise RuntimeError("body was " + sys.argv[1])

SecretClient.send_request = broken  # what kvctl's get calls (azure/raw_reads.py)
SecretClient.get_secret = broken
from kvctl.cli.main import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize("flags", [[], ["--debug", "-v"]])
def test_an_sdk_failure_quoting_a_value_does_not_print_it(emulator, unique, flags):
    name = unique("sdkbug")
    assert run_kvctl_subprocess(["set", name], emulator=emulator, input=MARKER).exit_code == 0
    result = run_kvctl_subprocess([MARKER, *flags, "get", name], emulator=emulator, python=["-c", _BUGGY_SDK])
    assert result.exit_code != 0 and result.stdout == ""
    assert "RuntimeError" in result.stderr, result.stderr
    assert not _leaks(result.stderr), result.stderr


def _jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class _Recorder(BaseHTTPRequestHandler):
    """Plays Entra ID (issues a real-looking token) and a would-be vault (records what it is sent)."""

    seen: ClassVar[list[dict]] = []

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/oauth2/v2.0/token"):
            token = _jwt({"iss": "https://sts.windows.net/tenant/", "aud": "https://vault.azure.net", "oid": "x"})
            self._reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
            return
        self.do_GET()

    def do_GET(self) -> None:
        _Recorder.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        self._reply(
            401,
            {"error": {"code": "Unauthorized", "message": "no"}},
            {
                "WWW-Authenticate": 'Bearer authorization="https://login.windows.net/tenant", resource="https://vault.azure.net"'
            },
        )

    do_PUT = do_GET


@pytest.fixture
def recorder(emulator):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(emulator.state_dir / "server.pem", emulator.state_dir / "server-key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_real_azure_token_is_never_sent_to_a_non_azure_host(kvctl, emulator, recorder, tmp_path):
    token_file = tmp_path / "federated"
    token_file.write_text("assertion")
    result = kvctl(
        "--auth",
        "workload-identity",
        "--vault",
        recorder,
        "get",
        "a",
        env={
            "AZURE_AUTHORITY_HOST": recorder,
            "AZURE_TENANT_ID": "tenant",
            "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        },
    )
    assert result.exit_code == 2
    assert "refusing to send an Azure token" in result.stderr
    assert _Recorder.seen, "the unauthenticated probe reached the host"
    assert all(request["authorization"] is None for request in _Recorder.seen)


def test_emulator_tokens_may_go_to_loopback(kvctl, emulator):
    assert kvctl("--auth", "emulator", "list", "-o", "plain").exit_code == 0


def test_non_azure_vault_hosts_are_refused_before_any_request(kvctl):
    result = kvctl("--vault", "https://vault.example.com", "list")
    assert result.exit_code == 2 and "not a Key Vault host" in result.stderr


def test_tables_print_names_verbatim(kvctl, unique):
    """Rich markup is off: text like [bold] in data is printed as is (table path, forced)."""
    import io

    from kvctl.output import SECRET_COLUMNS, Output

    out = io.StringIO()
    Output(stdout=out).table(
        [
            {
                "name": "a[bold]b[/bold]",
                "attributes": {"enabled": True, "expires": None, "updated": None},
                "contentType": "[red]x",
                "tags": {},
            }
        ],
        SECRET_COLUMNS,
    )
    assert "a[bold]b[/bold]" in out.getvalue() and "[red]x" in out.getvalue()


def test_a_certificate_for_another_host_is_refused(kvctl, emulator):
    """The shared TLS context still checks host names: the emulator's own (trusted) certificate names
    127.0.0.1, so the same server reached as 127.0.0.2 must be refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(emulator.state_dir / "server.pem", emulator.state_dir / "server-key.pem")
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Recorder.seen = []
        result = kvctl(
            "--vault", f"https://127.0.0.2:{server.server_address[1]}", "get", "a", env={"KVCTL_RETRIES": "0"}
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 7
    assert "certificate" in result.stderr
    assert _Recorder.seen == [], "no request got through the TLS handshake"


@pytest.mark.parametrize(
    "spoof",
    [
        "akv://{loop}@evil.example/a",  # userinfo: the client would go to evil.example
        "akv://evil.example#.vault.azure.net/a",  # fragment
        "akv://evil.example?.vault.azure.net/a",  # query
        "akv://evil.example\\.vault.azure.net/a",  # backslash
        "https://evil.example%2f.vault.azure.net/secrets/a",
        "akv://{loop}/a?x=.vault.azure.net",
    ],
)
def test_hosts_that_parsers_read_differently_are_refused_before_any_request(kvctl, recorder, spoof):
    loop = recorder.removeprefix("https://")
    result = kvctl("get", spoof.format(loop=loop), env={"KVCTL_RETRIES": "0"})
    assert result.exit_code == 2, result.stderr
    assert _Recorder.seen == []
