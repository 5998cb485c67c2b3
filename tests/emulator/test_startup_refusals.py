"""Start-ups `kvctl emulator` refuses in one line with exit 2, through real processes: a state
directory another emulator holds, ports past 65535, and a seed that is not valid Unicode."""

from __future__ import annotations

import json
import os

from tests.conftest import EmulatorProcess, run_kvctl_process


def _one_line(stderr: bytes) -> list[str]:
    text = stderr.decode()
    assert "Traceback" not in text
    return [line for line in text.splitlines() if line.strip()]


def test_a_second_emulator_on_a_state_dir_in_use_refuses_and_leaves_the_first_alone(tmp_path):
    state = tmp_path / "state"
    first = EmulatorProcess(state).start()
    try:
        before = {name: (state / name).read_text() for name in ("emulator.json", "emulator.env")}
        done = run_kvctl_process(["emulator", "--state-dir", str(state)], cwd=tmp_path)
        assert done.returncode == 2
        lines = _one_line(done.stderr)
        expected = f"state directory {state.resolve()} is in use by another emulator (pid {first.process.pid})"
        assert lines[0] == f"kvctl: error: {expected}"
        assert len(lines) == 1
        assert done.stdout == b""
        # The first one's files are still there and unchanged, and it still answers.
        assert {name: (state / name).read_text() for name in before} == before
        assert json.loads((state / "emulator.json").read_text())["pid"] == first.process.pid
        assert first.token()
    finally:
        assert first.stop() == 0
    # Once the first has stopped, the directory is free again.
    again = EmulatorProcess(state).start()
    assert again.stop() == 0


def test_the_lock_is_released_when_an_emulator_dies(tmp_path):
    state = tmp_path / "state"
    first = EmulatorProcess(state).start()
    first.process.kill()
    first.process.wait()
    first.stop()
    again = EmulatorProcess(state).start()  # the kernel dropped the dead one's lock
    assert again.stop() == 0


def test_ports_past_65535_are_a_usage_error(tmp_path):
    done = run_kvctl_process(
        ["emulator", "--state-dir", str(tmp_path / "s"), "--port", "65534", "--vault", "aaa", "--vault", "bbb"],
        cwd=tmp_path,
    )
    assert done.returncode == 2
    lines = _one_line(done.stderr)
    assert "65535" in lines[0] and len(lines) == 1
    assert not (tmp_path / "s" / "emulator.json").exists()


def test_a_lone_surrogate_in_the_seed_is_a_usage_error(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text('{"db-password": "\\ud800"}')
    done = run_kvctl_process(
        ["emulator", "--state-dir", str(tmp_path / "s"), "--seed", str(seed)],
        cwd=tmp_path,
    )
    assert done.returncode == 2
    lines = _one_line(done.stderr)
    assert len(lines) == 1 and "surrogate" in lines[0] and "--seed" in lines[0]
    assert os.listdir(tmp_path) == ["seed.json"] or not (tmp_path / "s" / "emulator.json").exists()
