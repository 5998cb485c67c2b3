"""The round-trip matrix: every awkward value, exported by a real kvctl process, read by the real
programs (python-dotenv, npm dotenv, bash, dash, zsh if present) and by a reader that follows
Docker Compose's documented rules: read back byte for byte, or refused by kvctl (exit 2, naming
the secret, writing nothing). Nothing in any file runs a command in any of them."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kvctl.core.envformat import env_name
from tests.conftest import run_kvctl_process
from tests.devenv import consumers
from tests.devenv.expected import DIALECT_KEYS, DIALECT_READERS, REFUSED
from tests.devenv.readers import read_compose_env

SHELLS = [s for s in ("bash", "dash", "zsh") if shutil.which(s)]


def _export(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_kvctl_process(["export", *args], env=env)


def _read(reader: str, path: Path, names: list[str], npm: str | None) -> dict[str, str | None]:
    if reader == "python-dotenv":
        return consumers.python_dotenv(path)
    if reader == "npm dotenv":
        assert npm is not None
        return dict(consumers.npm_dotenv(path, npm))
    if reader == "compose":
        return dict(read_compose_env(path.read_bytes().decode()))
    return dict(consumers.sourced(reader, path, names))


def _named_in(stderr: bytes, prefix: str) -> set[str]:
    return set(re.findall(rf"'{re.escape(prefix)}-(v\d\d)' \(\$V\d\d\)", stderr.decode()))


@pytest.mark.parametrize("dialect", DIALECT_KEYS)
def test_each_dialect_is_read_exactly_by_its_readers(dialect, stored, kvctl_env, tmp_path, request):
    prefix, variables, marker = stored
    readers = [r for r in DIALECT_READERS[dialect] if r not in ("zsh",) or "zsh" in SHELLS]
    npm = request.getfixturevalue("npm_module") if "npm dotenv" in readers else None
    out = tmp_path / ".env"
    done = _export(
        kvctl_env, "--prefix", prefix, "--tag", f"{dialect}=ok", "--dotenv-dialect", dialect, "--file", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    expected = {var: v for var, v in variables.items() if v not in REFUSED[dialect]}
    assert expected, "the tags select the values the matrix says this dialect writes"
    for reader in readers:
        got = _read(reader, out, list(expected), npm)
        wrong = {var: (expected[var], got.get(var)) for var in expected if got.get(var) != expected[var]}
        assert not wrong, f"{reader} misread {len(wrong)} of {len(expected)}: {wrong}"
    assert not marker.exists(), "a value ran a command"


@pytest.mark.parametrize("dialect", DIALECT_KEYS)
def test_each_dialect_refuses_exactly_the_documented_values_and_writes_nothing(dialect, stored, kvctl_env, tmp_path):
    prefix, variables, _ = stored
    out = tmp_path / ".env"
    done = _export(kvctl_env, "--prefix", prefix, "--dotenv-dialect", dialect, "--file", str(out))
    refused = {f"v{var[1:]}" for var, value in variables.items() if value in REFUSED[dialect]}
    if not refused:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2, done.stderr
    assert _named_in(done.stderr, prefix) == refused
    assert b"--format json" in done.stderr and b"Traceback" not in done.stderr
    assert not out.exists(), "nothing is written when any value is refused"
    for value in REFUSED[dialect]:
        if len(value) > 3:
            assert value.encode() not in done.stderr, "a refusal never shows the value"


def test_shell_format_is_read_exactly_by_every_shell_and_by_run_env_file(stored, kvctl_env, tmp_path):
    prefix, variables, marker = stored
    out = tmp_path / "secrets.sh"
    done = _export(kvctl_env, "--prefix", prefix, "--format", "shell", "--file", str(out))
    assert done.returncode == 0, done.stderr
    for shell in SHELLS:
        assert consumers.sourced(shell, out, list(variables), prefix=". ") == variables, shell
    dump = tmp_path / "env.json"
    code = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
    done = run_kvctl_process(
        ["run", "--env-file", str(out), "--", sys.executable, "-c", code, str(dump)], env=kvctl_env
    )
    assert done.returncode == 0, done.stderr
    child = json.loads(dump.read_text())
    assert {var: child.get(var) for var in variables} == variables
    assert not marker.exists()


def test_get_dotenv_uses_the_same_dialect_and_refuses_by_name(stored, kvctl_env):
    prefix, variables, _ = stored
    index = next(var for var, value in variables.items() if value == "crlf\r\nline")
    name = f"{prefix}-v{index[1:]}"
    done = run_kvctl_process(["get", name, "-o", "dotenv"], env=kvctl_env)
    assert done.returncode == 2 and done.stdout == b""
    assert f"${env_name(name)}".encode() in done.stderr and b"crlf" not in done.stderr
    ok = next(var for var, value in variables.items() if value == "it's")
    name = f"{prefix}-v{ok[1:]}"
    done = run_kvctl_process(["get", name, "-o", "dotenv"], env=kvctl_env)
    assert done.returncode == 0 and done.stdout == f'{env_name(name)}="it\'s"\n'.encode()


def test_refusals_are_needed_no_obvious_quoting_survives_every_reader(stored, tmp_path, npm_module):
    """For each value the portable dialect refuses, the two quotings a writer could try (single
    quotes; double quotes with shell escapes) are each misread by at least one reader."""
    _, variables, _ = stored
    readers = DIALECT_READERS["portable"]
    for var, value in variables.items():
        if value not in REFUSED["portable"]:
            continue
        single = "'" + value + "'"
        double = '"' + re.sub(r'([\\"$`])', r"\\\1", value) + '"'
        for attempt in (single, double):
            path = tmp_path / f"{var}.env"
            path.write_bytes(f"{var}={attempt}\n".encode())
            misread = []
            for reader in readers:
                try:
                    if _read(reader, path, [var], npm_module).get(var) != value:
                        misread.append(reader)
                except (AssertionError, ValueError, subprocess.CalledProcessError):
                    misread.append(reader)
            assert misread, f"{value!r} as {attempt!r} is read exactly everywhere: kvctl should write it"
