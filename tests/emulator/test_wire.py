"""The emulator's answers on the wire, checked against KEYVAULT-WIRE.md, with raw HTTPS requests."""

from __future__ import annotations

import base64
import http.client
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

API = "api-version=2026-04-01"
CHALLENGE = re.compile(
    r'^Bearer authorization="https://login\.windows\.net/[0-9a-f-]{36}", resource="https://vault\.azure\.net"$'
)


def raw(
    emulator, method: str, path: str, body: Any = None, *, token: str | None = "vault", headers=None, url=None
) -> tuple[int, dict[str, str], Any]:
    parts = urlsplit(url or emulator.vault_url)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=emulator.ssl_context(), timeout=10)
    sent = dict(headers or {})
    if token == "vault":
        token = emulator.token("https://vault.azure.net")
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=sent)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    parsed = json.loads(data) if data else None
    return response.status, {k.lower(): v for k, v in response.getheaders()}, parsed


def _all_items(emulator, first: str):
    path = first
    while path:
        _, _, page = raw(emulator, "GET", path)
        yield from page["value"]
        link = urlsplit(page["nextLink"]) if page["nextLink"] else None
        path = f"{link.path}?{link.query}" if link else None


def test_no_token_gets_the_challenge(emulator):
    status, headers, body = raw(emulator, "GET", f"/secrets?{API}", token=None)
    assert status == 401
    assert CHALLENGE.match(headers["www-authenticate"])
    assert body == {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}
    assert headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/secrets/{n}", b""),  # the SDK's empty-body probe
        ("PUT", "/secrets/{n}", {"value": "sneaky"}),
        ("PATCH", "/secrets/{n}/", {"contentType": "x"}),
        ("DELETE", "/secrets/{n}", None),
        ("POST", "/secrets/{n}/backup", None),
        ("POST", "/secrets/restore", {"value": "abc"}),
        ("POST", "/deletedsecrets/{n}/recover", None),
        ("DELETE", "/deletedsecrets/{n}", None),
        ("GET", "/secrets/{n}/", None),
        ("GET", "/secrets/{n}/versions", None),
        ("GET", "/deletedsecrets", None),
        ("GET", "/deletedsecrets/{n}", None),
        ("GET", "/secrets", None),
    ],
)
def test_every_operation_requires_the_challenge_and_changes_nothing(emulator, unique, method, path, body):
    name = unique("probe")
    before = emulator.state()
    headers = {"Content-Length": "0"} if body == b"" else None
    status, response_headers, _ = raw(
        emulator, method, f"{path.format(n=name)}?{API}", body, token=None, headers=headers
    )
    assert status == 401
    assert CHALLENGE.match(response_headers["www-authenticate"])
    assert emulator.state() == before


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJvaWQiOiJ4In0.c2ln"])
def test_tokens_the_emulator_did_not_issue_are_refused(emulator, token):
    status, headers, body = raw(emulator, "GET", f"/secrets?{API}", token=token)
    assert status == 401
    assert "www-authenticate" in headers
    assert body["error"]["code"] == "Unauthorized"


def test_a_token_for_another_audience_is_refused(emulator):
    arm_token = emulator.token("https://management.azure.com")
    status, _, body = raw(emulator, "GET", f"/secrets?{API}", token=arm_token)
    assert status == 401 and body["error"]["code"] == "Unauthorized"


def test_a_forged_signature_is_refused(emulator):
    header, payload, _ = emulator.token("https://vault.azure.net").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["oid"] = claims["oid"]  # same claims, signature replaced
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 32).rstrip(b'=').decode()}"
    assert raw(emulator, "GET", f"/secrets?{API}", token=forged)[0] == 401


def test_record_shape_and_ids(emulator, unique):
    name = unique("shape")
    status, headers, body = raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "v", "tags": {"a": "b"}})
    assert status == 200
    assert set(body) == {"value", "id", "attributes", "tags"}
    version = body["id"].rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{32}", version)
    assert body["id"] == f"{emulator.vault_url}/secrets/{name}/{version}"
    assert set(body["attributes"]) == {"enabled", "created", "updated", "recoveryLevel", "recoverableDays"}
    assert isinstance(body["attributes"]["created"], int)
    assert body["attributes"]["recoveryLevel"] == "Recoverable+Purgeable"
    assert headers["x-ms-keyvault-service-version"]
    # a list item: id without version, and never a value
    _, _, page = raw(emulator, "GET", f"/secrets/{name}/versions?{API}")
    assert "value" not in page["value"][0]
    items = list(_all_items(emulator, f"/secrets?{API}&maxresults=25"))
    assert f"{emulator.vault_url}/secrets/{name}" in {i["id"] for i in items}
    assert all("value" not in i for i in items)
    # update answers the record without its value
    status, _, patched = raw(emulator, "PATCH", f"/secrets/{name}/?{API}", {"contentType": "text/plain"})
    assert status == 200 and "value" not in patched and patched["contentType"] == "text/plain"


