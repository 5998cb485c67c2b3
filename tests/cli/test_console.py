"""The one console on stderr, seen on a real terminal: a spinner on a wait, totals where known,
and nothing drawn over a prompt or over a hook's relayed output."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.pty_helpers import run_in_terminal
from tests.conftest import EmulatorProcess

SECRETS = 60  # three pages; with the emulator's latency the listing takes well over half a second


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    directory = tmp_path_factory.mktemp("console")
    seed = directory / "seed.json"
    seed.write_text(json.dumps({f"slow-{i:03d}": {"value": f"v{i}", "expires": "5d"} for i in range(SECRETS)}))
    process = EmulatorProcess(directory / "state", ["--seed", str(seed), "--latency", "400"]).start()
    yield process
    process.stop()


def test_a_long_listing_shows_a_spinner_that_is_gone_when_the_table_prints(slow):
    shown = run_in_terminal(["list"], slow.env, columns=100)
    assert shown.code == 0, shown.text
    assert "listing secrets" in shown.raw, "a wait over half a second shows what kvctl is doing"
    assert "listing secrets" not in shown.text, "and the line is cleared before the table"
    assert all(f"slow-{i:03d}" in shown.text for i in range(SECRETS))


def test_nothing_is_drawn_when_stderr_is_not_a_terminal(slow, tmp_path):
    from tests.conftest import run_kvctl_process

    done = run_kvctl_process(["list", "-o", "plain"], env=slow.env)
    assert done.returncode == 0 and done.stderr == b""


def test_export_shows_the_total_once_the_listing_is_done(slow, tmp_path):
    out = tmp_path / "out.env"
    shown = run_in_terminal(["export", "--file", str(out)], slow.env, columns=100)
    assert shown.code == 0, shown.text
    assert re.search(rf"fetching secrets \d+/{SECRETS}\b", shown.raw), shown.raw[-2000:]
    assert "/?" not in shown.raw
    assert out.read_text().count("\n") == SECRETS


def test_the_progress_line_pauses_while_check_fix_asks(slow):
    prompt = b"Apply these irreversible changes?"
    # Before the question kvctl makes one ARM request (the vault list): at 800 ms it outlasts the
    # spinner's half-second delay, whatever the token cache holds (at 400 ms it did not always).
    slow.knobs(latencyMs=800)
    try:
        shown = run_in_terminal(["check", "--fix"], slow.env, columns=100, answers=[(prompt, "n")], answer_delay=2.0)
    finally:
        slow.knobs(latencyMs=400)
    assert shown.code == 2, shown.text  # not confirmed: nothing changed
    assert "not confirmed" in shown.text
    raw = shown.raw
    asked = raw.index(prompt.decode())
    answered = raw.index("n\r\n", asked)
    while_asking = raw[asked:answered]
    assert "checking vaults" not in while_asking, f"progress drawn over the prompt: {while_asking!r}"
    assert "\x1b[2K" not in while_asking
    assert "checking vaults" in raw[:asked], "the spinner was there before the question"


def test_hook_output_is_relayed_whole_while_a_bulk_rotation_shows_progress(slow, tmp_path):
    hook = tmp_path / "hook.sh"
    hook.write_text('cat >/dev/null\nfor i in 1 2 3; do echo "hook line $i for $KVCTL_SECRET_NAME"; sleep 0.3; done\n')
    shown = run_in_terminal(
        [
            "rotate",
            "--due-within",
            "30d",
            "--expires-in",
            "90d",
            "--prefix",
            "slow-00",
            "--apply-command",
            f"sh {hook}",
            "--recovery-dir",
            str(tmp_path / "recovery"),
        ],
        {**slow.env, "KVCTL_CONCURRENCY": "4"},
        columns=100,
    )
    assert shown.code == 0, shown.text
    for i in range(10):
        for n in (1, 2, 3):
            line = f"hook line {n} for slow-{i:03d}"
            assert line in shown.lines, f"{line!r} is not a line of its own:\n{shown.text}"
    assert "rotating" in shown.raw, "the progress line was shown between hook lines"
