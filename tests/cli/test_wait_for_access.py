"""`--wait-for-access` / KVCTL_WAIT_FOR_ACCESS against `kvctl emulator --rbac-propagation-delay`:
a role granted a moment ago is refused (ForbiddenByRbac) until it propagates; kvctl waits it out.
Real kvctl processes."""

from __future__ import annotations

import pytest

from kvctl.azure.access_wait import is_forbidden_by_rbac
from tests.conftest import run_kvctl_subprocess

pytestmark = pytest.mark.timeout(240)


def test_a_fresh_grant_is_waited_out_only_when_asked(fresh_emulator):
    emu = fresh_emulator("--identity", "late", "--rbac-propagation-delay", "6")
    assert (
        run_kvctl_subprocess(
            ["set", "waited", "--vault", emu.info["vaults"][0]["url"]], emulator=emu, input=b"v"
        ).exit_code
        == 0
    )
    granted = run_kvctl_subprocess(
        ["access", "grant", "--assignee", "late", "--role", "Key Vault Secrets User"], emulator=emu
    )
    assert granted.exit_code == 0, granted.stderr
    as_late = ["--auth", "emulator", "--client-id", "late"]
    refused = run_kvctl_subprocess(["get", "waited", *as_late], emulator=emu)
    assert refused.exit_code == 5, refused.stderr
    waited = run_kvctl_subprocess(["get", "waited", *as_late, "--wait-for-access", "60s"], emulator=emu)
    assert waited.exit_code == 0, waited.stderr
    assert waited.stdout == "v\n"
    notices = [line for line in waited.stderr.splitlines() if "access is not effective yet" in line]
    assert len(notices) == 1, waited.stderr  # said once, without -v: a CI log shows why it pauses


def test_waiting_ends_with_the_refusal_when_time_runs_out(fresh_emulator):
    emu = fresh_emulator("--identity", "never")
    result = run_kvctl_subprocess(
        ["get", "anything", "--auth", "emulator", "--client-id", "never"],
        emulator=emu,
        env={"KVCTL_WAIT_FOR_ACCESS": "3s"},
    )
    assert result.exit_code == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("access is not effective yet") == 1, "it did wait, and said so once"


def test_a_bad_duration_is_a_usage_error_before_any_request():
    result = run_kvctl_subprocess(["get", "x", "--vault", "https://127.0.0.1:9", "--wait-for-access", "soon"])
    assert result.exit_code == 2 and "'soon' is not a duration" in result.stderr
    from_env = run_kvctl_subprocess(
        ["get", "x", "--vault", "https://127.0.0.1:9"], env={"KVCTL_WAIT_FOR_ACCESS": "abc", "KVCTL_RETRIES": "0"}
    )
    assert from_env.exit_code == 2 and "KVCTL_WAIT_FOR_ACCESS" in from_env.stderr, from_env.stderr


def test_zero_means_do_not_wait(fresh_emulator):
    emu = fresh_emulator("--identity", "never")
    result = run_kvctl_subprocess(
        ["get", "anything", "--auth", "emulator", "--client-id", "never"],
        emulator=emu,
        env={"KVCTL_WAIT_FOR_ACCESS": "0"},
    )
    assert result.exit_code == 5, result.stderr  # refused at once: no usage error, no wait
    assert "access is not effective yet" not in result.stderr


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (403, '{"error": {"code": "Forbidden", "innererror": {"code": "ForbiddenByRbac"}}}', True),
        (403, '{"error": {"code": "Forbidden", "innererror": {"code": "ForbiddenByFirewall"}}}', False),
        (
            403,
            '{"error": {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret."}}',
            False,
        ),
        (401, '{"error": {"code": "Unauthorized", "innererror": {"code": "ForbiddenByRbac"}}}', False),
        (403, "<html>nope</html>", False),
        (403, '["not", "an", "object"]', False),
    ],
)
def test_only_forbidden_by_rbac_is_waited_for(status, body, expected):
    assert is_forbidden_by_rbac(status, body) is expected
