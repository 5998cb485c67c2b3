"""dotenv and shell output read back to exactly the same bytes, whatever the value."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.core.envformat import dotenv_line, env_name, parse_dotenv, shell_line
from tests.hostile_values import HOSTILE

values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)


@given(st.lists(values, min_size=1, max_size=5))
def test_dotenv_round_trips_any_values(items):
    text = "".join(dotenv_line(f"V{i}", value) for i, value in enumerate(items))
    assert [value for _, value, _ in parse_dotenv(text)] == items


def test_dotenv_round_trips_hostile_values():
    text = "# comment\n\n" + "".join(dotenv_line(f"V{i}", v) for i, v in enumerate(HOSTILE))
    assert [v for _, v, _ in parse_dotenv(text)] == HOSTILE


@settings(max_examples=25, deadline=None)
@given(st.lists(values, min_size=1, max_size=3))
def test_shell_lines_evaluate_to_the_same_bytes(items):
    script = "".join(shell_line(f"V{i}", v) for i, v in enumerate(items))
    script += "".join(f'printf "%s\\0" "$V{i}"\n' for i in range(len(items)))
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.decode().split("\0")[:-1] == items


def test_env_names():
    assert env_name("db-password") == "DB_PASSWORD"
    assert env_name("1st") == "_1ST"


@pytest.mark.parametrize("value", ["abc\n", "plain\n\n", "x\r\n"])
def test_a_trailing_newline_is_kept_in_shell_and_dotenv_lines(value):
    script = shell_line("V", value) + 'printf "%s" "$V"\n'
    assert subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout.decode() == value
    assert [v for _, v, _ in parse_dotenv(dotenv_line("V", value))] == [value]