def test_next_link_points_back_at_the_emulator(emulator, unique):
    prefix = unique("nl")
    for i in range(3):
        raw(emulator, "PUT", f"/secrets/{prefix}-{i}?{API}", {"value": "x"})
    _, _, page = raw(emulator, "GET", f"/secrets?{API}&maxresults=1")
    link = urlsplit(page["nextLink"])
    assert f"https://{link.netloc}" == emulator.vault_url
    assert link.path == "/secrets"
    assert "$skiptoken=" in link.query and "maxresults=1" in link.query
    status, _, second = raw(emulator, "GET", f"{link.path}?{link.query}")
    assert status == 200 and len(second["value"]) == 1 and second["value"] != page["value"]


@pytest.mark.parametrize("size", ["0", "26", "abc", "-1"])
def test_maxresults_outside_1_to_25_is_bad_parameter(emulator, size):
    status, _, body = raw(emulator, "GET", f"/secrets?{API}&maxresults={size}")
    assert status == 400 and body["error"]["code"] == "BadParameter"


def test_delete_and_purge_shapes(emulator, unique):
    name = unique("purge")
    raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "x"})
    status, _, deleted = raw(emulator, "DELETE", f"/secrets/{name}?{API}")
    assert status == 200
    assert deleted["recoveryId"] == f"{emulator.vault_url}/deletedsecrets/{name}"
    assert deleted["scheduledPurgeDate"] - deleted["deletedDate"] == 90 * 86400
    assert "value" not in deleted
    _, _, listed = raw(emulator, "GET", f"/deletedsecrets?{API}")
    item = next(i for i in listed["value"] if i["recoveryId"].endswith(f"/{name}"))
    assert item["id"] == f"{emulator.vault_url}/secrets/{name}"
    status, headers, body = raw(emulator, "DELETE", f"/deletedsecrets/{name}?{API}")
    assert status == 204 and body is None and headers["content-length"] == "0"


def test_recover_answers_the_record_without_value(emulator, unique):
    name = unique("rec")
    raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "x"})
    raw(emulator, "DELETE", f"/secrets/{name}?{API}")
    status, _, body = raw(emulator, "POST", f"/deletedsecrets/{name}/recover?{API}")
    assert status == 200 and "value" not in body and body["id"].startswith(f"{emulator.vault_url}/secrets/{name}/")


def test_backup_blob_is_base64url_without_padding(emulator, unique):
    name = unique("blob")
    raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "do-not-show-me"})
    status, _, body = raw(emulator, "POST", f"/secrets/{name}/backup?{API}")
    assert status == 200 and set(body) == {"value"}
    assert re.fullmatch(r"[A-Za-z0-9_-]+", body["value"])
    assert b"do-not-show-me" not in base64.urlsafe_b64decode(body["value"] + "==")


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        ("PUT", "/secrets/x?" + API, b"{not json", {"Content-Type": "application/json"}, 400, "BadParameter"),
        ("PUT", "/secrets/x?" + API, b'{"value": 5}', {"Content-Type": "application/json"}, 400, "BadParameter"),
        ("PUT", "/secrets/x?" + API, b'["value"]', {"Content-Type": "application/json"}, 400, "BadParameter"),
        ("PUT", "/secrets/x?" + API, b'{"value": "v"}', {"Content-Type": "text/plain"}, 400, "BadParameter"),
        ("PUT", "/secrets/x?api-version=1999-01-01", b'{"value": "v"}', None, 400, "BadParameter"),
        ("GET", "/secrets", None, None, 400, "BadParameter"),
        ("GET", "/secrets/a_b/?" + API, None, None, 400, "BadParameter"),
        ("GET", "/secrets/" + "a" * 128 + "/?" + API, None, None, 400, "BadParameter"),
        ("GET", "/nothing/here?" + API, None, None, 404, "NotFound"),
        (
            "PUT",
            "/secrets/x?" + API,
            b"x" * (2 * 1024 * 1024),
            {"Content-Type": "application/json"},
            413,
            "RequestEntityTooLarge",
        ),
    ],
)
def test_bad_input_gets_the_service_error_shape_and_the_emulator_keeps_serving(
    emulator, method, path, body, headers, status, code
):
    got_status, _got_headers, got = raw(emulator, method, path, body, headers=headers)
    assert got_status == status
    assert got["error"]["code"] == code
    assert isinstance(got["error"]["message"], str) and "Traceback" not in got["error"]["message"]
    assert raw(emulator, "GET", f"/secrets?{API}&maxresults=1")[0] == 200


def test_concurrent_updates_of_different_attributes_all_land(emulator, unique):
    import concurrent.futures
    import functools

    token = emulator.token("https://vault.azure.net")
    patches = [
        {"contentType": "text/plain"},
        {"attributes": {"exp": 2000000000}},
        {"tags": {"k": "v"}},
        {"attributes": {"nbf": 1000000000}},
    ]
    for round_ in range(15):
        name = unique(f"race{round_}")
        raw(emulator, "PUT", f"/secrets/{name}?{API}", {"value": "x"}, token=token)
        with concurrent.futures.ThreadPoolExecutor(len(patches)) as pool:
            patch = functools.partial(raw, emulator, "PATCH", f"/secrets/{name}/?{API}", token=token)
            list(pool.map(patch, patches))
        _, _, got = raw(emulator, "GET", f"/secrets/{name}/?{API}", token=token)
        assert got["contentType"] == "text/plain" and got["tags"] == {"k": "v"}
        assert got["attributes"]["exp"] == 2000000000 and got["attributes"]["nbf"] == 1000000000
