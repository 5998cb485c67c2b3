"""A service answer with a time kvctl cannot represent (a year past 9999) is a malformed answer:
every command says so in one line and exits 7, and `list -o json` prints no partial array.

The emulator refuses such times now, as the service does; the test plants one in its state while
it is stopped, to stand for a service (or a proxy) that answers one anyway."""

from __future__ import annotations

import sqlite3

import pytest

from ..conftest import run_kvctl_subprocess


@pytest.fixture
def planted(fresh_emulator, tmp_path):
    emulator = fresh_emulator()
    for name in ("aaa-fine", "bbb-broken", "ccc-fine"):
        assert run_kvctl_subprocess(["set", name, "--value", "v"], emulator=emulator, cwd=tmp_path).exit_code == 0
    state_dir = emulator.state_dir
    emulator.stop()
    with sqlite3.connect(state_dir / "state.db") as db:
        changed = db.execute(
            "UPDATE versions SET exp = 99999999999999 WHERE key IN (SELECT key FROM secrets WHERE name = 'bbb-broken')"
        ).rowcount
    assert changed == 1
    return fresh_emulator(state_dir=state_dir)


@pytest.mark.parametrize(
    "args",
    [["list", "-o", "json"], ["show", "bbb-broken"], ["versions", "bbb-broken"], ["check"]],
)
def test_an_undecodable_time_is_a_malformed_answer_in_one_line(planted, tmp_path, args):
    result = run_kvctl_subprocess(args, emulator=planted, cwd=tmp_path)
    assert result.exit_code == 7, result.stderr
    assert result.stdout == ""  # no partial array, no half table
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert "bbb-broken" in lines[0] and "cannot read" in lines[0]
    assert len(lines) <= 2  # the message and its hint


def test_the_other_secrets_still_read(planted, tmp_path):
    result = run_kvctl_subprocess(["show", "aaa-fine", "-o", "json"], emulator=planted, cwd=tmp_path)
    assert result.exit_code == 0 and result.json["name"] == "aaa-fine"
