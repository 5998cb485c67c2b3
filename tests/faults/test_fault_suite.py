"""The fault suite: a mixed workload of over 1,000 kvctl operations against an emulator that fails
10% of requests before doing them, loses 5% of write answers after doing them, throttles at the
service's limits and adds latency. Then the emulator's state is checked against what kvctl
acknowledged: every acknowledged write present, no unexpected extra version, every failure
reported with a documented exit code.

Operations go through kvctl's core operations and its Azure backend, as the CLI commands call them.
Each secret belongs to one worker, so its operations are sequential; every write carries a unique
value, so a duplicate version (a write sent twice) is visible in the final state.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest

from kvctl.azure.clients import AzureClients
from kvctl.core import access, recovery, secrets
from kvctl.core.errors import KvctlError
from kvctl.core.hooks import ShellRunner
from kvctl.core.refs import SecretRef
from kvctl.core.roles import find_role
from kvctl.core.rotation import ROTATION_TAG, RotationOptions, Rotator
from kvctl.core.rotation_bulk import fixed_source
from kvctl.core.rotation_lease import LeaseKeeper
from kvctl.core.settings import Settings

pytestmark = pytest.mark.faults

DOCUMENTED = {2, 3, 4, 5, 6, 7}
WORKERS = 12
SECRETS_PER_WORKER = 4
OPERATIONS = 1200


@dataclass
class Ledger:
    """What one worker did to its secrets, and what kvctl said."""

    attempted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    acknowledged: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, int, str]] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)


def _record(ledger: Ledger, operation: str, fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
    except KvctlError as exc:
        ledger.outcomes[f"{operation} exit {int(exc.exit_code)}"] += 1
        ledger.failures.append((operation, int(exc.exit_code), exc.message))
        return None, exc
    ledger.outcomes[f"{operation} ok"] += 1
    return result, None


def _rotate(rotator: Rotator, ref: SecretRef, value: str):
    result = rotator.rotate(ref, fixed_source(value), RotationOptions())
    if result.error is not None:
        raise result.error
    return result


def _worker(
    index: int, clients: AzureClients, vault: str, app_oid: str, ledger: Ledger, count: int, rotator: Rotator
) -> None:
    rng = random.Random(index)
    names = [f"w{index}-s{j}" for j in range(SECRETS_PER_WORKER)]
    factory = clients.secrets
    grant = access.GrantRequest(vault, app_oid, find_role("Key Vault Reader"), "ServicePrincipal")
    for step in range(count):
        name = rng.choice(names)
        ref = SecretRef(vault, name)
        roll = rng.random()
        if name in ledger.deleted:
            _, error = _record(ledger, "recover", secrets.recover_secret, factory, ref)
            if error is None or error.exit_code == 3:
                ledger.deleted.discard(name)
        elif roll < 0.40 or not ledger.acknowledged[name]:
            value = f"{name}-v{step}-{rng.getrandbits(48):012x}"
            ledger.attempted[name].append(value)
            _, error = _record(ledger, "set", secrets.set_secret, factory, ref, value, secrets.SecretProperties())
            if error is None:
                ledger.acknowledged[name].append(value)
        elif roll < 0.70:
            got, _ = _record(ledger, "get", secrets.get_secret, factory, ref)
            if got is not None:
                assert got.value in ledger.attempted[name], "a read returned a value nobody wrote"
        elif roll < 0.80:
            value = f"{name}-r{step}-{rng.getrandbits(48):012x}"
            ledger.attempted[name].append(value)
            _, error = _record(ledger, "rotate", _rotate, rotator, ref, value)
            if error is None:
                ledger.acknowledged[name].append(value)
        elif roll < 0.90:
            _, error = _record(ledger, "delete", secrets.delete_secret, factory, ref)
            if error is None:
                ledger.deleted.add(name)
        elif rng.random() < 0.5:
            _record(
                ledger,
                "grant",
                access.grant,
                clients.arm(),
                grant,
                clock=time.monotonic,
                sleep=time.sleep,
                notify=lambda _: None,
            )
        else:
            _record(ledger, "revoke", access.revoke, clients.arm(), grant)
    # Leave every secret live, so its versions can be read back.
    for name in list(ledger.deleted):
        for _ in range(5):
            _, error = _record(ledger, "recover", secrets.recover_secret, factory, SecretRef(vault, name))
            if error is None or error.exit_code == 3:
                ledger.deleted.discard(name)
                break


def test_no_acknowledged_write_is_lost_and_nothing_is_written_twice(fresh_emulator, tmp_path):
    emulator = fresh_emulator(
        "--fault-rate",
        "0.1",
        "--drop-response-rate",
        "0.05",
        "--throttle",
        "--latency",
        "5",
        "--random-seed",
        "11",
        "--identity",
        "app",
    )
    import os

    os.environ["IDENTITY_ENDPOINT"] = emulator.info["identityEndpoint"]
    os.environ["IDENTITY_HEADER"] = emulator.info["identityHeader"]
    settings = Settings(
        vault=emulator.vault_url,
        ca_bundle=emulator.info["caFile"],
        arm_endpoint=emulator.info["armEndpoint"],
        subscription=emulator.info["subscriptionId"],
        retries=6,
        concurrency=WORKERS,
    )
    clients = AzureClients(settings)
    rotator = Rotator(
        clients.secrets,
        ShellRunner(relay=lambda _: None),
        {},
        lambda: dt.datetime.now(dt.UTC),
        recovery_dir=recovery.prepare_dir(tmp_path / "recovery"),
        leases=LeaseKeeper(settle=1.0),
    )
    ledgers = [Ledger() for _ in range(WORKERS)]
    started = time.monotonic()
    threads = [
        threading.Thread(
            target=_worker,
            args=(
                i,
                clients,
                emulator.vault_url,
                emulator.identity("app")["objectId"],
                ledgers[i],
                OPERATIONS // WORKERS,
                rotator,
            ),
        )
        for i in range(WORKERS)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=240)
        took = time.monotonic() - started
    finally:
        clients.close()
        del os.environ["IDENTITY_ENDPOINT"], os.environ["IDENTITY_HEADER"]

    emulator.knobs(faultRate=0, dropResponseRate=0)
    state = {s["name"]: s for s in emulator.state()}
    counters = emulator.control("GET", "state")["counters"]
    outcomes = sum((ledger.outcomes for ledger in ledgers), Counter())
    operations = sum(outcomes.values())
    lost = duplicates = strangers = 0
    for ledger in ledgers:
        for name, attempted in ledger.attempted.items():
            stored = [v["value"] for v in state.get(name, {}).get("versions", [])]
            lost += sum(1 for value in ledger.acknowledged[name] if value not in stored)
            duplicates += len(stored) - len(set(stored))
            strangers += sum(1 for value in stored if value not in attempted)
            if ledger.acknowledged[name] and name not in ledger.deleted:
                assert not state[name]["deleted"], f"{name} should be live"
                assert stored[-1] in attempted[attempted.index(ledger.acknowledged[name][-1]) :], (
                    "the latest version is the last acknowledged write or a later attempt"
                )
    rotation_ids = [
        v["tags"][ROTATION_TAG] for s in state.values() for v in s["versions"] if (v["tags"] or {}).get(ROTATION_TAG)
    ]
    duplicates += len(rotation_ids) - len(set(rotation_ids))
    failure_codes = Counter(code for ledger in ledgers for _, code, _ in ledger.failures)
    print(
        f"\nfault suite: {operations} operations in {took:.0f}s; emulator served {counters['requests']} requests, "
        f"injected {counters['faults']} 503s, {counters['resets']} resets, {counters['drops']} dropped answers, "
        f"{counters['throttled']} throttled; failures reported by exit code {dict(failure_codes)}; "
        f"values lost {lost}, duplicate versions {duplicates}, unknown values {strangers}; {dict(outcomes)}"
    )
    assert outcomes["rotate ok"] > 50
    assert operations >= 1000
    assert lost == 0 and duplicates == 0 and strangers == 0
    assert set(failure_codes) <= DOCUMENTED
    assert counters["faults"] + counters["resets"] + counters["drops"] > 50, "the faults were really injected"
