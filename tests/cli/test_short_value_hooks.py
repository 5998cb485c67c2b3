"""A rotation's value shorter than redaction.MIN_LENGTH (4) cannot be masked in what the hooks
print (masking 'ab' everywhere would mangle the text and still show where it was), so kvctl
withholds that command's output and says so; a longer value is masked and the rest is shown."""

from __future__ import annotations

import pytest

from kvctl.core.hooks import too_short_to_mask
from tests.conftest import run_kvctl_process

APPLY = 'v=$(cat); echo "applied [$v]"; echo "apply-err [$v]" >&2'


def _rotate(emulator, tmp_path, name, *args):
    env = {**emulator.env, "KVCTL_NO_PROGRESS": "1"}
    return run_kvctl_process(["rotate", name, *args], env=env, cwd=tmp_path)


@pytest.mark.parametrize(
    "source",
    [
        ["--generator", "hex", "--length", "3"],
        ["--from-command", 'printf "z9q\\n"; echo "from-err [z9q]" >&2'],
    ],
)
def test_a_short_value_never_reaches_the_terminal_through_a_hook(kvctl, emulator, unique, tmp_path, source):
    name = unique("short")
    assert kvctl("set", name, "--value", "old-value").exit_code == 0
    done = _rotate(emulator, tmp_path, name, *source, "--apply-command", APPLY)
    assert done.returncode == 0, done.stderr
    value = kvctl("get", name, "-o", "plain").stdout.rstrip("\n")
    assert len(value) == 3 and value != "old-value"
    stderr = done.stderr.decode()
    assert f"[{value}]" not in stderr and f"[{value}]".encode() not in done.stdout, stderr
    assert "output is withheld" in stderr, stderr


def test_a_long_value_is_masked_and_the_rest_of_the_output_shown(kvctl, emulator, unique, tmp_path):
    name = unique("long")
    assert kvctl("set", name, "--value", "old-value").exit_code == 0
    done = _rotate(emulator, tmp_path, name, "--generator", "hex", "--length", "8", "--apply-command", APPLY)
    assert done.returncode == 0, done.stderr
    stderr = done.stderr.decode()
    assert "applied [***]" in stderr and "apply-err [***]" in stderr and "withheld" not in stderr, stderr


@pytest.mark.parametrize(
    ("value", "short"),
    [(b"", False), (b"a", True), (b"abc", True), (b"abc\n", True), (b"  ab  ", True), (b"abcd", False),
     (b"abcd\n", False)],
)  # fmt: skip
def test_too_short_to_mask(value, short):
    assert too_short_to_mask(value) is short
