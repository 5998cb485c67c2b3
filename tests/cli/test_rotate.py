"""`kvctl rotate` through the real CLI and SDK against the shared emulator."""

from __future__ import annotations

import base64
import datetime as dt
import re
import string
import uuid

import pytest

from kvctl.core.generators import SYMBOLS
from kvctl.core.rotation import ROTATION_TAG

RESULT_KEYS = {
    "name",
    "vaultUrl",
    "status",
    "oldVersion",
    "newVersion",
    "id",
    "expires",
    "rotationId",
    "disabledVersions",
    "recoveryFile",
    "error",
}


@pytest.fixture
def rotate(kvctl, tmp_path):
    """`kvctl rotate ...` with its own recovery directory."""
    recovery = tmp_path / "recovery"

    def call(*args, input=None, env=None):
        # A short lease settle time keeps these tests quick; tests of the lease itself use the default.
        env = {"KVCTL_RECOVERY_DIR": str(recovery), "KVCTL_ROTATION_SETTLE": "0.5", **(env or {})}
        return kvctl("rotate", *args, input=input, env=env)

    call.recovery = recovery
    return call


def versions_of(emulator, name):
    return next(s for s in emulator.state() if s["name"] == name)["versions"]


def comparable(version):
    """A version as a rotation that stopped must leave it: all but `updated` (the lease was taken and
    released) and an emptied tag set."""
    return {**version, "updated": None, "tags": version["tags"] or None}


def test_rotate_keeps_content_type_and_tags_and_carries_the_expiry_forward(kvctl, rotate, emulator, unique):
    name = unique("rot")
    kvctl("set", name, "--content-type", "text/plain", "--tag", "team=a", "--tag", "env=prod", "--expires", "30d",
          input="old-value")  # fmt: skip
    result = rotate(name, "-o", "json")
    assert result.exit_code == 0, result.stderr
    report = result.json
    assert set(report) == RESULT_KEYS and report["status"] == "rotated" and report["error"] is None
    old, new = versions_of(emulator, name)
    assert (report["oldVersion"], report["newVersion"]) == (old["version"], new["version"])
    assert new["contentType"] == "text/plain"
    assert new["tags"] == {"team": "a", "env": "prod", ROTATION_TAG: report["rotationId"]}
    assert new["exp"] - new["created"] == old["exp"] - old["created"], "the validity period is carried forward"
    # No stopwatch: the report states the new version's expiry, and the period is the 30 days set
    # (less the moments between kvctl computing "30d" and the service stamping the version).
    assert dt.datetime.fromisoformat(report["expires"]).timestamp() == new["exp"]
    assert dt.timedelta(days=29) < dt.timedelta(seconds=new["exp"] - new["created"]) <= dt.timedelta(days=30)
    value = kvctl("get", name, "-n").stdout
    assert value == new["value"] != "old-value"
    assert len(value) == 32 and set(value) <= set(string.ascii_letters + string.digits + SYMBOLS)
    again = rotate(name, "-o", "json").json
    assert versions_of(emulator, name)[-1]["tags"][ROTATION_TAG] == again["rotationId"] != report["rotationId"]
    assert not rotate.recovery.exists() or list(rotate.recovery.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (["--generator", "hex", "--length", "20"], lambda v: re.fullmatch(r"[0-9a-f]{20}", v)),
        (["--generator", "base64", "--length", "24"], lambda v: len(base64.b64decode(v, validate=True)) == 24),
        (["--generator", "uuid"], lambda v: uuid.UUID(v).version == 4),
        (["--length", "12", "--classes", "digits,upper"], lambda v: re.fullmatch(r"[0-9A-Z]{12}", v)),
    ],
)
def test_generators(kvctl, rotate, unique, args, check):
    name = unique("gen")
    kvctl("set", name, input="old")
    assert rotate(name, *args).exit_code == 0
    assert check(kvctl("get", name, "-n").stdout)


def test_value_from_stdin_or_a_file_is_taken_exactly(kvctl, rotate, unique, tmp_path):
    name = unique("stdin")
    kvctl("set", name, input="old")
    assert rotate(name, "--value-file", "-", input="from-stdin\n").exit_code == 0
    assert kvctl("get", name, "-n").stdout == "from-stdin\n"
    path = tmp_path / "v"
    path.write_text("from-file")
    assert rotate(name, "--value-file", str(path)).exit_code == 0
    assert kvctl("get", name, "-n").stdout == "from-file"
    empty = rotate(name, "--value-file", "-", input="")
    assert empty.exit_code == 2 and "empty" in empty.stderr


