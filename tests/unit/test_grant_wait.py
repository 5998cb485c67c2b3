"""`grant --wait`: what it waits for, and that running out of time says what happened (exit 7)."""

from __future__ import annotations

import datetime as dt

import pytest

from kvctl.core.access import AccessChange, GrantWait, wait_for_grant
from kvctl.core.arm import RoleAssignment
from kvctl.core.errors import ExitCode, ForbiddenError, UnavailableError

SCOPE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v"
ROLE = "4633458b-17de-408a-b874-0445c86b69e6"
ME = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"


class SlowArm:
    """Lists the assignment only after `hidden` calls, as ARM's read replicas may."""

    def __init__(self, hidden: int) -> None:
        self.hidden = hidden
        self.calls = 0

    def list_role_assignments(self, scope: str, *, principal_id: str | None = None) -> list[RoleAssignment]:
        self.calls += 1
        if self.calls <= self.hidden:
            return []
        return [RoleAssignment(f"{SCOPE}/ra/1", "1", SCOPE, ROLE, ME, "ServicePrincipal")]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def change() -> AccessChange:
    return AccessChange("granted", "v", SCOPE, "Key Vault Secrets User", ME)


def run(arm: SlowArm, plan: GrantWait, clock: Clock, said: list[str]) -> AccessChange:
    return wait_for_grant(arm, change(), ROLE, plan, clock=clock, sleep=clock.sleep, notify=said.append)  # type: ignore[arg-type]


def test_waits_for_arm_then_the_data_plane_when_kvctl_is_the_assignee():
    refusals = [ForbiddenError("ForbiddenByRbac")] * 3

    def probe() -> None:
        if refusals:
            raise refusals.pop()

    clock, said = Clock(), []
    result = run(SlowArm(hidden=2), GrantWait(dt.timedelta(minutes=5), ME.upper(), probe), clock, said)
    assert result.propagation == "effective" and not refusals
    assert len(said) == 2, "one line for each thing it waits for, not one per attempt"


def test_for_another_identity_it_ends_when_arm_lists_it():
    def probe() -> None:
        raise AssertionError("kvctl cannot act as another identity")

    result = run(SlowArm(hidden=1), GrantWait(dt.timedelta(minutes=1), "someone-else", probe), Clock(), [])
    assert result.propagation == "visible"


def test_out_of_time_is_exit_7_and_keeps_the_assignment():
    def probe() -> None:
        raise ForbiddenError("ForbiddenByRbac")

    clock = Clock()
    with pytest.raises(UnavailableError) as late:
        run(SlowArm(hidden=0), GrantWait(dt.timedelta(seconds=30), ME, probe), clock, [])
    assert late.value.exit_code == ExitCode.UNAVAILABLE
    assert "exists" in str(late.value) and "Key Vault does not honour it yet" in str(late.value)
    assert clock.now == pytest.approx(30.0), "it waits the whole duration, no longer"
