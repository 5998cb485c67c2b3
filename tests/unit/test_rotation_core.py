"""Rotation's ordering guarantees, with the in-memory fake vault and a fake command runner.
(End-to-end tests of the same, with the real SDK and emulator, are in tests/cli/test_rotate*.py.)"""

from __future__ import annotations

import datetime as dt
import json
import stat
import threading
import time

import pytest

from kvctl.core import recovery
from kvctl.core.clouds import CLOUDS
from kvctl.core.errors import ConflictError, ExitCode, PartialFailure, UnavailableError, UsageError
from kvctl.core.hooks import CommandOutcome
from kvctl.core.refs import SecretRef
from kvctl.core.rotation import ROTATION_TAG, RotationOptions, Rotator, carried_expiry, older_enabled
from kvctl.core.rotation_bulk import failure, fixed_source, rotate_many, unique_refs
from kvctl.core.rotation_lease import LeaseKeeper
from tests.fakes import FakeVault

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
PUBLIC = CLOUDS["public"]


class FakeRunner:
    def __init__(self, code: int | None = 0) -> None:
        self.code = code
        self.calls: list[dict] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, command, *, stdin, env, timeout, capture):
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(0.02)
        with self._lock:
            self.active -= 1
            self.calls.append({"command": command, "stdin": stdin, "env": dict(env), "capture": capture})
        code = self.code(env) if callable(self.code) else self.code
        return CommandOutcome(code)


class FlakyVault(FakeVault):
    """Set fails: before writing (`mode="down"`) or after writing, with the answer lost (`"lost"`)."""

    def __init__(self, mode: str | None = None) -> None:
        super().__init__("https://127.0.0.1:8443")
        self.mode = mode
        self.sets = 0

    def set(self, name, value, **props):
        self.sets += 1
        if self.mode == "down":
            raise UnavailableError("the vault did not answer")
        secret = super().set(name, value, **props)
        if self.mode == "lost":
            raise UnavailableError("the answer was lost")
        return secret


@pytest.fixture
def vault():
    return FlakyVault()


def seed(vault, name="db", **props):
    created = vault.set(name, "old-value", **props)
    return created


def rotator(vault, runner=None, tmp_path=None):
    return Rotator(
        lambda url: vault,
        runner or FakeRunner(),
        {"PATH": "/usr/bin"},
        lambda: NOW,
        tmp_path,
        leases=LeaseKeeper(settle=1.0, sleep=lambda seconds: None),
    )


def ref(vault, name="db"):
    return SecretRef(vault.vault_url, name)


def new_versions(vault, name="db"):
    return vault.versions[name][1:]


def test_rotation_keeps_content_type_and_tags_and_replaces_the_rotation_id(vault, tmp_path):
    seed(vault, content_type="text/plain", tags={"team": "a", ROTATION_TAG: "older"})
    result = rotator(vault, tmp_path=tmp_path).rotate(ref(vault), fixed_source("new-value"), RotationOptions())
    assert result.ok and result.status == "rotated"
    [new] = new_versions(vault)
    assert new.value == "new-value" and new.content_type == "text/plain"
    assert new.tags == {"team": "a", ROTATION_TAG: result.rotation_id} and result.rotation_id != "older"
    assert result.new_version == new.version and result.old_version == vault.versions["db"][0].version
    assert list(tmp_path.iterdir()) == [], "the recovery file is gone once the vault has the value"


def test_expiry_is_carried_forward_or_set_or_absent():
    from kvctl.core.models import Secret, SecretAttributes

    def current(created, expires):
        return Secret("id", "v", "n", "1", SecretAttributes(created=created, expires=expires))

    ninety = dt.timedelta(days=90)
    assert carried_expiry(current(NOW - ninety, NOW + dt.timedelta(days=3)), NOW, None) == NOW + ninety + dt.timedelta(
        days=3
    )
    assert carried_expiry(current(NOW, None), NOW, None) is None
    # Expiring, but with no validity period to carry: refused, never a new version that never expires.
    with pytest.raises(UsageError, match="no validity period"):
        carried_expiry(current(NOW, NOW - dt.timedelta(days=1)), NOW, None)
    with pytest.raises(UsageError, match="no validity period"):
        carried_expiry(current(None, NOW + dt.timedelta(days=1)), NOW, None)
    # A validity running past the year 9999 is refused with a clear error, not an OverflowError.
    far = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    with pytest.raises(UsageError, match="9999"):
        carried_expiry(current(NOW - dt.timedelta(days=1), far), NOW, None)
    with pytest.raises(UsageError, match="9999"):
        carried_expiry(current(NOW, None), NOW, dt.timedelta(days=3_000_000))
    assert carried_expiry(current(NOW, None), NOW, dt.timedelta(days=7)) == NOW + dt.timedelta(days=7)
    assert carried_expiry(current(None, None), NOW.replace(microsecond=5), ninety).microsecond == 0