def test_value_from_a_command(kvctl, rotate, emulator, unique):
    name = unique("cmd")
    kvctl("set", name, input="old")
    result = rotate(name, "--from-command", 'printf "made-for-%s\\n" "$KVCTL_SECRET_NAME"')
    assert result.exit_code == 0, result.stderr
    assert kvctl("get", name, "-n").stdout == f"made-for-{name}"
    for command, fragment in (("echo oops >&2; exit 3", "(exit 3)"), ("true", "printed no value")):
        failed = rotate(name, "--from-command", command)
        assert failed.exit_code == 2 and fragment in failed.stderr, failed.stderr
    assert len(versions_of(emulator, name)) == 2, "a failed --from-command changes nothing"


def test_expires_in_replaces_the_carried_period_and_no_expiry_stays_none(kvctl, rotate, emulator, unique):
    name = unique("exp")
    kvctl("set", name, input="old")
    assert rotate(name).exit_code == 0
    assert versions_of(emulator, name)[-1]["exp"] is None
    rotated = rotate(name, "--expires-in", "7d", "-o", "json")
    assert rotated.exit_code == 0, rotated.stderr
    newest = versions_of(emulator, name)[-1]
    # what was reported is what was stored, and it is 7 days from about when the version was made
    assert dt.datetime.fromisoformat(rotated.json["expires"]).timestamp() == newest["exp"]
    assert 6 * 86400 < newest["exp"] - newest["created"] <= 7 * 86400


def test_the_apply_command_gets_the_value_on_stdin_only(kvctl, rotate, emulator, unique, tmp_path):
    name = unique("hook")
    old = kvctl("set", name, "-o", "json", input="old").json["id"].rsplit("/", 1)[1]
    hook = (
        f"cat > {tmp_path}/stdin; cat /proc/$$/cmdline > {tmp_path}/argv; env > {tmp_path}/env; "
        'echo "applied to $KVCTL_SECRET_NAME"; cat ' + f"{tmp_path}/stdin"
    )
    result = rotate("--debug", "-v", name, "--apply-command", hook)
    assert result.exit_code == 0, result.stderr
    value = versions_of(emulator, name)[-1]["value"]
    assert (tmp_path / "stdin").read_text() == value
    assert value not in (tmp_path / "argv").read_text()
    env = (tmp_path / "env").read_text()
    assert value not in env
    assert f"KVCTL_SECRET_NAME={name}\n" in env and f"KVCTL_SECRET_VERSION_OLD={old}\n" in env
    assert f"KVCTL_VAULT_URL={emulator.vault_url}\n" in env
    assert f"applied to {name}" in result.stderr, "the hook's output passes through to stderr"
    assert value not in result.stderr and value not in result.stdout
    assert "***" in result.stderr, "a value the hook prints is masked"


def test_a_failing_apply_command_leaves_the_vault_unchanged(kvctl, rotate, emulator, unique):
    name = unique("hookfail")
    kvctl("set", name, input="old")
    before = versions_of(emulator, name)
    result = rotate(name, "--apply-command", "cat > /dev/null; echo 'target refused' >&2; exit 4")
    assert result.exit_code == 1
    assert "the apply command for" in result.stderr and "failed (exit 4); the vault is unchanged" in result.stderr
    assert "target refused" in result.stderr
    # Only the rotation lease came and went (an attributes update: `updated` moves, no new version).
    assert [comparable(v) for v in versions_of(emulator, name)] == [comparable(v) for v in before]
    assert list(rotate.recovery.iterdir()) == [], "a value that was never applied is not kept"


def test_disable_previous_with_keep(kvctl, rotate, emulator, unique):
    name = unique("dis")
    for value in ("v1", "v2", "v3"):
        kvctl("set", name, input=value)
    report = rotate(name, "--disable-previous", "--keep", "1", "-o", "json").json
    state = {v["version"]: v["enabled"] for v in versions_of(emulator, name)}
    order = [v["version"] for v in versions_of(emulator, name)]
    assert report["disabledVersions"] == [order[1], order[0]]
    assert [state[v] for v in order] == [False, False, True, True]
    rotate(name, "--disable-previous")
    assert [v["enabled"] for v in versions_of(emulator, name)] == [False, False, False, False, True]


def test_dry_run_changes_nothing_and_runs_nothing(kvctl, rotate, emulator, unique, tmp_path):
    name = unique("dry")
    kvctl("set", name, "--expires", "3d", input="old")
    before = emulator.state()
    marker = tmp_path / "ran"
    result = rotate(name, "--dry-run", "--apply-command", f"touch {marker}", "--from-command", f"touch {marker}")
    assert result.exit_code == 0, result.stderr
    bulk = rotate("--due-within", "5d", "--prefix", name, "--dry-run", "--expires-in", "30d", "-o", "json")
    assert [(r["name"], r["status"]) for r in bulk.json] == [(name, "would-rotate")]
    assert "would rotate" in bulk.stderr
    after = emulator.state()
    assert [s for s in after if s["name"] == name] == [s for s in before if s["name"] == name]
    assert not marker.exists() and not rotate.recovery.exists()


