"""Every error a user can hit: one clear line plus a hint, the documented exit code, no traceback."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import run_kvctl


def _one_clear_line(result) -> None:
    lines = [line for line in result.stderr.splitlines() if line]
    assert "Traceback" not in result.stderr
    assert lines and lines[0].startswith(("kvctl: error: ", "Error: ", "Usage: ")), result.stderr
    errors = [line for line in lines if line.startswith("kvctl: error: ")]
    assert len(errors) <= 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["get", "bad_name"], "invalid secret name"),
        (["get", "x" * 128], "invalid secret name"),
        (["get", "ok", "--version", "nothex"], "invalid secret version"),
        (["get", "akv://"], "invalid secret reference"),
        (["get", "http://myvault.vault.azure.net/secrets/a"], "must use https"),
        (["get", "https://evil.example.com/secrets/a"], "not a Key Vault host"),
        (["--vault", "evil.example.com", "get", "a"], "not a Key Vault host"),
        (["--vault", "x", "get", "a"], "invalid vault name"),
        (["--vault", "myvault.vault.azure.cn", "get", "a"], "--cloud china"),
        (["set", "ok", "--expires", "soon"], "invalid date or duration"),
        (["set", "ok", "--tag", "novalue"], "invalid tag"),
        (["list", "--expiring-within", "3 days"], "invalid duration"),
        (["set", "ok", "--file", "/nonexistent/file"], "cannot read"),
        (["set", "ok", "--value", "a", "--file", "-"], "not both"),
        (["get", "a", "b", "--version", "0" * 32], "single secret"),
        (["get", "a", "-o", "table"], "not available"),
        (["--auth", "nope", "list"], "Invalid value for '--auth'"),
        (["list", "--bogus"], "No such option"),
        (["restore", "--file", "/nonexistent"], "cannot read"),
    ],
)
def test_invalid_input_exits_2_before_any_request(kvctl, emulator, args, fragment):
    before = emulator.control("GET", "state")["counters"]["requests"]
    result = kvctl(*args)
    assert emulator.control("GET", "state")["counters"]["requests"] == before, "a request was sent"
    assert result.exit_code == 2, result.stderr
    assert fragment in result.stderr
    _one_clear_line(result)


def test_no_vault_is_a_usage_error():
    result = run_kvctl(["get", "a"])
    assert result.exit_code == 2
    assert "no vault" in result.stderr and "KVCTL_VAULT" in result.stderr


def test_oversized_value_is_refused_locally(kvctl, unique):
    result = kvctl("set", unique("big"), input="x" * (25 * 1024 + 1))
    assert result.exit_code == 2
    assert "25 KiB" in result.stderr


def test_binary_value_is_refused_with_a_hint(kvctl, unique, tmp_path):
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe\x00")
    result = kvctl("set", unique("bin"), "--file", str(path))
    assert result.exit_code == 2 and "base64" in result.stderr


def test_not_found_exits_3(kvctl, unique):
    result = kvctl("get", unique("nope"))
    assert result.exit_code == 3
    assert "not found" in result.stderr
    _one_clear_line(result)


def test_not_found_mentions_a_recoverable_secret(kvctl, unique):
    name = unique("gone")
    kvctl("set", name, input="x")
    kvctl("delete", name)
    for command in (["get", name], ["show", name], ["versions", name]):
        result = kvctl(*command)
        assert result.exit_code == 3, command
        assert f"kvctl recover {name}" in result.stderr, command


def test_missing_version_exits_3(kvctl, unique):
    name = unique("ver")
    kvctl("set", name, input="x")
    assert kvctl("get", name, "--version", "0" * 32).exit_code == 3


def test_recover_and_purge_of_unknown_exit_3(kvctl, unique):
    assert kvctl("recover", unique("r")).exit_code == 3
    name = unique("live")
    kvctl("set", name, input="x")
    result = kvctl("purge", name, "--yes")
    assert result.exit_code == 3 and f"kvctl delete {name}" in result.stderr


def test_conflict_exits_6_with_the_way_out(kvctl, unique):
    name = unique("conflict")
    kvctl("set", name, input="x")
    kvctl("delete", name)
    result = kvctl("set", name, input="y")
    assert result.exit_code == 6
    assert f"kvctl recover {name}" in result.stderr and f"kvctl purge {name}" in result.stderr
    _one_clear_line(result)


def test_forbidden_exits_5_naming_who_what_and_the_role(kvctl, emulator, unique):
    name = unique("rbac")
    kvctl("set", name, input="x")
    app = emulator.identity("app")
    result = kvctl("--auth", "managed-identity", "--client-id", app["clientId"], "get", name)
    assert result.exit_code == 5
    assert app["objectId"] in result.stderr
    assert "getSecret" in result.stderr
    assert "Key Vault Secrets User" in result.stderr
    _one_clear_line(result)
    listing = kvctl("--auth", "managed-identity", "--client-id", app["clientId"], "list")
    assert listing.exit_code == 5 and "Key Vault Reader" in listing.stderr
    writing = kvctl("--auth", "managed-identity", "--client-id", app["clientId"], "set", name, input="y")
    assert writing.exit_code == 5 and "Key Vault Secrets Officer" in writing.stderr


def test_authentication_failure_exits_4(kvctl):
    result = kvctl("list", env={"IDENTITY_ENDPOINT": None, "IDENTITY_HEADER": None})
    assert result.exit_code == 4
    assert "emulator.env" in result.stderr
    _one_clear_line(result)


def test_unknown_managed_identity_exits_4_in_one_line(kvctl):
    result = kvctl("--auth", "managed-identity", "--client-id", "00000000-0000-0000-0000-000000000001", "list")
    assert result.exit_code == 4
    assert len([line for line in result.stderr.splitlines() if line.startswith("kvctl: error")]) == 1
    _one_clear_line(result)


def test_default_credential_failure_is_summarised(kvctl, emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no Azure CLI profile
    result = kvctl(
        "--auth",
        "default",
        "list",
        env={
            "IDENTITY_ENDPOINT": None,
            "IDENTITY_HEADER": None,
            "AZURE_TOKEN_CREDENTIALS": "dev",
            "PATH": "/nonexistent",
        },
    )
    assert result.exit_code == 4
    assert "tried" in result.stderr
    assert len(result.stderr.splitlines()) <= 3, result.stderr


def test_unreachable_vault_exits_7(kvctl):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = kvctl("--vault", f"https://127.0.0.1:{port}", "get", "a", env={"KVCTL_RETRIES": "1"})
    assert result.exit_code == 7
    assert "could not reach" in result.stderr
    _one_clear_line(result)


def test_service_failing_after_retries_exits_7(fresh_emulator, unique):
    emulator = fresh_emulator("--fault-rate", "1")
    result = run_kvctl(["get", unique("x")], emulator=emulator, env={"KVCTL_RETRIES": "1"})
    assert result.exit_code == 7
    _one_clear_line(result)


def test_untrusted_certificate_is_explained(kvctl):
    result = kvctl("get", "a", env={"KVCTL_CA_BUNDLE": None, "KVCTL_RETRIES": "0"})
    assert result.exit_code == 7
    assert "--ca-bundle" in result.stderr


def test_debug_shows_a_traceback_only_when_asked(kvctl, unique):
    quiet = kvctl("get", unique("nope"))
    assert "Traceback" not in quiet.stderr
    loud = kvctl("--debug", "get", unique("nope"))
    assert loud.exit_code == 3 and "Traceback" in loud.stderr


def test_bad_environment_number_is_a_usage_error(kvctl):
    result = kvctl("list", env={"KVCTL_TIMEOUT": "soon"})
    assert result.exit_code == 2 and "KVCTL_TIMEOUT" in result.stderr


def test_an_empty_value_is_refused_unless_allowed(kvctl, unique):
    name = unique("empty")
    refused = kvctl("set", name, input="")
    assert refused.exit_code == 2 and "--allow-empty" in refused.stderr
    assert kvctl("get", name).exit_code == 3, "nothing was stored"
    assert kvctl("set", name, "--allow-empty", input="").exit_code == 0
    assert kvctl("get", name).stdout == "\n"


def test_a_bug_in_kvctl_exits_1_not_7(kvctl, unique, monkeypatch):
    """A KeyError raised by kvctl's own code while a request is in flight (here its response hook)
    is a bug: exit 1 "unexpected error" with a hint to use --debug, never exit 7 "retry later"
    (issue 11, item 9). Malformed service answers still exit 7 (test_hostile_service.py)."""
    from kvctl.core.throttle import ThrottleGate

    name = unique("bug")
    assert kvctl("set", name, input="x").exit_code == 0

    def broken(self):
        raise KeyError("a kvctl bug")

    monkeypatch.setattr(ThrottleGate, "succeeded", broken)
    result = kvctl("get", name)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("kvctl: unexpected error: KeyError")
    assert "--debug" in result.stderr and "Traceback" not in result.stderr
    assert "Traceback" in kvctl("--debug", "get", name).stderr


def test_answer_errors_are_told_from_bugs_by_where_they_were_raised():
    import json as json_module

    from kvctl.azure.errors import is_answer_error

    def kvctl_bug():
        return {}["missing"]

    try:
        kvctl_bug()
    except KeyError as exc:
        assert not is_answer_error(exc)
    try:
        json_module.loads("{")
    except ValueError as exc:
        assert is_answer_error(exc)
