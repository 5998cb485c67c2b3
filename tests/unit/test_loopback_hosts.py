"""Which hosts count as loopback (the emulator's tokens may go there): IP literals in
127.0.0.0/8, ::1 and exactly `localhost`; never a `*.localhost` name, which DNS may resolve anywhere."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from kvctl.core.clouds import is_loopback
from tests.conftest import run_kvctl

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(st.lists(labels, min_size=1, max_size=4), st.sampled_from(["localhost", "LOCALHOST", "Localhost"]))
def test_no_subdomain_of_localhost_is_loopback(names, suffix):
    assert not is_loopback(".".join([*names, suffix]))


@given(st.integers(min_value=0, max_value=2**24 - 1))
def test_every_127_address_is_loopback(n):
    assert is_loopback(str(ipaddress.IPv4Address((127 << 24) + n)))


@given(st.ip_addresses())
def test_other_addresses_are_not(address):
    assert is_loopback(str(address)) == address.is_loopback


def test_exact_names():
    assert is_loopback("localhost") and is_loopback("LocalHost") and is_loopback("::1")
    assert not is_loopback("localhost.") and not is_loopback("localhost.example.com")


def test_an_emulator_token_is_not_sent_to_a_localhost_subdomain(emulator):
    result = run_kvctl(["--auth", "emulator", "--vault", "https://evil.localhost:1234", "list"], emulator=emulator)
    assert result.exit_code == 2, result.stderr
    assert "evil.localhost" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