def test_bulk_rotates_due_secrets_and_goes_on_after_a_failure(kvctl, rotate, emulator, unique):
    prefix = unique("bulk")
    kinds = ("due", "exp", "later", "off", "nx", "f")
    due, expired, later, disabled, forever, failing = (f"{prefix}-{kind}" for kind in kinds)
    kvctl("set", due, "--expires", "3d", input="x")
    kvctl("set", expired, "--expires", "2020-01-01", input="x")
    kvctl("set", later, "--expires", "60d", input="x")
    kvctl("set", disabled, "--expires", "3d", "--disabled", input="x")
    kvctl("set", forever, input="x")
    kvctl("set", failing, "--expires", "1d", input="x")
    hook = f'cat > /dev/null; test "$KVCTL_SECRET_NAME" != "{failing}"'
    result = rotate(
        "--due-within", "14d", "--prefix", prefix, "--apply-command", hook, "--expires-in", "90d", "-o", "json"
    )  # fmt: skip
    assert result.exit_code == 1, "a failed apply command: the bulk run exits non-zero"
    statuses = {r["name"]: r["status"] for r in result.json}
    assert statuses == {due: "rotated", expired: "rotated", failing: "failed"}
    assert "1 of 3 secret(s)" in result.stderr and failing in result.stderr
    counts = {s["name"]: len(s["versions"]) for s in emulator.state() if s["name"].startswith(prefix)}
    assert counts == {due: 2, expired: 2, later: 1, disabled: 1, forever: 1, failing: 1}
    again = rotate("--due-within", "14d", "--prefix", prefix, "--expires-in", "30d", "-o", "json")
    assert again.exit_code == 0 and [r["name"] for r in again.json] == [failing], "the others are not due now"


def test_several_refs_each_rotated_and_failures_named(kvctl, rotate, unique):
    a, b, missing = unique("many"), unique("many"), unique("none")
    kvctl("set", a, input="x")
    kvctl("set", b, input="x")
    ok = rotate(a, b, a, "-o", "json")
    assert ok.exit_code == 0 and [r["name"] for r in ok.json] == [a, b]
    partly = rotate(a, missing, "-o", "tsv")
    assert partly.exit_code == 3 and missing in partly.stderr
    assert [line.split("\t")[:2] for line in partly.stdout.splitlines()] == [[a, "rotated"], [missing, "failed"]]


def test_a_missing_secret_exits_3(rotate, unique):
    result = rotate(unique("absent"))
    assert result.exit_code == 3 and "not found" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "name secrets to rotate"),
        (["a", "--due-within", "1d"], "not both"),
        (["--resume", "f.json", "a"], "takes no"),
        (["--resume", "f.json", "--apply-command", "x"], "--apply-command"),
        (["a", "b", "--value-file", "-"], "one secret only"),
        (["--due-within", "1d", "--value-file", "-"], "one secret only"),
        (["a", "--keep", "1"], "--disable-previous"),
        (["a", "--generator", "uuid", "--length", "3"], "does not apply"),
        (["a", "--classes", "emoji"], "invalid character classes"),
        (["a", "--length", "2"], "cannot hold one character from each"),
        (["a", "--from-command", "x", "--value-file", "-"], "choose one source"),
        (["a", "--prefix", "p"], "--due-within only"),
        (["--due-within", "soon"], "invalid duration"),
        (["a", "--expires-in", "1 day"], "invalid duration"),
        (["a/" + "0" * 32], "invalid secret name"),
        (["a", "--force"], "only to --resume"),
        (["--resume", "/nonexistent/f.json"], "cannot read recovery file"),
    ],
)
def test_bad_input_exits_2_before_any_request(rotate, args, fragment):
    # A vault that nothing listens on: any request would end in exit 7, not 2.
    result = rotate(*args, env={"KVCTL_VAULT": "https://127.0.0.1:9", "KVCTL_RETRIES": "0"})
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_a_versioned_reference_is_refused(kvctl, rotate, unique):
    name = unique("ver")
    version = kvctl("set", name, "-o", "json", input="x").json["id"].rsplit("/", 1)[1]
    result = rotate(f"akv://{kvctl('show', name, '-o', 'json').json['id'].split('/')[2]}/{name}/{version}")
    assert result.exit_code == 2 and "without a version" in result.stderr