def test_dry_run_writes_nothing_runs_nothing_and_needs_no_value(vault):
    seed(vault)
    runner = FakeRunner()

    def no_value(ref, current):
        raise AssertionError("a dry run must not ask for a value")

    options = RotationOptions(apply_command="apply", dry_run=True, expires_in=dt.timedelta(days=1))
    result = rotator(vault, runner).rotate(ref(vault), no_value, options)
    assert result.status == "would-rotate" and result.expires == NOW + dt.timedelta(days=1)
    assert runner.calls == [] and vault.sets == 1 and len(vault.versions["db"]) == 1


def test_the_apply_command_gets_the_value_on_stdin_and_names_in_its_environment(vault, tmp_path):
    old = seed(vault)
    runner = FakeRunner()
    rotator(vault, runner, tmp_path).rotate(ref(vault), fixed_source("s3cret-new"), RotationOptions(apply_command="x"))
    [call] = runner.calls
    assert call["stdin"] == b"s3cret-new" and not call["capture"]
    assert call["env"]["KVCTL_SECRET_NAME"] == "db" and call["env"]["KVCTL_SECRET_VERSION_OLD"] == old.version
    assert call["env"]["KVCTL_VAULT_URL"] == vault.vault_url and call["env"]["PATH"] == "/usr/bin"
    assert not any("s3cret-new" in v for v in call["env"].values())


def test_a_failed_apply_command_leaves_the_vault_unchanged_and_no_file(vault, tmp_path):
    seed(vault)
    result = rotator(vault, FakeRunner(4), tmp_path).rotate(
        ref(vault), fixed_source("never-stored"), RotationOptions(apply_command="x")
    )
    assert result.status == "failed" and result.error.exit_code == ExitCode.UNEXPECTED
    assert "the apply command for 'db' failed (exit 4); the vault is unchanged" in result.error.message
    assert vault.sets == 1 and list(tmp_path.iterdir()) == []


def test_a_timed_out_apply_command_keeps_the_value_in_case_the_target_took_it(vault, tmp_path):
    seed(vault)
    result = rotator(vault, FakeRunner(None), tmp_path).rotate(
        ref(vault), fixed_source("maybe-applied"), RotationOptions(apply_command="x", hook_timeout=5)
    )
    assert result.status == "failed" and "timed out after 5 s" in result.error.message
    assert vault.sets == 1
    [kept] = tmp_path.iterdir()
    assert result.recovery_file == str(kept) and recovery.load(kept).value == "maybe-applied"


