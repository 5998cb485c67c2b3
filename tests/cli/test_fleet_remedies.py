"""Fleet-wide remedies name the vault's subscription: `check --all-subscriptions` printed
`az keyvault update --name V …` and `kvctl check URL --fix` for a vault outside the default
subscription, commands that then looked for the vault in the default one (kvctl: exit 3). Real
kvctl processes against an emulator with vaults in two subscriptions; a printed kvctl remedy is
run as printed (from another default subscription) and must fix the vault."""

from __future__ import annotations

import shlex

import pytest

from tests.conftest import EmulatorProcess, run_kvctl_process, run_kvctl_subprocess

# Remedies that find the vault through ARM by name or URL (not by resource id) must name it.
_NEEDS_SUBSCRIPTION = {"KV001", "KV002", "KV003", "KV004", "KV005", "KV006", "KV007", "KV009"}


def _sub(emu: EmulatorProcess, name: str) -> str:
    return next(s["subscriptionId"] for s in emu.info["subscriptions"] if s["name"] == name)


@pytest.fixture
def two_subscriptions(fresh_emulator) -> EmulatorProcess:
    emu = fresh_emulator("--subscription", "Prod", "--subscription", "Dev", "--vault", "prod-a", "--vault", "Dev/dev-b")
    emu.control("PATCH", "vaults/dev-b", {"properties": {"softDeleteRetentionInDays": 7}})
    policy = {
        "tenantId": emu.info["tenantId"],
        "objectId": emu.identity("admin")["objectId"],
        "permissions": {"secrets": ["all"]},
    }
    emu.control(
        "PATCH", "vaults/prod-a", {"properties": {"enableRbacAuthorization": False, "accessPolicies": [policy]}}
    )
    return emu


def _findings(emu: EmulatorProcess) -> list[dict]:
    done = run_kvctl_subprocess(["check", "--all-subscriptions", "-o", "json"], emulator=emu)
    assert done.exit_code == 10, done.stderr
    return done.json


def test_each_fleet_remedy_that_finds_the_vault_through_arm_names_its_subscription(two_subscriptions):
    emu = two_subscriptions
    findings = _findings(emu)
    subs = {"prod-a": _sub(emu, "Prod"), "dev-b": _sub(emu, "Dev")}
    checked = set()
    for finding in findings:
        command = finding["remedy"].split("  #", 1)[0]  # the command, not its comment
        words = shlex.split(command)
        if finding["id"] in _NEEDS_SUBSCRIPTION:
            want = subs[finding["vault"]]
            # Every command of the line that finds the vault by name or URL carries the option.
            for part in command.split("&&"):
                if "az role assignment delete --ids" in part:
                    continue  # by resource id: the id names the subscription
                assert f"--subscription {want}" in part, finding
            checked.add((finding["vault"], finding["id"]))
        # Never another vault's subscription.
        other = [s for v, s in subs.items() if v != finding["vault"]]
        assert not set(other) & set(words), finding
    assert {("dev-b", "KV003"), ("dev-b", "KV006"), ("prod-a", "KV004"), ("prod-a", "KV005")} <= checked


def test_a_printed_kvctl_remedy_for_a_second_subscription_vault_works_as_printed(two_subscriptions):
    emu = two_subscriptions
    (finding,) = [f for f in _findings(emu) if (f["vault"], f["id"]) == ("dev-b", "KV003")]
    words = shlex.split(finding["remedy"], comments=True)
    assert words[:2] == ["kvctl", "check"], finding
    # Run from a shell whose default subscription is the other one (--yes: no terminal to confirm on).
    env = {**emu.env, "KVCTL_NO_PROGRESS": "1", "AZURE_SUBSCRIPTION_ID": _sub(emu, "Prod")}
    done = run_kvctl_process([*words[1:], "--yes", "-o", "json"], env=env)
    assert done.returncode in (0, 10), done.stderr.decode()
    again = [f for f in _findings(emu) if (f["vault"], f["id"]) == ("dev-b", "KV003")]
    assert again == [], "the remedy fixed the retention of dev-b"
