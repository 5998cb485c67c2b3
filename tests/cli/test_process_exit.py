"""The end of a kvctl process: every byte reaches a pipe, and exit statuses are the command's.

kvctl freezes the garbage collector's view of its objects just before it exits, so the
interpreter's final collections skip them (a fixed cost of every process). These tests run the
real `kvctl` in a shell pipeline and check that nothing written late is lost: large values, a reader
slower than kvctl (so writes block on a full pipe), failures, `run`'s child status, and files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import _ISOLATED_ENV, EmulatorProcess

# ~190 KB of output: three times a pipe's buffer, so kvctl blocks on the slow reader.
SECRETS = 40
SIZE = 4800


def _value(i: int) -> str:
    line = f"line of secret {i}: " + "".join(chr(0x21 + (i * 7 + j) % 94) for j in range(70))
    return "\n".join(f"{n:03d} {line}" for n in range(SIZE // (len(line) + 4)))


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    directory = tmp_path_factory.mktemp("exit")
    seed = directory / "seed.json"
    seed.write_text(json.dumps({f"big-{i:02d}": _value(i) for i in range(SECRETS)}))
    process = EmulatorProcess(directory / "state", ["--seed", str(seed)]).start()
    yield process
    process.stop()


def _shell(script: str, emulator: EmulatorProcess, cwd) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    return subprocess.run(
        ["bash", "-c", script],
        env={**base, **emulator.env, "KVCTL_NO_PROGRESS": "1", "KVCTL": f"{sys.executable} -m kvctl"},
        cwd=cwd,
        capture_output=True,
        check=False,
    )


def test_a_large_value_reaches_a_slow_reader_whole(emu, tmp_path):
    done = _shell('$KVCTL get big-07 | (sleep 1; cat > out.txt); echo "${PIPESTATUS[0]}" > status', emu, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "status").read_text() == "0\n"
    assert (tmp_path / "out.txt").read_text() == _value(7) + "\n"


def test_many_values_through_a_full_pipe_arrive_whole(emu, tmp_path):
    script = '$KVCTL export --format json | (sleep 1; cat > out.json); echo "${PIPESTATUS[0]}" > status'
    done = _shell(script, emu, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "status").read_text() == "0\n"
    exported = json.loads((tmp_path / "out.json").read_text())
    assert exported == {f"BIG_{i:02d}": _value(i) for i in range(SECRETS)}


def test_get_of_several_values_and_a_file_are_complete(emu, tmp_path):
    names = [f"big-{i:02d}" for i in range(0, SECRETS, 3)]
    script = f"$KVCTL get {' '.join(names)} -o json | cat > out.json; $KVCTL get big-01 --file value.txt -q"
    done = _shell(script, emu, tmp_path)
    assert done.returncode == 0, done.stderr
    assert [s["value"] for s in json.loads((tmp_path / "out.json").read_text())] == [_value(int(n[4:])) for n in names]
    assert (tmp_path / "value.txt").read_text() == _value(1) + "\n"
    assert (tmp_path / "value.txt").stat().st_mode & 0o777 == 0o600


def test_failures_keep_their_exit_status_and_their_message(emu, tmp_path):
    script = (
        '$KVCTL get no-such-secret | cat > out.txt; echo "${PIPESTATUS[0]}" > status; '
        '$KVCTL get "bad name!" 2> usage.txt; echo "$?" >> status'
    )
    done = _shell(script, emu, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "status").read_text().split() == ["3", "2"]
    assert (tmp_path / "out.txt").read_text() == ""
    lines = done.stderr.decode().splitlines()
    assert lines[0].startswith("kvctl: error: ") and "no-such-secret" in lines[0], lines
    assert (tmp_path / "usage.txt").read_text().startswith("kvctl: error: ")


def test_run_passes_on_its_child_status_and_all_of_its_output(emu, tmp_path):
    child = 'printf %s "$BIG"; exit 7'
    script = f"$KVCTL run --env BIG=big-03 -- sh -c '{child}' | (sleep 1; cat > out.txt); " + (
        'echo "${PIPESTATUS[0]}" > status'
    )
    done = _shell(script, emu, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "status").read_text() == "7\n"
    assert (tmp_path / "out.txt").read_text() == _value(3)
