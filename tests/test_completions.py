"""completions/ holds the scripts `kvctl completion SHELL` prints; this fails when they are stale."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, run_kvctl


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_completion_scripts_are_current(shell):
    result = run_kvctl(["completion", shell])
    assert result.exit_code == 0
    committed = (ROOT / "completions" / f"kvctl.{shell}").read_text()
    assert committed == result.stdout, f"regenerate: kvctl completion {shell} > completions/kvctl.{shell}"


def test_completion_of_command_names(tmp_path):
    from tests.conftest import run_kvctl_process

    result = run_kvctl_process(
        [], env={"_KVCTL_COMPLETE": "bash_complete", "COMP_WORDS": "kvctl ver", "COMP_CWORD": "1"}
    )
    assert result.returncode == 0
    assert b"versions" in result.stdout


def test_unknown_shell_is_a_usage_error():
    result = run_kvctl(["completion", "tcsh"])
    assert result.exit_code == 2