def test_a_failed_write_after_the_hook_keeps_the_value_and_resume_stores_it_once(tmp_path):
    vault = FlakyVault()
    seed(vault, tags={"team": "a"}, expires=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    vault.mode = "down"
    runner = FakeRunner()
    result = rotator(vault, runner, tmp_path).rotate(
        ref(vault), fixed_source("applied-value"), RotationOptions(apply_command="x")
    )
    assert result.status == "failed" and result.error.exit_code == ExitCode.UNAVAILABLE
    [kept] = tmp_path.iterdir()
    assert str(kept) in result.error.message and f"kvctl rotate --resume {kept}" in result.error.hint
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert "already applied" in result.error.message

    vault.mode = None
    resumed = rotator(vault, runner, tmp_path).resume(kept, RotationOptions(), PUBLIC)
    assert resumed.status == "resumed" and resumed.ok
    [new] = new_versions(vault)
    assert new.value == "applied-value" and new.tags == {"team": "a", ROTATION_TAG: result.rotation_id}
    assert len(runner.calls) == 1, "resume never runs the apply command again"
    assert not kept.exists()


def test_a_lost_answer_is_recognised_by_the_rotation_id(tmp_path):
    vault = FlakyVault()
    seed(vault)
    vault.mode = "lost"
    result = rotator(vault, tmp_path=tmp_path).rotate(ref(vault), fixed_source("v2"), RotationOptions())
    assert result.status == "rotated" and result.ok
    assert len(new_versions(vault)) == 1 and result.new_version == new_versions(vault)[0].version
    assert list(tmp_path.iterdir()) == []


def test_resume_of_a_stored_rotation_writes_nothing_and_removes_the_file(vault, tmp_path):
    seed(vault)
    tags = {ROTATION_TAG: "rid-1"}
    record = recovery.RecoveryRecord(vault.vault_url, "db", "v2", "rid-1", None, tags, None, None, NOW)
    vault.set("db", "v2", tags={ROTATION_TAG: "rid-1"})
    path = recovery.save(recovery.prepare_dir(tmp_path / "rec"), record)
    sets = vault.sets
    result = rotator(vault).resume(path, RotationOptions(), PUBLIC)
    assert result.status == "already-stored" and vault.sets == sets and not path.exists()


def test_resume_refuses_to_replace_a_newer_version_unless_forced(vault, tmp_path):
    old = seed(vault)
    record = recovery.RecoveryRecord(
        vault.vault_url, "db", "v2", "rid-2", None, {ROTATION_TAG: "rid-2"}, None, old.version, NOW
    )
    vault.set("db", "someone-else")
    path = recovery.save(recovery.prepare_dir(tmp_path), record)
    with pytest.raises(ConflictError, match="newer version"):
        rotator(vault).resume(path, RotationOptions(), PUBLIC)
    assert path.exists()
    assert rotator(vault).resume(path, RotationOptions(), PUBLIC, force=True).status == "resumed"
    assert vault.versions["db"][-1].value == "v2"


def test_resume_refuses_a_file_naming_a_host_that_is_not_a_vault(vault, tmp_path):
    record = recovery.RecoveryRecord("https://evil.example.com", "db", "v", "r", None, {}, None, None, NOW)
    path = recovery.save(recovery.prepare_dir(tmp_path), record)
    with pytest.raises(UsageError, match="not a Key Vault host"):
        rotator(vault).resume(path, RotationOptions(), PUBLIC)


def test_a_secret_with_fifteen_tags_is_refused_before_anything_happens(vault, tmp_path):
    seed(vault, tags={f"t{i}": "x" for i in range(15)})
    runner = FakeRunner()
    result = rotator(vault, runner, tmp_path).rotate(ref(vault), fixed_source("v"), RotationOptions(apply_command="x"))
    assert isinstance(result.error, UsageError) and "15" in result.error.message
    assert runner.calls == [] and list(tmp_path.iterdir()) == [] and vault.sets == 1


def test_disable_previous_keeps_the_newest_n_enabled_older_versions(vault, tmp_path):
    for i in range(4):
        vault.set("db", f"v{i}", enabled=i != 2)
    versions = [v.version for v in vault.versions["db"]]
    result = rotator(vault, tmp_path=tmp_path).rotate(
        ref(vault), fixed_source("v-new"), RotationOptions(disable_previous=True, keep=1)
    )
    assert result.ok
    # v3 (newest older, enabled) is kept; v2 was already disabled; v1 and v0 are disabled now.
    assert result.disabled_versions == (versions[1], versions[0])
    enabled = {v.version: v.attributes.enabled for v in vault.versions["db"]}
    assert enabled[versions[3]] and enabled[result.new_version]
    assert not any(enabled[v] for v in versions[:3])
    assert older_enabled(vault, "db", result.new_version, 0) == [versions[3]]


def test_bulk_goes_on_after_a_failure_and_bounds_concurrency(tmp_path):
    vault = FlakyVault()
    names = [f"s{i}" for i in range(12)]
    for name in names:
        vault.set(name, "old")
    runner = FakeRunner(lambda env: 1 if env["KVCTL_SECRET_NAME"] == "s3" else 0)
    refs = unique_refs([ref(vault, n) for n in [*names, "S1"]])
    done = []
    results = rotate_many(
        rotator(vault, runner, tmp_path),
        refs,
        fixed_source("shared-in-this-test"),
        RotationOptions(apply_command="x"),
        concurrency=3,
        on_done=done.append,
    )
    assert [r.name for r in results] == names, "each secret once (names are case-insensitive), in order"
    assert len(done) == 12 and runner.most_active <= 3 and runner.most_active >= 2
    assert [r.name for r in results if not r.ok] == ["s3"]
    error = failure(results)
    assert isinstance(error, PartialFailure) and error.exit_code == ExitCode.UNEXPECTED
    assert "1 of 12" in error.message and "s3" in error.message
    assert failure([r for r in results if r.ok]) is None


def test_recovery_files_round_trip_and_never_show_their_value(tmp_path):
    record = recovery.RecoveryRecord(
        "https://v.vault.azure.net", "db", "the-value", "rid", "text/plain", {"a": "b"}, NOW, "0" * 32, NOW
    )
    path = recovery.save(recovery.prepare_dir(tmp_path / "a" / "b"), record)
    assert recovery.load(path) == record
    assert "the-value" not in repr(record)
    data = json.loads(path.read_text())
    assert data["format"] == "kvctl-rotation-recovery" and data["expires"] == "2026-01-01T12:00:00+00:00"


@pytest.mark.parametrize(
    "content", ["not json", "{}", '{"format": "kvctl-rotation-recovery", "formatVersion": 1, "name": "x"}']
)
def test_a_damaged_recovery_file_is_a_usage_error(tmp_path, content):
    path = tmp_path / "f.json"
    path.write_text(content)
    with pytest.raises(UsageError):
        recovery.load(path)


def test_the_recovery_directory_is_tightened_to_0700(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    recovery.prepare_dir(loose)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700


def test_the_default_recovery_directory_follows_xdg(tmp_path):
    assert recovery.default_dir({}, tmp_path) == tmp_path / ".local/state/kvctl/recovery"
    assert recovery.default_dir({"XDG_STATE_HOME": "/s"}, tmp_path) == recovery.Path("/s/kvctl/recovery")
    assert recovery.default_dir({"XDG_STATE_HOME": "relative"}, tmp_path) == tmp_path / ".local/state/kvctl/recovery"
