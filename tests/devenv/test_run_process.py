"""`kvctl run` as an exec wrapper, through real kvctl processes against the emulator: ignored
signals stay ignored, a child's death by signal is kvctl's, a killed kvctl takes its child with
it, a shell loop stops on Ctrl-C, and --prefix never sets names that load code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import _ISOLATED_ENV, run_kvctl_process

LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process semantics (prctl, /proc)")
KVCTL = [sys.executable, "-m", "kvctl"]

# Reports the dispositions it started with and its parent (kvctl), then waits for `go`.
REPORTER = """
import json, os, signal, sys, time
from pathlib import Path
out = Path(sys.argv[1])
state = {s: signal.getsignal(getattr(signal, s)) == signal.SIG_IGN for s in ("SIGINT", "SIGHUP", "SIGQUIT", "SIGTERM")}
out.with_suffix(".tmp").write_text(json.dumps({"ignored": state, "ppid": os.getppid(), "pid": os.getpid()}))
out.with_suffix(".tmp").rename(out)
while not out.with_suffix(".go").exists():
    time.sleep(0.02)
"""


def _env(emulator) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    return {**base, **emulator.env, "KVCTL_NO_PROGRESS": "1"}


def _wait_for(path: Path, process: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process is not None and process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"kvctl ended ({process.returncode}) before {path.name}: {err}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    """No such process, or only a zombie waiting to be reaped (it runs nothing any more)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status


@pytest.fixture
def secret(kvctl, unique):
    name = unique("wrap")
    assert kvctl("set", name, "--value", "v").exit_code == 0
    return name


