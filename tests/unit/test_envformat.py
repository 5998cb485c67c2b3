"""dotenv and shell output read back to exactly the same bytes by kvctl's own reader (`run
--env-file`), whatever the value, or the value is refused; the real consumers are in
tests/devenv/."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvctl.core.envformat import DIALECTS, Unwritable, dotenv_line, dotenv_quote, env_name, parse_dotenv, shell_line
from kvctl.core.errors import UsageError
from tests.hostile_values import HOSTILE

values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)
# kvctl's reader does not do Compose's $$ nor npm's backtick quotes (those dialects are for
# that one consumer only).
READABLE_DIALECTS = [d for d in DIALECTS if d not in ("compose", "node")]
AWKWARD = [*HOSTILE, "'", "`", "${VAR}", "end\\", "\\\\", "a\r\nb", "it's\nmulti", "\\'", " x ", "a=b", "'\""]


@pytest.mark.parametrize("dialect", READABLE_DIALECTS)
@given(items=st.lists(values, min_size=1, max_size=5))
def test_every_dialect_is_read_back_by_run_env_file_or_refused(dialect, items):
    lines = []
    kept = []
    for i, value in enumerate(items):
        try:
            lines.append(f"V{i}={dotenv_quote(value, dialect)}\n")
            kept.append((f"V{i}", value))
        except Unwritable:
            continue
    assert [(name, value) for name, value, _ in parse_dotenv("".join(lines))] == kept


@pytest.mark.parametrize("dialect", READABLE_DIALECTS)
def test_awkward_values_in_every_readable_dialect(dialect):
    for value in AWKWARD:
        try:
            line = dotenv_line("V", value, dialect)
        except UsageError:
            assert dialect in ("portable", "python-dotenv"), "shell never refuses"
            continue
        assert [v for _, v, _ in parse_dotenv(line + "NEXT=1\n")] == [value, "1"], (dialect, value)


@given(values)
def test_portable_refuses_exactly_what_no_quoting_can_keep(value):
    try:
        quoted = dotenv_quote(value)
    except Unwritable as exc:
        assert "\r" in value or "${" in value or "\\" in value or "'" in value, str(exc)
        return
    assert quoted[0] == quoted[-1] and quoted[0] in "'\""
    inner = quoted[1:-1]
    assert inner == value, "the portable dialect never escapes: what is inside the quotes is the value"
    if quoted[0] == '"':
        assert not set(inner) & set('\\"$`'), "nothing a shell expands inside double quotes"


def test_a_refused_value_names_the_variable_and_points_elsewhere():
    with pytest.raises(UsageError) as caught:
        dotenv_line("DB_PASSWORD", "it's $x")
    assert "$DB_PASSWORD" in caught.value.message and "it's" not in caught.value.message
    assert caught.value.hint and "-o env" in caught.value.hint


def test_hostile_values_portable_or_refused_and_shell_always():
    text = "# comment\n\n"
    expected = []
    for i, value in enumerate(HOSTILE):
        try:
            text += dotenv_line(f"V{i}", value)
            expected.append(value)
        except UsageError:
            pass
    assert [v for _, v, _ in parse_dotenv(text)] == expected
    shell = "".join(shell_line(f"S{i}", v) for i, v in enumerate(HOSTILE))
    assert [v for _, v, _ in parse_dotenv(shell)] == HOSTILE, "run --env-file reads --format shell"


@settings(max_examples=25, deadline=None)
@given(st.lists(values, min_size=1, max_size=3))
def test_shell_lines_evaluate_to_the_same_bytes(items):
    script = "".join(shell_line(f"V{i}", v) for i, v in enumerate(items))
    script += "".join(f'printf "%s\\0" "$V{i}"\n' for i in range(len(items)))
    out = subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout
    assert out.decode().split("\0")[:-1] == items


@given(st.lists(values, min_size=1, max_size=4))
def test_run_env_file_reads_shell_lines_exactly(items):
    script = "".join(shell_line(f"V{i}", v) for i, v in enumerate(items))
    assert [v for _, v, _ in parse_dotenv(script)] == items


def test_env_names():
    assert env_name("db-password") == "DB_PASSWORD"
    assert env_name("1st") == "_1ST"


@pytest.mark.parametrize("value", ["abc\n", "plain\n\n", "x\r\n"])
def test_a_trailing_newline_is_kept_in_shell_and_dotenv_lines(value):
    script = shell_line("V", value) + 'printf "%s" "$V"\n'
    assert subprocess.run(["sh", "-c", script], capture_output=True, check=True).stdout.decode() == value
    for dialect in READABLE_DIALECTS:
        try:
            line = dotenv_line("V", value, dialect)
        except UsageError:
            assert "\r" in value and dialect in ("portable", "node")
            continue
        assert [v for _, v, _ in parse_dotenv(line)] == [value]
