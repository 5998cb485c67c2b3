"""A value with a NUL byte has no exact shell or dotenv line (a shell drops the NUL; no process
environment can hold it), so every such output refuses it, naming the secret, instead of writing
a line that reads back as another value. JSON writes it as \\u0000 and stays exact."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import run_kvctl_process

VALUE = b"before\x00after"


def _set(kvctl_env, name: str) -> None:
    done = run_kvctl_process(["set", name, "--file", "-"], env=kvctl_env, input=VALUE)
    assert done.returncode == 0, done.stderr
    got = run_kvctl_process(["get", name, "-o", "json"], env=kvctl_env)
    assert json.loads(got.stdout)["value"] == VALUE.decode(), "the vault holds the NUL"


@pytest.mark.parametrize("fmt", ["dotenv", "shell", "github", "azure-devops"])
def test_export_refuses_a_nul_value_in_every_format_but_json(kvctl_env, unique, tmp_path, fmt):
    prefix = unique("nul")
    _set(kvctl_env, f"{prefix}-token")
    assert run_kvctl_process(["set", f"{prefix}-plain", "--value", "ok"], env=kvctl_env).returncode == 0
    out = tmp_path / "out"
    env = {**kvctl_env, "GITHUB_ENV": str(out)}
    done = run_kvctl_process(["export", "--prefix", prefix, "--format", fmt, "--file", str(out)], env=env)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert f"'{prefix}-token' ($TOKEN)" in stderr and "NUL" in stderr, stderr
    assert "--format json" in stderr and "--format shell" not in stderr, stderr
    assert "Traceback" not in stderr and b"before" not in done.stderr and b"\x00" not in done.stdout
    assert not out.exists(), "nothing is written when one value is refused"


def test_export_json_keeps_the_nul_exactly(kvctl_env, unique):
    prefix = unique("nuj")
    _set(kvctl_env, f"{prefix}-token")
    done = run_kvctl_process(["export", "--prefix", prefix, "--format", "json"], env=kvctl_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"TOKEN": VALUE.decode()}


@pytest.mark.parametrize("fmt", ["env", "dotenv"])
def test_get_refuses_a_nul_value_as_env_or_dotenv(kvctl_env, unique, fmt):
    name = unique("nug")
    _set(kvctl_env, name)
    done = run_kvctl_process(["get", name, "-o", fmt], env=kvctl_env)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert f"'{name}'" in stderr and "NUL" in stderr and "-o json" in stderr, stderr
    assert done.stdout == b"" and "Traceback" not in stderr and "before" not in stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_what_a_shell_would_have_read_is_not_the_value(tmp_path):
    """Why the refusal: bash reads the line kvctl used to write as another value."""
    script = tmp_path / "line.sh"
    script.write_bytes(b"export TOKEN='" + VALUE + b'\'\nprintf %s "$TOKEN"\n')
    read = subprocess.run(["bash", str(script)], capture_output=True, check=False, cwd=tmp_path)
    assert read.stdout != VALUE