@LINUX
@pytest.mark.parametrize("how", ["nohup", "background"])
def test_signals_the_parent_ignored_stay_ignored_and_are_not_forwarded(emulator, secret, tmp_path, how):
    out = tmp_path / "child.json"
    run = [*KVCTL, "-v", "run", "--env", f"X={secret}", "--", sys.executable, "-c", REPORTER, str(out)]
    if how == "nohup":  # nohup ignores SIGHUP
        argv, sent = ["nohup", *run], [signal.SIGHUP]
    else:  # a script's `cmd &` starts cmd with SIGINT and SIGQUIT ignored
        quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in run)
        argv, sent = ["bash", "-c", f"{quoted} & wait $!"], [signal.SIGINT, signal.SIGQUIT]
    process = subprocess.Popen(argv, env=_env(emulator), stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        _wait_for(out, process)
        report = json.loads(out.read_text())
        for sig in sent:
            assert report["ignored"][sig.name], f"the command must start with {sig.name} ignored, as kvctl was"
            os.kill(report["ppid"], sig)  # to kvctl itself, as a stray kill would
        time.sleep(0.3)
        assert process.poll() is None, "kvctl ignores what it was told to ignore"
        out.with_suffix(".go").write_text("")
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert b"passing SIG" not in err, "an ignored signal is not forwarded"
    assert not report["ignored"]["SIGTERM"], "what was not ignored is not ignored now either"


@LINUX
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_child_killed_by_a_signal_kills_kvctl_by_the_same_signal(emulator, secret, tmp_path, signum):
    kill_self = f"import os; os.kill(os.getpid(), {int(signum)})"
    argv = [*KVCTL, "run", "--env", f"X={secret}", "--", sys.executable, "-c", kill_self]
    done = subprocess.run(argv, env=_env(emulator), capture_output=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == -signum, (done.returncode, done.stderr)  # the wait status: killed by signum
    assert not list(tmp_path.iterdir()), "and no core file"


@LINUX
def test_the_command_does_not_outlive_a_sigkilled_kvctl(emulator, secret, tmp_path):
    out = tmp_path / "child.json"
    argv = [*KVCTL, "run", "--env", f"X={secret}", "--", sys.executable, "-c", REPORTER, str(out)]
    process = subprocess.Popen(argv, env=_env(emulator), stderr=subprocess.PIPE, cwd=tmp_path)
    child = None
    try:
        _wait_for(out, process)
        child = json.loads(out.read_text())["pid"]
        process.kill()
        process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child), "the command kept running after kvctl was killed"
    finally:
        if process.poll() is None:
            process.kill()
        if child is not None and not _gone(child):
            os.kill(child, signal.SIGKILL)


@LINUX
def test_a_shell_loop_around_kvctl_run_stops_on_ctrl_c(emulator, secret, tmp_path):
    """Ctrl-C sends SIGINT to the foreground process group: bash, kvctl and the command. bash
    waits for kvctl and goes on with the loop unless kvctl died by SIGINT."""
    ready = tmp_path / "ready"
    inner = f"touch {ready}; exec sleep 600"
    loop = f"while :; do {sys.executable} -m kvctl run --env X={secret} -- sh -c '{inner}'; done"
    shell = subprocess.Popen(["bash", "-c", loop], env=_env(emulator), start_new_session=True, cwd=tmp_path)
    try:
        _wait_for(ready, shell)
        os.killpg(shell.pid, signal.SIGINT)
        try:
            code = shell.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        assert code == -signal.SIGINT, "the loop went on after Ctrl-C"
    finally:
        try:
            os.killpg(shell.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shell.wait()


DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"
LOADERS = {
    "path": "PATH",
    "ld-preload": "LD_PRELOAD",
    "pythonpath": "PYTHONPATH",
    "node-options": "NODE_OPTIONS",
    "bash-env": "BASH_ENV",
    "ifs": "IFS",
    "java-tool-options": "JAVA_TOOL_OPTIONS",
    "perl5opt": "PERL5OPT",
    "dyld-insert-libraries": "DYLD_INSERT_LIBRARIES",
    "git-sequence-editor": "GIT_SEQUENCE_EDITOR",
    "tar-options": "TAR_OPTIONS",
    "https-proxy": "HTTPS_PROXY",
    "node-extra-ca-certs": "NODE_EXTRA_CA_CERTS",
    "azure-authority-host": "AZURE_AUTHORITY_HOST",
}


def test_prefix_never_sets_names_that_load_code_and_says_which_it_skipped(emulator, kvctl, unique, tmp_path):
    prefix = unique("load")
    for suffix in [*LOADERS, "db-password"]:
        assert kvctl("set", f"{prefix}-{suffix}", "--value", f"/tmp/evil-{suffix}").exit_code == 0
    out = tmp_path / "env.json"
    env = {**emulator.env, "KVCTL_NO_PROGRESS": "1"}
    args = ["run", "--prefix", prefix, "--", sys.executable, "-c", DUMP_ENV, str(out)]
    done = run_kvctl_process(args, env=env)
    assert done.returncode == 0, done.stderr
    child = json.loads(out.read_text())
    assert child["DB_PASSWORD"] == "/tmp/evil-db-password"
    for suffix, var in LOADERS.items():
        assert child.get(var) != f"/tmp/evil-{suffix}", f"${var} was taken from the vault"
        assert f"skipped secret '{prefix}-{suffix}': ${var}" in done.stderr.decode()
    assert child["PATH"] == os.environ["PATH"]
    assert b"/tmp/evil" not in done.stderr, "values are never named"
    # An explicit mapping is the user's decision and is honoured.
    args = ["run", "--prefix", prefix, "--env", f"PYTHONPATH={prefix}-pythonpath", "--"]
    done = run_kvctl_process([*args, sys.executable, "-c", DUMP_ENV, str(out)], env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["PYTHONPATH"] == "/tmp/evil-pythonpath"


@LINUX
def test_ctrl_c_before_the_command_starts_kills_kvctl_by_sigint_too(emulator, tmp_path):
    """kvctl blocks reading an --env-file that is a FIFO; SIGINT then arrives before any command
    exists. A shell loop must stop here as well, so kvctl dies by SIGINT (not exit 130)."""
    fifo = tmp_path / "env.fifo"
    os.mkfifo(fifo)
    marker = tmp_path / "started"
    argv = [*KVCTL, "run", "--env-file", str(fifo), "--", "touch", str(marker)]
    process = subprocess.Popen(argv, env=_env(emulator), stderr=subprocess.PIPE, cwd=tmp_path)
    writer = None
    try:
        deadline = time.monotonic() + 60
        while writer is None:  # opening the write end succeeds once kvctl has the read end open
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "kvctl never opened the env file"
                time.sleep(0.02)
        time.sleep(0.2)  # kvctl is now blocked in read(), waiting for the file's content
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if writer is not None:
            os.close(writer)
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGINT, (process.returncode, err)
    assert not marker.exists() and b"Traceback" not in err


@LINUX
def test_a_child_whose_kvctl_died_before_the_death_signal_was_set_kills_itself():
    """The race: kvctl dies between fork and prctl. The guard runs in a process whose parent is not
    the one that made the guard (here: a grandchild), and must kill itself rather than run on."""
    from kvctl.core.process import _parent_death_guard

    guard = _parent_death_guard()
    assert guard is not None
    middle = os.fork()
    if middle == 0:  # stands for the new child; its own child plays the one whose kvctl is gone
        try:
            grandchild = os.fork()
            if grandchild == 0:
                guard()
                os._exit(0)  # reached only if the guard let it live
            _, status = os.waitpid(grandchild, 0)
            os._exit(9 if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(middle, 0)
    assert os.waitstatus_to_exitcode(status) == 9, "the orphaned child ran on"
    child = os.fork()
    if child == 0:  # the normal case: the parent is the guard's maker, so the child lives
        guard()
        os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
