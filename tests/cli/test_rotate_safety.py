"""Issue 11's rotation items, each through real `kvctl` processes against the emulator: the
write-rights preflight, the rotation lease (two processes at once), interrupts (SIGINT, SIGTERM,
SIGHUP, SIGKILL) and --resume, bulk runs that converge, and masking of multi-line values.

Hooks here wait for a `go` file instead of sleeping, so the tests order events without timing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kvctl.core.rotation_lease import LEASE_TAG
from tests.conftest import _ISOLATED_ENV, EmulatorProcess, run_kvctl

OFFICER = "Key Vault Secrets Officer"
# The apply command of most tests: saves its stdin to NAME.target, says it started, then waits.
WAITING_HOOK = (
    'cat > "$KVCTL_SECRET_NAME.target"; echo "$KVCTL_SECRET_NAME" >> hooks.log; echo $$ > "$KVCTL_SECRET_NAME.pid"; '
    'touch "$KVCTL_SECRET_NAME.started"; while [ ! -e go ]; do sleep 0.05; done'
)


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    process = EmulatorProcess(
        tmp_path_factory.mktemp("rotsafe"), ["--identity", "app", "--identity", "auditor"]
    ).start()
    yield process
    process.stop()


def env_for(emu: EmulatorProcess, work: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    return {
        **base,
        **emu.env,
        "KVCTL_NO_PROGRESS": "1",
        "KVCTL_RECOVERY_DIR": str(work / "recovery"),
        **extra,
    }


def start(emu: EmulatorProcess, work: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    """The real kvctl in a child process, in `work` (hooks write there)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kvctl", *args],
        cwd=work,
        env=env_for(emu, work, **extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kvctl(emu: EmulatorProcess, work: Path, *args: str, input: str | None = None, **extra: str):
    return subprocess.run(
        [sys.executable, "-m", "kvctl", *args],
        cwd=work,
        env=env_for(emu, work, **extra),
        input=input,
        capture_output=True,
        text=True,
        check=False,
    )


def admin(emu, *args, input=None):
    result = run_kvctl(list(args), emulator=emu, input=input)
    assert result.exit_code == 0, result.stderr
    return result


def versions(emu, name):
    return next(s for s in emu.state() if s["name"] == name)["versions"]


def wait_for(path: Path, process: subprocess.Popen[str] | None = None) -> None:
    while not path.exists():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"kvctl ended before {path.name} appeared: {process.communicate()}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def recovery_files(work: Path) -> list[Path]:
    directory = work / "recovery"
    return (
        sorted(p for p in directory.iterdir() if p.suffix == ".json" and not p.name.startswith("run_"))
        if (directory.exists())
        else []
    )


# -- 1. preflight -------------------------------------------------------------------------------


def test_an_identity_that_may_only_read_runs_nothing_and_is_told_the_role(emu, tmp_path, unique):
    name = unique("pre")
    admin(emu, "set", name, input="old-value")
    app = emu.identity("app")
    grant = ("access", "grant", "--assignee", app["objectId"], "--assignee-type", "ServicePrincipal", "--secret", name)
    admin(emu, *grant)
    as_app = ("--auth", "managed-identity", "--client-id", app["clientId"])
    assert kvctl(emu, tmp_path, *as_app, "get", name).stdout == "old-value\n", "it may read"

    for extra in ((), ("--from-command", "touch generated; echo new-value-1234")):
        refused = kvctl(emu, tmp_path, *as_app, "rotate", name, "--apply-command", "cat > target", *extra)
        assert refused.returncode == 5, refused.stderr
        assert OFFICER in refused.stderr and "nothing was run" in refused.stderr
        assert "Traceback" not in refused.stderr
        # Without ARM rights kvctl cannot list its permissions; it says so and asks the vault.
        assert "ARM cannot tell" in refused.stderr and "changes nothing" in refused.stderr
    assert not (tmp_path / "target").exists() and not (tmp_path / "generated").exists(), "no hook ran"
    assert recovery_files(tmp_path) == [], "no recovery file"
    [only] = versions(emu, name)
    assert only["value"] == "old-value" and not (only["tags"] or {}).get(LEASE_TAG)

    dry = kvctl(emu, tmp_path, *as_app, "rotate", name, "--dry-run", "-o", "json")
    assert dry.returncode == 5 and OFFICER in dry.stderr
    assert json.loads(dry.stdout)["status"] == "failed"

    admin(emu, "access", "grant", "--assignee", app["objectId"], "--role", OFFICER, "--secret", name)
    assert kvctl(emu, tmp_path, *as_app, "rotate", name, "--dry-run").returncode == 0
    done = kvctl(emu, tmp_path, *as_app, "rotate", name, "--apply-command", "cat > target")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "target").read_text() == versions(emu, name)[-1]["value"]


