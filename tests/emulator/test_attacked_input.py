"""Input an attacker sent the emulator: times the service cannot keep, lone surrogates, and a body
announced but never sent. Each is answered as the service answers bad input, and the emulator
keeps serving."""

from __future__ import annotations

import json
import socket
import ssl
from urllib.parse import urlsplit

import pytest

from .test_wire import API, raw

# One past what the service keeps (9999-12-31T23:59:59Z), far past it, and before 1970.
OUT_OF_RANGE = [253402300800, 99999999999999, -1]


@pytest.mark.parametrize("key", ["exp", "nbf"])
@pytest.mark.parametrize("moment", OUT_OF_RANGE)
def test_a_time_the_service_cannot_keep_is_bad_parameter_on_put_and_patch(emulator, unique, key, moment):
    name = unique("range")
    status, _, got = raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "x", "attributes": {key: moment}})
    assert status == 400 and got["error"]["code"] == "BadParameter"
    assert f"attributes.{key}" in got["error"]["message"]
    assert raw(emulator, "GET", f"/secrets/{name}/?{API}")[0] == 404  # nothing was stored

    assert raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "x"})[0] == 200
    status, _, got = raw(emulator, "PATCH", f"/secrets/{name}/?{API}", {"attributes": {key: moment}})
    assert status == 400 and got["error"]["code"] == "BadParameter"
    _, _, stored = raw(emulator, "GET", f"/secrets/{name}/?{API}")
    assert key not in stored["attributes"]


@pytest.mark.parametrize("moment", [0, 253402300799])
def test_the_edges_of_the_range_are_kept(emulator, unique, moment):
    name = unique("edge")
    status, _, got = raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "x", "attributes": {"exp": moment}})
    assert status == 200 and got["attributes"]["exp"] == moment


@pytest.mark.parametrize(
    "body",
    [
        b'{"value": "\\ud800"}',
        b'{"value": "ok\\udfff"}',
        b'{"value": "x", "contentType": "\\ud800"}',
        b'{"value": "x", "tags": {"\\ud800": "v"}}',
        b'{"value": "x", "tags": {"k": "\\udc00"}}',
    ],
)
def test_a_lone_surrogate_is_bad_parameter_not_a_server_error(emulator, unique, body):
    name = unique("surrogate")
    status, _, got = raw(emulator, "PUT", f"/secrets/{name}?{API}", body, headers={"Content-Type": "application/json"})
    assert status == 400 and got["error"]["code"] == "BadParameter"
    assert raw(emulator, "GET", f"/secrets/{name}/?{API}")[0] == 404
    status, _, got = raw(
        emulator,
        "PATCH",
        f"/secrets/{name}/?{API}",
        b'{"tags": {"k": "\\ud800"}}',
        headers={"Content-Type": "application/json"},
    )
    assert status in (400, 404) and got["error"]["code"] in ("BadParameter", "SecretNotFound")


def test_a_body_announced_but_not_sent_is_answered_and_the_connection_closed(emulator, unique):
    parts = urlsplit(emulator.vault_url)
    token = emulator.token("https://vault.azure.net")
    request = (
        f"PUT /secrets/{unique('slow')}?{API} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{"
    ).encode()
    context = emulator.ssl_context()
    # The timeout only keeps a broken emulator from hanging the suite; the emulator must answer first.
    with (
        socket.create_connection((parts.hostname, parts.port), timeout=120) as plain,
        context.wrap_socket(plain, server_hostname=parts.hostname) as conn,
    ):
        conn.sendall(request)
        received = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except (ssl.SSLError, ConnectionError):
                break
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n")[0]
    assert status_line.split()[1] in (b"400", b"408"), status_line
    assert json.loads(body)["error"]["code"] in ("RequestTimeout", "BadParameter")
    assert b"connection: close" in head.lower()
    assert raw(emulator, "GET", f"/secrets?{API}&maxresults=1")[0] == 200
