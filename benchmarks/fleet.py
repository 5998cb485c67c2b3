"""Fleet-wide `check`: 50 vaults in 5 subscriptions, against the ways it was done before.

    PYTHONPYCACHEPREFIX=/tmp/pyc uv run --extra dev python benchmarks/fleet.py [--runs 3] [--latency 20]

An emulator (in this process) with --vaults-per-subscription vaults in each of --subscriptions
subscriptions, four secrets each (one expired, one without a content type), and misconfigurations
seeded through ARM PATCH (short retention, access policies instead of RBAC; some vaults made safe).
Every answer is delayed by --latency ms (a cloud round trip). Contenders, each a real process:

- fleet:      `kvctl check --all-subscriptions -o json` (one Resource Graph query);
- per-sub:    `kvctl check --all -o json` once per subscription (ARM list of vaults, per subscription);
- per-vault:  `kvctl check VAULT -o json` once per vault (the script a fleet owner writes).

Reported: medians of interleaved runs, vaults/s and secrets/s, and from the emulator's counters
per contender: Resource Graph queries, ARM requests and ARM vault reads (GET of a vault or a vault
list). The fleet run must make exactly 1 Resource Graph query and 0 vault reads, and find exactly
what per-sub finds. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kvctl.emulator import Emulator, EmulatorOptions, KnobSettings  # noqa: E402

SECRETS_PER_VAULT = 4
COUNTERS = ("resourceGraphQueries", "armRequests", "armVaultReads", "requests")


def _seed(path: Path, vaults: list[str]) -> None:
    secrets = {
        "db-password": {"value": "p", "contentType": "text/plain", "expires": "200d"},
        "api-key": {"value": "k", "contentType": "text/plain", "expires": "300d"},
        "old-token": {"value": "t", "contentType": "text/plain", "expires": "-2d"},
        "no-type": {"value": "n", "expires": "100d"},
    }
    assert len(secrets) == SECRETS_PER_VAULT
    path.write_text(json.dumps({"_vaults": {name: {"secrets": secrets} for name in vaults}}))


def _misconfigure(info: dict[str, Any], env: dict[str, str]) -> dict[str, int]:
    """Seed settings through ARM PATCH (azure-mgmt-keyvault), as a user would find them."""
    os.environ.update({k: env[k] for k in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")})
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.keyvault import KeyVaultManagementClient

    credential = ManagedIdentityCredential()
    clients = {
        s["subscriptionId"]: KeyVaultManagementClient(
            credential,
            s["subscriptionId"],
            base_url=info["armEndpoint"],
            credential_scopes=["https://management.azure.com/.default"],
            connection_verify=info["caFile"],
        )
        for s in info["subscriptions"]
    }
    seeded = {"short retention": 0, "access policies": 0, "made safe": 0}
    for index, vault in enumerate(info["vaults"]):
        properties: dict[str, Any] = {}
        if index % 5 == 1:
            properties["softDeleteRetentionInDays"] = 7
            seeded["short retention"] += 1
        if index % 7 == 2:
            properties["enableRbacAuthorization"] = False
            seeded["access policies"] += 1
        if index % 3 == 0:
            properties.update(enablePurgeProtection=True, publicNetworkAccess="Disabled")
            seeded["made safe"] += 1
        if properties:
            clients[vault["subscriptionId"]].vaults.update(
                info["resourceGroup"], vault["name"], {"properties": properties}
            )
    for client in clients.values():
        client.close()
    return seeded


def _run(command: list[str], env: dict[str, str]) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 10):
        raise RuntimeError(f"{command[3:]} failed ({done.returncode}): {done.stderr.decode()[-800:]}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subscriptions", type=int, default=5)
    parser.add_argument("--vaults-per-subscription", type=int, default=10)
    parser.add_argument("--latency", type=float, default=20.0, help="ms added to every answer")
    parser.add_argument("--skip-per-vault", action="store_true", help="leave out the slowest contender")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kvctl-fleet-") as tmp:
        subs = [f"sub-{j}" for j in range(1, args.subscriptions + 1)]
        names = [f"v-{sub}-{i}" for sub in subs for i in range(1, args.vaults_per_subscription + 1)]
        placed = {name.lower(): name.rsplit("-", 1)[0][2:] for name in names}
        seed = Path(tmp) / "seed.json"
        _seed(seed, names)
        options = EmulatorOptions(
            state_dir=Path(tmp) / "state",
            vaults=names,
            subscriptions=subs,
            vault_subscriptions=placed,
            seed=seed,
            knobs=KnobSettings(latency_ms=args.latency),
        )
        emulator = Emulator(options)
        info = emulator.start()
        try:
            assert emulator.world is not None
            counters = emulator.world.knobs.counters
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("KVCTL_", "AZURE_"))},
                **emulator.env,
                "KVCTL_NO_PROGRESS": "1",
            }
            env.pop("KVCTL_VAULT", None)
            seeded = _misconfigure(info, env)
            kvctl = [sys.executable, "-m", "kvctl"]
            contenders: dict[str, list[list[str]]] = {
                "fleet": [[*kvctl, "check", "--all-subscriptions", "-o", "json"]],
                "per-sub": [],
                "per-vault": [],
            }
            sub_envs: dict[int, dict[str, str]] = {}
            for s in info["subscriptions"]:
                contenders["per-sub"].append([*kvctl, "check", "--all", "-o", "json"])
                sub_envs[len(contenders["per-sub"]) - 1] = {**env, "AZURE_SUBSCRIPTION_ID": s["subscriptionId"]}
            for vault in info["vaults"]:
                contenders["per-vault"].append([*kvctl, "check", vault["url"], "-o", "json"])
            vault_env = {v["url"]: {**env, "AZURE_SUBSCRIPTION_ID": v["subscriptionId"]} for v in info["vaults"]}
            if args.skip_per_vault:
                del contenders["per-vault"]

            times: dict[str, list[float]] = {name: [] for name in contenders}
            usage: dict[str, dict[str, int]] = {}
            findings: dict[str, set[tuple[str, str, str]]] = {}
            for run in range(args.runs):
                for name, commands in contenders.items():
                    before = dict(counters)
                    total = 0.0
                    found: list[dict[str, Any]] = []
                    for index, command in enumerate(commands):
                        run_env = sub_envs[index] if name == "per-sub" else vault_env.get(command[4], env)
                        elapsed, result = _run(command, run_env)
                        total += elapsed
                        found += result
                    times[name].append(total)
                    usage[name] = {c: counters[c] - before[c] for c in COUNTERS}
                    findings[name] = {(f["vault"], f["id"], f["resource"]) for f in found}
                print(f"run {run + 1}: " + "  ".join(f"{n} {times[n][-1]:.2f}s" for n in contenders), flush=True)

            vaults = len(info["vaults"])
            secrets = vaults * SECRETS_PER_VAULT
            print(
                f"\n{vaults} vaults in {len(subs)} subscriptions, {secrets} secrets, latency {args.latency:g} ms, "
                f"seeded: {seeded}"
            )
            header = "contender    median s   vaults/s  secrets/s  ARG queries  ARM requests  ARM vault reads  requests"
            print(header)
            medians = {name: statistics.median(values) for name, values in times.items()}
            for name in contenders:
                m = medians[name]
                u = usage[name]
                print(
                    f"{name:<12} {m:8.2f} {vaults / m:10.1f} {secrets / m:10.1f} {u['resourceGraphQueries']:12d} "
                    f"{u['armRequests']:13d} {u['armVaultReads']:16d} {u['requests']:9d}"
                )
            for name in contenders:
                if name != "fleet":
                    print(f"fleet is {medians[name] / medians['fleet']:.1f}x faster than {name}")
            assert usage["fleet"]["resourceGraphQueries"] == 1, usage["fleet"]
            assert usage["fleet"]["armVaultReads"] == 0, usage["fleet"]
            for name in contenders:
                assert findings[name] == findings["fleet"], f"{name} and fleet disagree"
            by_rule: dict[str, int] = {}
            for _, rule, _ in findings["fleet"]:
                by_rule[rule] = by_rule.get(rule, 0) + 1
            print(f"findings (checked equal in every contender): {dict(sorted(by_rule.items()))}")
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