def test_arm_permissions_decide_for_an_rbac_vault_when_arm_can_be_read(emu, tmp_path, unique):
    """With Reader on the vault, kvctl finds it in ARM and reads its permissions at the secret's scope:
    the permissions API lists only Secrets User's dataActions, so it refuses without asking the vault."""
    name = unique("armpre")
    admin(emu, "set", name, input="old-value")
    app = emu.identity("auditor")
    grant = ("access", "grant", "--assignee", app["objectId"], "--assignee-type", "ServicePrincipal", "--role")
    admin(emu, *grant, "Reader")
    admin(emu, *grant, "Key Vault Secrets User", "--secret", name)
    as_app = ("--auth", "managed-identity", "--client-id", app["clientId"])
    refused = kvctl(emu, tmp_path, *as_app, "rotate", name, "--apply-command", "cat > target", "--debug")
    assert refused.returncode == 5, refused.stderr
    assert "as ARM lists them" in refused.stderr and OFFICER in refused.stderr
    assert "/providers/Microsoft.Authorization/permissions" in refused.stderr
    assert "0" * 32 not in refused.stderr, "ARM decided: the vault was not asked"
    assert not (tmp_path / "target").exists() and recovery_files(tmp_path) == []


# -- 2. the lease ---------------------------------------------------------------------------------


def test_a_second_rotation_while_one_runs_applies_nothing_and_exits_6(emu, tmp_path, unique):
    name = unique("shared-pw")
    admin(emu, "set", name, "--tag", "team=a", input="old")
    first = start(emu, tmp_path, "rotate", name, "--apply-command", WAITING_HOOK)
    wait_for(tmp_path / f"{name}.started", first)
    second = kvctl(emu, tmp_path, "rotate", name, "--apply-command", f"cat > second; echo {name} >> hooks.log")
    assert second.returncode == 6, second.stderr
    assert "being rotated by another kvctl" in second.stderr
    assert not (tmp_path / "second").exists(), "the second rotation ran no hook"
    (tmp_path / "go").touch()
    _, err = first.communicate()
    assert first.returncode == 0, err
    _, new = versions(emu, name)
    assert (tmp_path / f"{name}.target").read_text() == new["value"], "target == vault"
    assert (tmp_path / "hooks.log").read_text() == f"{name}\n"
    assert LEASE_TAG not in (new["tags"] or {}) and new["tags"]["team"] == "a"


def test_two_rotations_started_together_apply_one_value(emu, tmp_path, unique):
    name = unique("shared-pw")
    admin(emu, "set", name, input="old")
    hook = "cat > target; echo ran >> hooks.log; sleep 1"
    both = [start(emu, tmp_path, "rotate", name, "--apply-command", hook) for _ in range(2)]
    outcomes = [(p.wait(), p.stderr.read() if p.stderr else "") for p in both]
    for p in both:
        p.stdout.close() if p.stdout else None
        p.stderr.close() if p.stderr else None
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 6], outcomes
    assert (tmp_path / "hooks.log").read_text() == "ran\n", "exactly one apply command ran"
    assert (tmp_path / "target").read_text() == versions(emu, name)[-1]["value"]
    assert len(versions(emu, name)) == 2


