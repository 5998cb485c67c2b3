"""The leak suite: every command run with a marker secret value under `--debug -v`, failure paths
included. The marker may appear only where the user asked for the value: stdout of get, export,
inject and run's child, and the files they named (mode 0600), and rotation's recovery file (0600).
Never in stderr, in a file of another mode, in the argv or environment kvctl gives a hook, or in
a backup blob.

Every command is a real, fresh `kvctl` process, as a user runs it: masking cannot lean on what an
earlier command in the same process happened to register."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import CONTROL_RESOURCE, run_kvctl_subprocess

pytestmark = pytest.mark.leaks

MARKER = f"LEAKMARK{uuid.uuid4().hex}"
NEW = f"NEWMARK{uuid.uuid4().hex}"
TARGET_MARKERS = (MARKER, NEW)


@pytest.fixture
def leak_env(fresh_emulator, tmp_path):
    emulator = fresh_emulator()
    work = tmp_path / "work"
    work.mkdir()
    recovery = tmp_path / "recovery"

    def kvctl(*args, input=None, env=None, allowed_stdout=False):
        result = run_kvctl_subprocess(
            ["--debug", "-v", *args],
            emulator=emulator,
            input=input,
            env={"KVCTL_RECOVERY_DIR": str(recovery), "KVCTL_RETRIES": "1", **(env or {})},
        )
        for marker in TARGET_MARKERS:
            assert marker not in result.stderr, (args, "stderr", result.stderr[-800:])
            if not allowed_stdout:
                assert marker not in result.stdout, (args, "stdout")
        assert "eyJ" not in result.stderr, (args, "a token in --debug output")
        return result

    return emulator, kvctl, work, recovery


def _files_with_markers(root: Path) -> dict[Path, int]:
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and any(m.encode() in path.read_bytes() for m in TARGET_MARKERS):
            found[path] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_every_command_keeps_the_value_where_it_was_asked_for(leak_env, tmp_path):
    _emulator, kvctl, work, recovery = leak_env
    value_file = tmp_path / "value.txt"
    value_file.write_text(MARKER)
    os.chmod(value_file, 0o600)

    # writes: stdin, --file, --value (warned), and attributes
    assert kvctl("set", "app-db", input=MARKER).exit_code == 0
    assert kvctl("set", "app-api", "--file", str(value_file), "--tag", "team=a").exit_code == 0
    assert kvctl("set", "app-cli", "--value", MARKER).exit_code == 0
    assert kvctl("set", "app-off", "--disabled", input=MARKER).exit_code == 0

    # reads: the value goes to stdout, or to the file named
    assert MARKER in kvctl("get", "app-db", allowed_stdout=True).stdout
    for fmt in ("json", "env", "dotenv"):
        assert MARKER in kvctl("get", "app-db", "-o", fmt, allowed_stdout=True).stdout
    assert kvctl("get", "app-db", "--file", str(work / "get.txt")).exit_code == 0
    assert MARKER in kvctl("export", "--prefix", "app", allowed_stdout=True).stdout
    assert kvctl("export", "--prefix", "app", "--file", str(work / "export.env")).exit_code == 0
    assert kvctl("export", "--format", "json", "--file", str(work / "export.json")).exit_code == 0
    template = work / "template.txt"
    template.write_text("password={{ app-db }}\n")
    assert MARKER in kvctl("inject", "-i", str(template), allowed_stdout=True).stdout
    assert kvctl("inject", "-i", str(template), "-o", str(work / "injected.txt")).exit_code == 0

    # metadata never carries the value
    for args in (
        ["show", "app-db"],
        ["list", "-o", "json"],
        ["versions", "app-db"],
        ["list", "-o", "tsv"],
        ["check", "-o", "json"],
        ["whoami"],
        ["access", "list", "-o", "json"],
    ):
        kvctl(*args)

    # run: the child has the value in its environment, not in any argv; kvctl says nothing of it
    probe = work / "child.txt"
    child = (
        f"import os,sys; open({str(probe)!r},'w').write(str(sys.argv)); "
        f"sys.exit(0 if os.environ['DB']=={MARKER!r} else 9)"
    )
    result = kvctl("run", "--env", "DB=app-db", "--", sys.executable, "-c", child)
    assert result.exit_code == 0
    assert MARKER not in probe.read_text()

    # rotation: the hook gets the value on stdin, never in its argv or environment
    hook_log = work / "hook.txt"
    digest = hashlib.sha256(NEW.encode()).hexdigest()  # the hook must not hold the value in its own argv
    hook = (
        f'{sys.executable} -c "import hashlib,os,sys; v=sys.stdin.read(); '
        f"open({str(hook_log)!r},'w').write(open('/proc/self/cmdline').read()+repr(dict(os.environ))); "
        f'sys.exit(0 if hashlib.sha256(v.encode()).hexdigest()=={digest!r} else 9)"'
    )
    rotated = kvctl("rotate", "app-db", "--value-file", "-", "--apply-command", hook, input=NEW)
    assert rotated.exit_code == 0, rotated.stderr
    assert NEW not in hook_log.read_text() and MARKER not in hook_log.read_text()
    assert NEW in kvctl("get", "app-db", allowed_stdout=True).stdout

    # backups are opaque
    assert kvctl("backup", "app-api", "--file", str(work / "api.blob")).exit_code == 0
    assert kvctl("delete", "app-cli").exit_code == 0
    assert kvctl("recover", "app-cli").exit_code == 0

    # files: each holding a value is 0600, and only the expected ones hold it
    holding = _files_with_markers(work)
    assert set(holding) == {work / "get.txt", work / "export.env", work / "export.json", work / "injected.txt"}
    assert set(holding.values()) == {0o600}
    assert not list(recovery.glob("*.json")), "a finished rotation leaves no recovery file"


def test_failure_paths_do_not_leak(leak_env):
    emulator, kvctl, work, recovery = leak_env
    kvctl("set", "live", input=MARKER)
    kvctl("set", "off", "--disabled", input=MARKER)
    kvctl("set", "gone", input=MARKER)
    kvctl("delete", "gone")

    assert kvctl("get", "off").exit_code == 5
    assert kvctl("set", "gone", input=MARKER).exit_code == 6
    assert kvctl("set", "big", input=MARKER * 1000).exit_code == 2
    assert kvctl("set", "bad_name", input=MARKER).exit_code == 2
    assert kvctl("get", "live", "missing").exit_code == 3
    assert kvctl("export", "--prefix", "nope", "--file", str(work / "none.env")).exit_code == 0  # empty, warned
    template = work / "t.txt"
    template.write_text("{{ live }} {{ missing }}")
    assert kvctl("inject", "-i", str(template), "-o", str(work / "out.txt")).exit_code == 3
    assert not (work / "out.txt").exists(), "nothing written when a reference fails"
    assert kvctl("run", "--env", "A=live", "--env", "B=missing", "--", "true").exit_code == 3

    # a failing hook: the vault is unchanged and the value is not echoed
    failing = kvctl("rotate", "live", "--value-file", "-", "--apply-command", "exit 4", input=NEW)
    assert failing.exit_code == 1
    assert NEW not in kvctl("get", "live", allowed_stdout=True).stdout

    # the vault fails after the hook: the value waits in a 0600 recovery file, named on stderr
    flip = (
        f'{sys.executable} -c "import json,ssl,urllib.request; '
        f"r=urllib.request.Request({emulator.info['armEndpoint'] + '/_emulator/knobs'!r}, "
        f"data=json.dumps({{'faultRate': 1}}).encode(), method='PUT', "
        f"headers={{'Authorization': 'Bearer {emulator.token(CONTROL_RESOURCE)}', "
        f"'Content-Type': 'application/json'}}); "
        f'urllib.request.urlopen(r, context=ssl.create_default_context(cafile={emulator.info["caFile"]!r}))"'
    )
    stranded = kvctl("rotate", "live", "--value-file", "-", "--apply-command", flip, input=NEW)
    emulator.knobs(faultRate=0)
    assert stranded.exit_code == 7
    files = list(recovery.glob("*.json"))
    assert len(files) == 1 and str(files[0]) in stranded.stderr
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600 and stat.S_IMODE(recovery.stat().st_mode) == 0o700
    assert kvctl("rotate", "--resume", str(files[0])).exit_code == 0
    assert NEW in kvctl("get", "live", allowed_stdout=True).stdout
    assert _files_with_markers(work) == {}


def test_a_from_command_that_echoes_its_value_to_stderr_is_masked(leak_env):
    _, kvctl, _, _ = leak_env
    kvctl("set", "gen", input="old-value")
    result = kvctl("rotate", "gen", "--from-command", f'echo "made {NEW}" >&2; echo {NEW}')
    assert result.exit_code == 0, result.stderr
    assert "made ***" in result.stderr, "the command's own output is still shown, masked"
    assert NEW in kvctl("get", "gen", allowed_stdout=True).stdout
