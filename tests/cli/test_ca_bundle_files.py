"""Every problem with the CA bundle is one kvctl line and a hint, exit 2, before any request,
whether it came from --ca-bundle (before or after the command) or KVCTL_CA_BUNDLE. A named pipe
hung kvctl for ever inside OpenSSL; a missing file and a directory came out in click's own
multi-line usage format."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EmulatorProcess, run_kvctl_process


def _requests(emulator: EmulatorProcess) -> int:
    return int(emulator.control("GET", "state")["counters"]["requests"])


def _ways(bundle: str) -> list[tuple[list[str], dict[str, str | None]]]:
    return [
        (["--ca-bundle", bundle, "get", "s1"], {"KVCTL_CA_BUNDLE": None}),
        (["get", "s1", "--ca-bundle", bundle], {"KVCTL_CA_BUNDLE": None}),
        (["get", "s1"], {"KVCTL_CA_BUNDLE": bundle}),
    ]


def _assert_one_line(done: subprocess.CompletedProcess[bytes], first: str) -> None:
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 2, lines
    assert lines[0] == first, lines
    assert len(lines) == 2 and lines[1].startswith("hint: "), lines
    assert done.stdout == b""


def _special(tmp_path: Path, kind: str) -> tuple[str, str]:
    """A path of `kind` and the end of the error line kvctl gives for it."""
    if kind == "missing":
        path = tmp_path / "no-such.pem"
        return str(path), f"cannot read the CA bundle {path}: No such file or directory"
    if kind == "directory":
        return str(tmp_path), f"the CA bundle {tmp_path} is a directory, not a file"
    if kind == "fifo":
        path = tmp_path / "bundle.pipe"
        os.mkfifo(path)
        return str(path), f"the CA bundle {path} is a named pipe, not a file"
    if kind == "device":
        return "/dev/null", "the CA bundle /dev/null is a character device, not a file"
    path = tmp_path / "empty.pem"
    path.write_bytes(b"")
    return str(path), f"the CA bundle {path} is not a PEM CA bundle (no certificate could be read from it)"


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "device", "empty"])
def test_a_ca_bundle_that_is_no_pem_file_is_one_line_and_exit_2_before_any_request(emulator, tmp_path, kind):
    bundle, message = _special(tmp_path, kind)
    before = _requests(emulator)
    for args, env in _ways(bundle):
        # The hang guard only: a named pipe with no writer used to block kvctl for ever.
        done = run_kvctl_process(args, env={**emulator.env, **env}, timeout=120)
        _assert_one_line(done, f"kvctl: error: {message}")
        assert b"Usage:" not in done.stderr and b"Traceback" not in done.stderr
    assert _requests(emulator) == before


def test_a_named_pipe_with_a_writer_is_refused_too_and_nothing_is_read_from_it(emulator, tmp_path):
    """Even when something would write a certificate into the pipe, it is not a file: refused."""
    pipe = tmp_path / "bundle.pipe"
    os.mkfifo(pipe)
    writer = subprocess.Popen(["sh", "-c", f'cat "$1" > "{pipe}"', "sh", emulator.info["caFile"]])
    try:
        done = run_kvctl_process(["get", "s1"], env={**emulator.env, "KVCTL_CA_BUNDLE": str(pipe)}, timeout=120)
        _assert_one_line(done, f"kvctl: error: the CA bundle {pipe} is a named pipe, not a file")
    finally:
        writer.kill()
        writer.wait()


def test_an_unreadable_ca_bundle_is_one_line_and_exit_2(emulator, tmp_path):
    bundle = tmp_path / "ca.pem"
    shutil.copy(emulator.info["caFile"], bundle)
    bundle.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root reads any file: take away the capabilities that let it (it stays the owner).
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: a mode-0 file is readable")
        caps = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
    env = {**os.environ, **emulator.env, "KVCTL_NO_PROGRESS": "1"}
    for args, extra in _ways(str(bundle)):
        merged = {k: v for k, v in {**env, **extra}.items() if v is not None}
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "kvctl", *args],
            env=merged,
            capture_output=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        _assert_one_line(done, f"kvctl: error: cannot read the CA bundle {bundle}: Permission denied")
    assert stat.S_IMODE(bundle.stat().st_mode) == 0


def test_a_good_bundle_through_a_symlink_still_works(emulator, tmp_path):
    """The checks refuse what is not a file, not a path that leads to one."""
    link = tmp_path / "ca-link.pem"
    link.symlink_to(emulator.info["caFile"])
    for args, env in _ways(str(link)):
        args = [a if a != "s1" else "no-such-secret" for a in args]
        done = run_kvctl_process(args, env={**emulator.env, **env, "KVCTL_RETRIES": "0"})
        assert done.returncode == 3, done.stderr.decode()  # the vault answered: not found


def test_a_bundle_path_with_a_control_character_is_shown_escaped(emulator, tmp_path):
    bundle = str(tmp_path / "ca\x1b[31m.pem")
    done = run_kvctl_process(["get", "s1"], env={**emulator.env, "KVCTL_CA_BUNDLE": bundle})
    _assert_one_line(done, f"kvctl: error: cannot read the CA bundle {bundle!r}: No such file or directory")
    assert b"\x1b" not in done.stderr