# -- 3. interrupts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_the_hook_starts_nothing_new_and_keeps_the_value(emu, tmp_path, unique, sig, code):
    a, b = unique("sigA"), unique("sigB")
    for name in (a, b):
        admin(emu, "set", name, input="old")
    process = start(emu, tmp_path, "rotate", a, b, "--apply-command", WAITING_HOOK, KVCTL_CONCURRENCY="1")
    wait_for(tmp_path / f"{a}.started", process)
    hook_pid = int((tmp_path / f"{a}.pid").read_text())
    process.send_signal(sig)
    out, err = process.communicate()
    assert process.returncode == code, err
    assert not alive(hook_pid), "the apply command was stopped with its process group"
    assert not (tmp_path / f"{b}.started").exists(), "nothing new was started"
    [saved] = recovery_files(tmp_path)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    record = json.loads(saved.read_text())
    assert record["name"] == a and record["applyState"] == "unknown"
    assert record["value"] == (tmp_path / f"{a}.target").read_text(), "the value the target may hold is kept"
    assert f"kvctl rotate --resume {saved}" in err and f"{b}: not started" in err
    assert record["value"] not in err + out
    assert len(versions(emu, a)) == 1 and len(versions(emu, b)) == 1, "the vault was not changed"

    (tmp_path / "go").touch()
    resumed = kvctl(emu, tmp_path, "rotate", "--resume", str(saved), "-o", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "resumed"
    assert (tmp_path / "hooks.log").read_text().splitlines() == [a, a], "resume applied the value again"
    assert (tmp_path / f"{a}.target").read_text() == versions(emu, a)[-1]["value"] == record["value"]
    assert recovery_files(tmp_path) == []


def test_after_a_kill_before_the_hook_applied_resume_applies_then_stores(emu, tmp_path, unique):
    name = unique("killed")
    admin(emu, "set", name, input="old")
    hook = (
        'echo $$ > hook.pid; touch "$KVCTL_SECRET_NAME.started"; while [ ! -e go ]; do sleep 0.05; done; '
        'cat > "$KVCTL_SECRET_NAME.target"; echo "$KVCTL_SECRET_NAME" >> hooks.log'
    )
    process = start(emu, tmp_path, "rotate", name, "--apply-command", hook)
    wait_for(tmp_path / f"{name}.started", process)
    process.kill()  # no chance to clean up, as on a machine that died
    process.communicate()
    os.killpg(int((tmp_path / "hook.pid").read_text()), signal.SIGKILL)  # the machine took the hook with it
    [saved] = recovery_files(tmp_path)
    assert json.loads(saved.read_text())["applyState"] == "running"
    assert not (tmp_path / f"{name}.target").exists()

    (tmp_path / f"{name}.started").unlink()
    first = start(emu, tmp_path, "rotate", "--resume", str(saved), "-o", "json")
    wait_for(tmp_path / f"{name}.started", first)
    second = kvctl(emu, tmp_path, "rotate", "--resume", str(saved))
    assert second.returncode == 6 and "another kvctl is working on" in second.stderr, second.stderr
    (tmp_path / "go").touch()
    out, err = first.communicate()
    assert first.returncode == 0, err
    assert json.loads(out)["status"] == "resumed"
    assert (tmp_path / "hooks.log").read_text() == f"{name}\n"
    assert len(versions(emu, name)) == 2, "one new version"
    assert (tmp_path / f"{name}.target").read_text() == versions(emu, name)[-1]["value"]
    assert list((tmp_path / "recovery").iterdir()) == []


# -- 4. bulk that converges -------------------------------------------------------------------------


def test_a_new_expiry_within_the_window_is_refused_up_front(emu, tmp_path, unique):
    prefix = unique("conv")
    admin(emu, "set", f"{prefix}-a", "--expires", "3d", input="x")
    given = kvctl(emu, tmp_path, "rotate", "--due-within", "14d", "--expires-in", "10d", "--prefix", prefix)
    assert given.returncode == 2 and "10 days" in given.stderr and "14 days" in given.stderr, given.stderr
    carried = kvctl(emu, tmp_path, "rotate", "--due-within", "14d", "--prefix", prefix, "--apply-command", "cat > t")
    assert carried.returncode == 2 and f"{prefix}-a (3" in carried.stderr, carried.stderr
    assert "--expires-in" in carried.stderr
    assert not (tmp_path / "t").exists() and len(versions(emu, f"{prefix}-a")) == 1
    done = kvctl(emu, tmp_path, "rotate", "--due-within", "14d", "--expires-in", "30d", "--prefix", prefix)
    assert done.returncode == 0, done.stderr
    again = kvctl(emu, tmp_path, "rotate", "--due-within", "14d", "--prefix", prefix)
    assert again.returncode == 0 and "no secret is due" in again.stderr


def test_retry_failed_touches_only_what_did_not_finish(emu, tmp_path, unique):
    prefix = unique("runf")
    names = [f"{prefix}-{i}" for i in range(4)]
    for name in names:
        admin(emu, "set", name, "--expires", "2d", input="x")
    for name in names[1::2]:
        (tmp_path / f"{name}.fail").touch()
    hook = (
        'cat > "$KVCTL_SECRET_NAME.target"; echo "$KVCTL_SECRET_NAME" >> hooks.log; test ! -e "$KVCTL_SECRET_NAME.fail"'
    )
    args = ("rotate", "--due-within", "7d", "--expires-in", "30d", "--prefix", prefix, "--apply-command", hook)
    first = kvctl(emu, tmp_path, *args)
    assert first.returncode == 1, first.stderr
    match = re.search(r"kvctl rotate --retry-failed (\S+) redoes only the 2 that did not finish", first.stderr)
    assert match, first.stderr
    run_file = Path(match.group(1))
    assert stat.S_IMODE(run_file.stat().st_mode) == 0o600
    statuses = {e["name"]: e["status"] for e in json.loads(run_file.read_text())["secrets"]}
    assert statuses == {names[0]: "rotated", names[1]: "failed", names[2]: "rotated", names[3]: "failed"}

    for name in names[1::2]:
        (tmp_path / f"{name}.fail").unlink()
    (tmp_path / "hooks.log").unlink()
    retried = kvctl(emu, tmp_path, "rotate", "--retry-failed", str(run_file), "-o", "json")
    assert retried.returncode == 0, retried.stderr
    assert sorted(r["name"] for r in json.loads(retried.stdout)) == names[1::2]
    assert sorted((tmp_path / "hooks.log").read_text().split()) == names[1::2], "only the failed ones ran"
    for name in names:
        assert len(versions(emu, name)) == 2
        assert (tmp_path / f"{name}.target").read_text() == versions(emu, name)[-1]["value"]
    assert not run_file.exists(), "a run with nothing left to do leaves no file"
    assert "no secret is due" in kvctl(emu, tmp_path, *args).stderr


# -- 5. masking -------------------------------------------------------------------------------------

PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(
    f"MIIEv{i}QIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC{i}" for i in range(4)
)
PEM += "\nZm9vYmFyYmF6cXV4==\n-----END PRIVATE KEY-----\n"


def test_multi_line_values_are_masked_in_hook_output(emu, tmp_path, unique):
    name = unique("pem")
    admin(emu, "set", name, input="old")
    (tmp_path / "new.pem").write_text(PEM)
    echo = "cat > got; echo 'before'; cat got; echo 'after'; cat got >&2"
    result = kvctl(emu, tmp_path, "rotate", name, "--value-file", "new.pem", "--apply-command", echo)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "got").read_text() == PEM
    body = [line for line in PEM.splitlines() if "PRIVATE KEY" not in line]
    for line in body:
        assert line not in result.stderr + result.stdout
    assert "before" in result.stderr and "after" in result.stderr and result.stderr.count("***") >= 2

    made = "printf '%s' \"$PEM_VALUE\"; printf 'echo: %s\\n' \"$PEM_VALUE\" >&2"
    generated = kvctl(
        emu,
        tmp_path,
        "rotate",
        name,
        "--from-command",
        made,
        "--apply-command",
        echo,
        PEM_VALUE=PEM.replace("MIIE", "ZZZZ"),
    )
    assert generated.returncode == 0, generated.stderr
    for line in PEM.replace("MIIE", "ZZZZ").splitlines():
        if "PRIVATE KEY" not in line:
            assert line not in generated.stderr + generated.stdout


def test_a_secret_with_no_validity_to_carry_is_refused_not_made_eternal(fresh_emulator, tmp_path):
    """Seeded to expire before it was created: rotating it without --expires-in would give the new
    version no expiry at all. Refused up front (single and bulk), nothing run; --expires-in works."""
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"stale": {"value": "y", "expires": "-2d"}}))
    emu = fresh_emulator("--seed", str(seed))
    marker = tmp_path / "applied"
    for args in (["stale"], ["--due-within", "14d"]):
        result = run_kvctl(
            ["rotate", *args, "--apply-command", f"cat > {marker}", "--recovery-dir", str(tmp_path / "r")],
            emulator=emu,
        )
        assert result.exit_code == 2, result.stderr
        assert "stale" in result.stderr and "--expires-in" in result.stderr
        assert not marker.exists()
    dry = run_kvctl(["rotate", "stale", "--expires-in", "30d", "--dry-run", "-o", "json"], emulator=emu)
    assert dry.exit_code == 0, dry.stderr
    report = json.loads(dry.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["status"] == "would-rotate" and report["expires"] is not None
