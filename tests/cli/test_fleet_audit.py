"""`kvctl audit --all-vaults`: the audit logs of vaults in several subscriptions, found with one
Resource Graph query, merged by time; a vault that logs nowhere is named, not an error. Real
kvctl processes against the emulator with `--audit-logs`."""

from __future__ import annotations

from tests.conftest import run_kvctl_subprocess
from tests.emulator.test_wire import raw


def test_audit_all_vaults_merges_every_vaults_log_and_names_the_silent_one(fresh_emulator):
    emu = fresh_emulator(
        "--audit-logs", "--subscription", "Prod", "--subscription", "Dev", "--vault", "prod1", "--vault", "Dev/dev1",
        "--vault", "Dev/quiet",
    )  # fmt: skip
    urls = {v["name"]: v["url"] for v in emu.info["vaults"]}
    quiet = next(v["resourceId"] for v in emu.info["vaults"] if v["name"] == "quiet")
    status, _, body = raw(
        emu,
        "DELETE",
        f"{quiet}/providers/Microsoft.Insights/diagnosticSettings/kvctl-audit?api-version=2021-05-01-preview",
        None,
        url=emu.info["armEndpoint"],
        token=emu.token(),
    )
    assert status in (200, 204), body
    for name in ("prod1", "dev1", "quiet"):
        assert run_kvctl_subprocess(["set", "db", "--vault", urls[name]], emulator=emu, input="v").exit_code == 0
    assert run_kvctl_subprocess(["get", "db", "--vault", urls["dev1"]], emulator=emu).exit_code == 0

    result = run_kvctl_subprocess(["audit", "--all-vaults", "-o", "json", "--since", "1h"], emulator=emu)
    assert result.exit_code == 0, result.stderr
    seen = [(e["vault"], e["operation"], e["secret"], e["status"]) for e in result.json]
    # `set` first reads the current version (404 for a new name) to keep its content type and tags.
    assert seen == [
        ("prod1", "get", "db", 404),
        ("prod1", "set", "db", 200),
        ("dev1", "get", "db", 404),
        ("dev1", "set", "db", 200),
        ("dev1", "get", "db", 200),
    ]
    assert [e["time"] for e in result.json] == sorted(e["time"] for e in result.json)
    assert "quiet" in result.stderr and "no workspace" in result.stderr

    only_gets = run_kvctl_subprocess(
        ["audit", "db", "--all-vaults", "--operation", "get", "-o", "json", "--since", "1h"], emulator=emu
    )
    assert [(e["vault"], e["status"]) for e in only_gets.json] == [("prod1", 404), ("dev1", 404), ("dev1", 200)]

    refused = run_kvctl_subprocess(["audit", f"{urls['prod1']}/secrets/db", "--all-vaults"], emulator=emu)
    assert refused.exit_code == 2 and "secret name" in refused.stderr and "Traceback" not in refused.stderr
