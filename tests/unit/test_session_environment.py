"""kvctl's requests session reads proxies, the CA bundle variables and netrc once per origin; what
it settles on must be what requests itself would have settled on, request by request."""

from __future__ import annotations

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.azure.transport import _no_auth, _Session

_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def clean_proxy_environment(monkeypatch, tmp_path):
    for name in (*_VARIABLES, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no user's ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def _both(url: str, proxies: dict | None = None, verify: object = None) -> tuple[dict, dict]:
    ours = _Session().merge_environment_settings(url, dict(proxies or {}), None, verify, None)
    theirs = requests.Session().merge_environment_settings(url, dict(proxies or {}), None, verify, None)
    return ours, {**theirs, "proxies": dict(theirs["proxies"])}


_URLS = st.sampled_from(
    [
        "https://myvault.vault.azure.net/secrets/a?api-version=7.5",
        "https://127.0.0.1:8443/secrets",
        "http://127.0.0.1:1234/msi/token",
        "https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
        "https://MyVault.vault.azure.net:443/secrets",
    ]
)
_PROXY = st.sampled_from(["http://proxy.example:3128", "http://127.0.0.1:9", ""])
_NO_PROXY = st.sampled_from([None, "127.0.0.1", "localhost,.vault.azure.net", "*", ".azure.net"])


@settings(max_examples=60, deadline=None)
@given(
    url=_URLS,
    https=_PROXY,
    http=_PROXY,
    no_proxy=_NO_PROXY,
    explicit=st.sampled_from([None, {"https": "http://given.example:1"}, {"no_proxy": "127.0.0.1"}]),
    bundle=st.sampled_from([None, "/etc/bundle.pem"]),
)
def test_settings_are_those_requests_would_use(url, https, http, no_proxy, explicit, bundle):
    with pytest.MonkeyPatch.context() as env:
        for name, value in (("HTTPS_PROXY", https), ("HTTP_PROXY", http), ("NO_PROXY", no_proxy)):
            if value:
                env.setenv(name, value)
        if bundle:
            env.setenv("REQUESTS_CA_BUNDLE", bundle)
        ours, theirs = _both(url, explicit)
        assert ours == theirs


def test_an_explicit_verify_is_kept_over_the_environment_bundle(monkeypatch):
    monkeypatch.setenv("CURL_CA_BUNDLE", "/from/env.pem")
    for verify in (False, "/given.pem", True, None):
        ours, theirs = _both("https://a.vault.azure.net/", verify=verify)
        assert ours == theirs


def test_netrc_credentials_are_used_as_requests_would_and_looked_up_once_per_origin(monkeypatch, tmp_path):
    (tmp_path / "netrc").write_text("machine proxy-host.example login user password pass\n")
    session = _Session()
    with_netrc = session.prepare_request(requests.Request("GET", "https://proxy-host.example/a"))
    plain = requests.Session().prepare_request(requests.Request("GET", "https://proxy-host.example/a"))
    assert with_netrc.headers["Authorization"] == plain.headers["Authorization"]
    without = session.prepare_request(requests.Request("GET", "https://other.example/a", headers={"X": "1"}))
    assert "Authorization" not in without.headers
    (tmp_path / "netrc").unlink()  # read once per origin: the process's view does not change mid-run
    again = session.prepare_request(requests.Request("GET", "https://proxy-host.example/b"))
    assert again.headers["Authorization"] == plain.headers["Authorization"]
    assert _no_auth(without) is without


def test_the_environment_is_read_once_per_origin(monkeypatch):
    session = _Session()
    monkeypatch.setenv("HTTPS_PROXY", "http://first.example:1")
    first = session.merge_environment_settings("https://a.vault.azure.net/x", {}, None, None, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://second.example:1")
    same_origin = session.merge_environment_settings("https://a.vault.azure.net/y?z=1", {}, None, None, None)
    other_origin = session.merge_environment_settings("https://b.vault.azure.net/x", {}, None, None, None)
    assert first["proxies"]["https"] == same_origin["proxies"]["https"] == "http://first.example:1"
    assert other_origin["proxies"]["https"] == "http://second.example:1"
