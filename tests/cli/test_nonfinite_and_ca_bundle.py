"""Input validated before any request: `--hook-timeout nan` (every comparison with nan is false, so
a range check let it through and the hook ran without a limit) and a CA bundle with no PEM
certificate in it (it failed inside the TLS layer as an unexpected error, exit 1)."""

from __future__ import annotations

import math
import shutil
import subprocess

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvctl.cli.params import FiniteFloatRange
from tests.conftest import run_kvctl_process


@pytest.mark.parametrize("given_text", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_rotate_refuses_a_hook_timeout_that_is_not_a_finite_number(emulator, unique, tmp_path, given_text):
    name = unique("nan")
    env = {**emulator.env, "KVCTL_NO_PROGRESS": "1"}
    assert run_kvctl_process(["set", name, "--value", "old"], env=env).returncode == 0
    marker = tmp_path / "ran"
    args = ["rotate", name, "--apply-command", f"touch {marker}", "--hook-timeout", given_text]
    done = run_kvctl_process(args, env=env)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "--hook-timeout" in stderr and "Traceback" not in stderr, stderr
    assert not marker.exists(), "nothing ran"
    got = run_kvctl_process(["get", name, "-o", "plain"], env=env)
    assert got.stdout == b"old\n", "the vault is unchanged"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_finite_float_range_accepts_exactly_the_finite_numbers_in_range(number):
    kind = FiniteFloatRange(1, 86400)
    inside = math.isfinite(number) and 1 <= number <= 86400
    try:
        converted = kind.convert(repr(number), None, None)
    except click.BadParameter:
        assert not inside
    else:
        assert inside and converted == number


@pytest.mark.parametrize("content", [None, b"not a certificate\n", b"\x00\xff\xfe", b""])
def test_a_ca_bundle_without_a_pem_certificate_is_a_usage_error(emulator, tmp_path, content):
    if content is None:
        bundle = "/etc/passwd"
    else:
        path = tmp_path / "bundle.pem"
        path.write_bytes(content)
        bundle = str(path)
    for args, env in (
        (["--ca-bundle", bundle, "get", "s1"], emulator.env),
        (["get", "s1"], {**emulator.env, "KVCTL_CA_BUNDLE": bundle}),
    ):
        done = run_kvctl_process(args, env=env)
        lines = done.stderr.decode().splitlines()
        assert done.returncode == 2, lines
        assert (
            lines[0]
            == f"kvctl: error: the CA bundle {bundle} is not a PEM CA bundle (no certificate could be read from it)"
        )
        assert len(lines) == 2 and lines[1].startswith("hint: "), lines


def _hashed_directory(tmp_path, cert_file: str | None) -> str:
    """A CA directory as OpenSSL's `capath` reads it: each certificate under its subject hash."""
    directory = tmp_path / "certs"
    directory.mkdir()
    if cert_file:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("needs the openssl command to name a certificate by its subject hash")
        done = subprocess.run(
            [openssl, "x509", "-subject_hash", "-noout", "-in", cert_file], capture_output=True, text=True, check=True
        )
        shutil.copy(cert_file, directory / f"{done.stdout.strip()}.0")
    return str(directory)


@pytest.mark.parametrize(
    ("in_directory", "requests_bundle", "extra", "trusted"),
    [
        (True, False, "unrelated", True),  # the system directory is trusted beside the extra bundle
        (False, False, "unrelated", False),  # ...and is what made the difference
        (False, True, "unrelated", True),  # REQUESTS_CA_BUNDLE is still added
        (False, False, "emulator", True),  # the extra bundle itself
    ],
)
def test_ca_bundle_adds_to_the_system_directory_and_requests_bundle(
    emulator, tmp_path, in_directory, requests_bundle, extra, trusted
):
    """--ca-bundle trusts the system's CA directory (read lazily, by hash) plus the bundle, and
    REQUESTS_CA_BUNDLE where set: nothing narrower than before, without parsing full bundles."""
    import certifi

    ca = emulator.info["caFile"]
    env = {
        **emulator.env,
        "KVCTL_CA_BUNDLE": certifi.where() if extra == "unrelated" else ca,
        "SSL_CERT_DIR": _hashed_directory(tmp_path, ca if in_directory else None),
        "SSL_CERT_FILE": None,
        "REQUESTS_CA_BUNDLE": ca if requests_bundle else None,
        "CURL_CA_BUNDLE": None,
        "KVCTL_RETRIES": "0",
    }
    done = run_kvctl_process(["get", "no-such-secret"], env=env)
    stderr = done.stderr.decode()
    if trusted:
        assert done.returncode == 3, stderr  # the vault answered: not found
    else:
        assert done.returncode == 7 and "not trusted" in stderr, stderr


def test_ca_bundle_keeps_an_ssl_cert_file_that_is_not_the_system_bundle(emulator, tmp_path):
    """Beside a usable CA directory, SSL_CERT_FILE naming some other bundle is still trusted (only the
    system's own bundle, whose CAs the directory holds, is left to the directory)."""
    import certifi

    directory = tmp_path / "certs"
    directory.mkdir()
    first = certifi.contents().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    (directory / "00000000.0").write_text(first)  # a hashed directory, without the emulator's CA
    env = {
        **emulator.env,
        "KVCTL_CA_BUNDLE": certifi.where(),
        "SSL_CERT_DIR": str(directory),
        "REQUESTS_CA_BUNDLE": None,
        "CURL_CA_BUNDLE": None,
        "KVCTL_RETRIES": "0",
    }
    for cert_file, status in ((emulator.info["caFile"], 3), (certifi.where(), 7)):
        done = run_kvctl_process(["get", "no-such-secret"], env={**env, "SSL_CERT_FILE": cert_file})
        assert done.returncode == status, done.stderr.decode()
