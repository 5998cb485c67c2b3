"""README documents the whole CLI surface (the contract users and scripts rely on)."""

from __future__ import annotations

import pytest

from kvctl.cli.context import _GLOBAL_OPTIONS
from kvctl.cli.main import COMMANDS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_is_documented(command):
    assert f"`kvctl {command}" in README, f"README does not document `kvctl {command}`"


@pytest.mark.parametrize("option", _GLOBAL_OPTIONS, ids=lambda o: o[0])
def test_every_global_option_and_its_variable_is_documented(option):
    _, flags, env, _, _ = option
    assert flags[-1] in README
    if env:
        assert env in README


def test_the_two_setup_commands_come_first_and_ci_runs_the_same_tests():
    setup = README.split("## Set up", 1)[1].split("##", 1)[0]
    commands = [line for line in setup.splitlines() if line.startswith("python3 ")]
    assert len(commands) == 2
    assert "kvctl demo" in commands[0]
    test_command = commands[1].split("#")[0].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()
