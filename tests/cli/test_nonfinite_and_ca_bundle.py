"""Input validated before any request: `--hook-timeout nan` (every comparison with nan is false, so
a range check let it through and the hook ran without a limit) and a CA bundle with no PEM
certificate in it (it failed inside the TLS layer as an unexpected error, exit 1)."""

from __future__ import annotations

import math

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
