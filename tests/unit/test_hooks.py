"""The shell runner behind --apply-command and --from-command, with real processes."""

from __future__ import annotations

import os
import re
import time

import pytest

from kvctl.core.errors import UsageError
from kvctl.core.hooks import CommandOutcome, ShellRunner
from kvctl.core.models import Secret
from kvctl.core.refs import SecretRef
from kvctl.core.rotation_bulk import command_source


def runner():
    lines: list[bytes] = []
    return ShellRunner(lines.append), lines


def test_stdin_reaches_the_command_and_its_output_is_relayed(tmp_path):
    run, lines = runner()
    target = tmp_path / "got"
    outcome = run(
        f'cat > {target}; echo "out $X"; echo err >&2; exit 3',
        stdin=b"the value",
        env={**os.environ, "X": "1"},
        timeout=10,
        capture=False,
    )
    assert outcome == CommandOutcome(3) and outcome.describe() == "exit 3"
    assert target.read_bytes() == b"the value"
    assert sorted(lines) == [b"err\n", b"out 1\n"]


def test_captured_stdout_is_returned_not_relayed():
    run, lines = runner()
    outcome = run("printf 'value1\\n'; echo note >&2", stdin=b"", env=dict(os.environ), timeout=10, capture=True)
    assert outcome.exit_code == 0 and outcome.stdout == b"value1\n" and lines == [b"note\n"]


def test_a_command_that_ignores_stdin_is_fine():
    run, _ = runner()
    assert run("exit 0", stdin=b"x" * 200_000, env=dict(os.environ), timeout=10, capture=False).exit_code == 0


def test_a_timeout_stops_the_command_and_what_it_started(tmp_path):
    run, _ = runner()
    marker = tmp_path / "late"
    outcome = run(f"(sleep 3; touch {marker}) & sleep 30", stdin=b"", env=dict(os.environ), timeout=0.5, capture=False)
    assert outcome.timed_out and outcome.describe() == "timed out and was stopped"
    time.sleep(3.5)
    assert not marker.exists(), "the whole process group was stopped"


def test_a_daemon_holding_the_pipes_does_not_hang_kvctl(tmp_path):
    """The daemon keeps the inherited pipes open until the test lets it go, which is only after
    `run` returned: a runner that waited for the pipes to close would wait into its own timeout."""
    run, _ = runner()
    release = tmp_path / "release"
    daemon = f"(while [ ! -e {release} ]; do sleep 0.1; done) & exit 0"
    try:
        outcome = run(daemon, stdin=b"", env=dict(os.environ), timeout=30, capture=False)
    finally:
        release.touch()
    assert not outcome.timed_out and outcome.exit_code == 0


def test_signals_are_described():
    run, _ = runner()
    assert run("kill -9 $$", stdin=b"", env=dict(os.environ), timeout=10, capture=False).describe() == (
        "was killed by signal 9"
    )


CURRENT = Secret("id", "https://v.vault.azure.net", "db", "abc")
REF = SecretRef("https://v.vault.azure.net", "db")


def test_from_command_strips_one_newline_and_knows_the_secret():
    run, _ = runner()
    source = command_source(run, 'printf "%s-%s\\n\\n" "$KVCTL_SECRET_NAME" "$KVCTL_SECRET_VERSION_OLD"', {}, 10)
    assert source(REF, CURRENT) == "db-abc\n"


@pytest.mark.parametrize(("command", "fragment"), [("exit 2", "failed for 'db' (exit 2)"), ("true", "no value")])
def test_from_command_failure_or_silence_is_a_usage_error(command, fragment):
    run, _ = runner()
    with pytest.raises(UsageError, match=re.escape(fragment)):
        command_source(run, command, dict(os.environ), 10)(REF, CURRENT)
