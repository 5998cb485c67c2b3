"""stdout into a pipe whose reader leaves early, and stdout of a command that fails at once.

Documented (README, Exit codes): when stdout's reader closes early, kvctl stops writing and
exits 0, quietly. Nothing is written to stdout before the first page has arrived.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import _ISOLATED_ENV, EmulatorProcess

MANY = 300  # twelve pages of 25: the reader is gone long before the last page arrives


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pipes")
    seed = directory / "seed.json"
    seed.write_text(json.dumps({f"piped-{i:04d}": f"value-{i}" for i in range(MANY)}))
    process = EmulatorProcess(directory / "state", ["--seed", str(seed)]).start()
    yield process
    process.stop()


def _shell(script: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    return subprocess.run(
        ["bash", "-c", "set -o pipefail\n" + script],
        env={**base, **env, "KVCTL": f"{sys.executable} -m kvctl"},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


# How many times each reader is tried. Before the fix (exit status decided by click, as a race)
# `| head -1` failed 50 of 50 runs of `list` and 28 of 50 of `access roles`, and a reader that
# leaves before kvctl writes anything (`| true`) failed 20 of 20 runs of each: ten runs of each
# reader catch that defect every time (a 28-in-50 failure survives ten tries one time in 3,000,
# and the early reader does not depend on the race at all).
RUNS = 10


def _loop(command: str, reader: str) -> str:
    # Every run's status (the pipeline's, under pipefail, and kvctl's own) and what the reader printed.
    return (
        f'for i in $(seq {RUNS}); do first=$($KVCTL {command} 2>>"$PWD/err.txt" | {reader}); '
        'echo "$? ${PIPESTATUS[0]} $first"; done'
    )


# The reader leaves after the first line (kvctl is still writing), or before kvctl writes at all.
READERS = {"head -1": "{first}", "true": ""}


@pytest.mark.timeout(600)  # real processes on a shared machine: a hang guard, not a speed limit
@pytest.mark.parametrize("reader", READERS)
def test_list_into_a_reader_that_leaves_exits_0_every_time_and_says_nothing(emu, tmp_path, reader):
    done = _shell(_loop("list -o plain", reader), emu.env, tmp_path)
    assert done.returncode == 0, done.stderr
    runs = done.stdout.splitlines()
    assert len(runs) == RUNS
    assert set(runs) == {"0 0 " + READERS[reader].format(first="piped-0000")}, runs
    assert (tmp_path / "err.txt").read_text() == "", "a closed pipe is not an error to report"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("reader", READERS)
def test_access_roles_into_a_reader_that_leaves_exits_0_every_time(tmp_path, reader):
    done = _shell(_loop("access roles -o tsv", reader), {}, tmp_path)
    runs = done.stdout.splitlines()
    assert len(runs) == RUNS
    first = READERS[reader].format(first="Key Vault Administrator")
    assert {r.split("\t")[0] for r in runs} == {"0 0 " + first}, runs
    assert (tmp_path / "err.txt").read_text() == ""


@pytest.mark.parametrize(
    "command", ["list -o json", "list -o tsv", "get piped-0001 piped-0002 -o json", "versions piped-0001 -o tsv"]
)
def test_other_formats_into_a_reader_that_leaves(emu, tmp_path, command):
    done = _shell(f"$KVCTL {command} | head -c 5 >/dev/null; echo ${{PIPESTATUS[0]}}", emu.env, tmp_path)
    assert done.stdout.strip() == "0" and done.stderr == "", done


@pytest.mark.parametrize("fmt", ["json", "tsv", "plain"])
def test_a_vault_that_cannot_be_reached_leaves_stdout_empty(tmp_path, fmt):
    done = _shell(
        f"$KVCTL --vault https://127.0.0.1:1 list -o {fmt} > out.txt; echo $?",
        {"KVCTL_RETRIES": "0", "KVCTL_AUTH": "emulator", "IDENTITY_ENDPOINT": "http://127.0.0.1:1/token"},
        tmp_path,
    )
    assert done.stdout.strip() in ("4", "7"), done
    assert (tmp_path / "out.txt").read_bytes() == b"", "nothing is written before the first page arrived"
    assert "error" in done.stderr


def test_an_unreachable_vault_with_a_token_is_exit_7_and_no_output(emu, tmp_path):
    done = _shell(
        "$KVCTL --vault https://127.0.0.1:1 list -o json > out.txt; echo $?",
        {**emu.env, "KVCTL_RETRIES": "0"},
        tmp_path,
    )
    assert done.stdout.strip() == "7", done
    assert (tmp_path / "out.txt").read_bytes() == b""


def test_an_empty_list_is_still_valid_json(emu, tmp_path):
    done = _shell("$KVCTL list --prefix nothing-has-this -o json", emu.env, tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout) == [], done
