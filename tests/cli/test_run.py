"""`kvctl run` through the real CLI and SDK against the emulator: the child's environment, its
exit code, signals, nesting, precedence and failures (nothing is started unless all resolved)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kvctl.core.devenv import PRISTINE_KEEP, RUN_DEPTH_VAR
from tests.conftest import _ISOLATED_ENV, run_kvctl_process

DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def _dump(path: Path) -> list[str]:
    return ["--", sys.executable, "-c", DUMP_ENV, str(path)]


def _host(emulator) -> str:
    return emulator.vault_url.removeprefix("https://")


def _secrets(kvctl, values: dict[str, str]) -> None:
    for name, value in values.items():
        assert kvctl("set", name, "--value", value).exit_code == 0


def test_references_are_resolved_and_plain_values_pass_through(kvctl, emulator, unique, tmp_path):
    a, b, c = unique("run-a"), unique("run-b"), unique("run-c")
    _secrets(kvctl, {a: "value-a", b: "value b with 'quotes'", c: "value-c"})
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"A=akv://{_host(emulator)}/{a}\n"
        f"export B='{emulator.vault_url}/secrets/{b}'\n"
        "PLAIN=just text  # a comment\n"
        "URL=https://example.com/secrets/not-a-vault\n"
    )
    out = tmp_path / "env.json"
    result = kvctl("run", "--env-file", str(env_file), "--env", f"C={c}", *_dump(out))
    assert result.exit_code == 0, result.stderr
    child = json.loads(out.read_text())
    assert (child["A"], child["B"], child["C"]) == ("value-a", "value b with 'quotes'", "value-c")
    assert child["PLAIN"] == "just text" and child["URL"] == "https://example.com/secrets/not-a-vault"
    assert child[RUN_DEPTH_VAR] == "1"
    assert child["PATH"] == os.environ["PATH"], "the rest of the environment is inherited"


@pytest.mark.parametrize("code", [0, 3, 17, 255])
def test_the_childs_exit_code_is_returned(kvctl, unique, code):
    name = unique("code")
    _secrets(kvctl, {name: "v"})
    result = kvctl("run", "--env", f"X={name}", "--", sys.executable, "-c", f"import sys; sys.exit({code})")
    assert result.exit_code == code


def test_a_child_killed_by_a_signal_gives_128_plus_its_number(kvctl, unique):
    """Called inside another program (main(argv)), kvctl reports 128+N; as its own process it
    dies by N (tests/devenv/test_run_process.py)."""
    name = unique("sig")
    _secrets(kvctl, {name: "v"})
    kill_self = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    assert kvctl("run", "--env", f"X={name}", "--", sys.executable, "-c", kill_self).exit_code == 128 + 15


def test_prefix_maps_every_enabled_secret_with_the_prefix_stripped(kvctl, unique, tmp_path):
    prefix = unique("app")
    _secrets(kvctl, {f"{prefix}-db-password": "pw", f"{prefix}-api-key": "key", f"{prefix}-2fa": "otp"})
    assert kvctl("set", f"{prefix}-off", "--disabled", "--value", "off").exit_code == 0
    out = tmp_path / "env.json"
    result = kvctl("run", "--prefix", f"{prefix}-", *_dump(out))
    assert result.exit_code == 0, result.stderr
    child = json.loads(out.read_text())
    assert (child["DB_PASSWORD"], child["API_KEY"], child["_2FA"]) == ("pw", "key", "otp")
    assert "OFF" not in child, "disabled secrets are skipped"


def test_prefix_collisions_exit_2_listing_them_and_run_nothing(kvctl, unique, tmp_path):
    prefix = unique("clash")
    _secrets(kvctl, {f"{prefix}-db": "1", f"{prefix}--db": "2", f"{prefix}-ok": "3"})
    out = tmp_path / "env.json"
    result = kvctl("run", "--prefix", prefix, *_dump(out))
    assert result.exit_code == 2
    assert f"$DB <- {prefix}--db, {prefix}-db" in result.stderr and "OK" not in result.stderr
    assert not out.exists()


def test_explicit_sources_win_over_the_prefix_and_a_replaced_variable_is_warned(kvctl, unique, tmp_path):
    prefix, other = unique("prec"), unique("other")
    _secrets(kvctl, {f"{prefix}-db": "from-prefix", other: "from-env-option-MARKER-x9"})
    out = tmp_path / "env.json"
    result = kvctl("run", "--prefix", prefix, "--env", f"DB={other}", *_dump(out), env={"DB": "inherited-value"})
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text())["DB"] == "from-env-option-MARKER-x9"
    assert "warning: $DB is replaced" in result.stderr
    assert "MARKER-x9" not in result.stderr and "inherited-value" not in result.stderr


def test_pristine_keeps_only_the_minimal_set(kvctl, unique, tmp_path):
    name = unique("pristine")
    _secrets(kvctl, {name: "v"})
    out = tmp_path / "env.json"
    result = kvctl("run", "--pristine", "--env", f"X={name}", *_dump(out), env={"UNRELATED": "1"})
    assert result.exit_code == 0, result.stderr
    child = set(json.loads(out.read_text())) - {"X", RUN_DEPTH_VAR}
    assert child <= set(PRISTINE_KEEP) and "PATH" in child
    assert "UNRELATED" not in child


def test_nested_run_is_refused_before_any_request(kvctl, emulator):
    result = kvctl("run", "--env", "X=whatever", "--", "true", env={RUN_DEPTH_VAR: "1"})
    assert result.exit_code == 2
    assert "kvctl run inside kvctl run" in result.stderr and "hint:" in result.stderr


def test_nesting_is_refused_for_real(emulator, unique, kvctl):
    name = unique("nest")
    _secrets(kvctl, {name: "v"})
    inner = [sys.executable, "-m", "kvctl", "run", "--env", f"X={name}", "--", "true"]
    result = run_kvctl_process(["run", "--env", f"X={name}", "--", *inner], env=emulator.env)
    assert result.returncode == 2
    assert b"kvctl run inside kvctl run" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--env", "X=a", "true"], "no command to run"),
        (["run", "--env", "X=a", "--"], "no command after --"),
        (["run", "--", "true"], "nothing to put in the environment"),
        (["run", "--env", "1X=a", "--", "true"], "invalid environment variable name"),
        (["run", "--env", "X=bad_name", "--", "true"], "invalid secret name"),
        (["run", "--env-file", "/nonexistent/.env", "--", "true"], "cannot read env file"),
        (["run", "--env", "X=a", "--", "/nonexistent/command"], None),
    ],
)
def test_usage_errors_exit_2(kvctl, unique, args, fragment):
    if fragment is None:  # the command is checked last, after the secret resolved
        name = unique("cmd")
        _secrets(kvctl, {name: "v"})
        args = [a.replace("X=a", f"X={name}") for a in args]
        fragment = "command not found: /nonexistent/command"
    result = kvctl(*args)
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_a_bad_env_file_line_is_named(kvctl, tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("OK=1\nthis is not an assignment\n")
    result = kvctl("run", "--env-file", str(env_file), "--", "true")
    assert result.exit_code == 2 and "line 2" in result.stderr


def test_partial_failure_lists_every_missing_secret_and_starts_nothing(kvctl, unique, tmp_path):
    present, gone1, gone2 = unique("here"), unique("gone"), unique("gone")
    _secrets(kvctl, {present: "v"})
    marker = tmp_path / "started"
    touch = ["--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    result = kvctl("run", "--env", f"A={gone1}", "--env", f"B={present}", "--env", f"C={gone2}", *touch)
    assert result.exit_code == 3
    assert gone1 in result.stderr and gone2 in result.stderr and "not started" in result.stderr
    assert not marker.exists()


# -- signals (a real kvctl process) ----------------------------------------------------------

# The child blocks the signals and takes each with sigtimedwait, so a duplicate is seen even when
# it arrives moments after the first, and each says who sent it (si_code 0 = a process, 128 = the
# kernel, i.e. the terminal).
CHILD = """
import signal, sys
from pathlib import Path
out = Path(sys.argv[1])
wanted = {signal.SIGINT, signal.SIGTERM}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
out.with_suffix(".ready").write_text("ready")
got = []
info = signal.sigtimedwait(wanted, 20)
while info is not None:
    got.append(f"{info.si_signo}:{info.si_code}:{info.si_pid}")
    info = signal.sigtimedwait(wanted, 0.7)
