"""`kvctl backup` only reads, so a reset connection or a 503 is retried like a read: through real
`kvctl` processes against an emulator that fails requests before doing them, no run fails."""

from __future__ import annotations

import pytest

from tests.conftest import kvctl_in

pytestmark = pytest.mark.faults

TRIES = 25


@pytest.mark.timeout(900)
def test_backup_survives_reset_connections(fresh_emulator, tmp_path):
    emulator = fresh_emulator("--fault-rate", "0.25", "--drop-response-rate", "0.05", "--random-seed", "11")
    for _ in range(10):  # the set is retried by kvctl's own write rules; it only needs to land once
        if kvctl_in(emulator, tmp_path, "set", "kept", input=b"value").exit_code == 0:
            break
    else:
        pytest.fail("could not store the secret to back up")
    before = emulator.control("GET", "state")["counters"]
    failures = []
    for attempt in range(TRIES):
        blob = tmp_path / f"kept-{attempt}.blob"
        result = kvctl_in(emulator, tmp_path, "backup", "kept", "--file", str(blob))
        if result.exit_code != 0:
            failures.append(result.stderr)
        else:
            assert blob.stat().st_size > 0
    after = emulator.control("GET", "state")["counters"]
    resets = after["resets"] - before["resets"]
    print(f"\nbackup: {TRIES} tries, {len(failures)} failed, {resets} reset connections")
    assert resets > 0, "the faults did happen"
    assert failures == [], failures[0]