out.write_text(" ".join(got))
sys.exit(42)
"""
LINUX_SIGNALS = pytest.mark.skipif(not hasattr(signal, "sigtimedwait"), reason="needs sigtimedwait (Linux)")


def _child_env(emulator) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    return {**base, **emulator.env, "KVCTL_NO_PROGRESS": "1"}


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@LINUX_SIGNALS
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_sent_to_kvctl_reach_the_child_once(emulator, kvctl, unique, tmp_path, signum):
    name = unique("fwd")
    _secrets(kvctl, {name: "v"})
    out = tmp_path / "got.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "kvctl", "run", "--env", f"X={name}", "--", sys.executable, "-c", CHILD, str(out)],
        env=_child_env(emulator),
    )
    try:
        _wait_for(out.with_suffix(".ready"))
        process.send_signal(signum)
        assert process.wait(timeout=30) == 42, "kvctl returns the child's exit code"
    finally:
        if process.poll() is None:
            process.kill()
    assert out.read_text() == f"{int(signum)}:0:{process.pid}", "once, from kvctl"


@LINUX_SIGNALS
def test_ctrl_c_on_a_terminal_is_not_sent_twice(emulator, kvctl, unique, tmp_path):
    """The terminal sends Ctrl-C to kvctl and the child alike, so kvctl must not pass it on. (Two
    SIGINTs close together may merge into one at the child, so kvctl's own account is checked.)"""
    import pty

    name = unique("tty")
    _secrets(kvctl, {name: "v"})
    out = tmp_path / "got.txt"
    argv = [sys.executable, "-m", "kvctl", "-v", "run", "--env", f"X={name}", "--"]
    argv += [sys.executable, "-c", CHILD, str(out)]
    pid, fd = pty.fork()
    if pid == 0:  # a new session whose controlling terminal is the pty
        try:
            os.execve(argv[0], argv, _child_env(emulator))
        finally:
            os._exit(127)
    transcript = b""
    try:
        _wait_for(out.with_suffix(".ready"))
        os.write(fd, b"\x03")
        _wait_for(out)
        _, status = os.waitpid(pid, 0)
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side is closed once everything was read
                break
            if not chunk:
                break
            transcript += chunk
    finally:
        os.close(fd)
    assert out.read_text().startswith(f"{int(signal.SIGINT)}:128:0"), "the child has it from the terminal"
    assert b"SIGINT came from the terminal" in transcript, transcript
    assert b"passing SIGINT on" not in transcript
    assert os.waitstatus_to_exitcode(status) == 42
