"""Promoting secrets: `kvctl copy` and `kvctl diff` against their floors, in one run.

    uv run --extra dev python benchmarks/promote.py [--copies 1000] [--diff-secrets 5000] [--runs 3]

One in-process emulator, 20 ms latency on every answer:
- (a) with `--throttle` (the service's 300 writes / 10 s per vault): `kvctl copy` of N secrets into
  an empty vault, against the write-limit floor N / 300 x 10 s (target: within 1.2x), and no
  failure;
- (b) the same copy again, with nothing to do (every secret skipped, no version written), against
  listing both vaults: two `kvctl list` processes one after the other, and one SDK script that
  lists both (target: within 1.5x);
- (c) without throttling: `kvctl diff` of two vaults of M secrets each, against fetching both
  vaults' values with `kvctl export` (two processes one after the other; target: within 1.5x).
Each measured copy goes to a fresh empty vault; (b) and (c) are medians of interleaved runs.
A measurement, not a test.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kvctl.emulator import Emulator, EmulatorOptions, KnobSettings  # noqa: E402

WRITE_LIMIT, WINDOW = 300, 10.0
LIST_BOTH = """
import os, sys
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
credential = ManagedIdentityCredential()
ca = os.environ["KVCTL_CA_BUNDLE"]
for url in sys.argv[1:]:
    client = SecretClient(url, credential, verify_challenge_resource=False, connection_verify=ca)
    for p in client.list_properties_of_secrets():
        sys.stdout.write(f"{p.name}\\n")
"""


def timed(commands: list[list[str]], env: dict[str, str]) -> tuple[float, list[str]]:
    """Run commands one after the other; (seconds, stdouts). Exit 1 is fine for diff."""
    started = time.perf_counter()
    outputs = []
    for command in commands:
        result = subprocess.run(command, env=env, capture_output=True, check=False)
        if result.returncode not in (0, 1):
            raise RuntimeError(f"{command[:3]} failed ({result.returncode}): {result.stderr.decode()[-800:]}")
        outputs.append(result.stdout.decode())
    return time.perf_counter() - started, outputs


def interleaved(contenders: dict[str, list[list[str]]], env: dict[str, str], runs: int) -> dict[str, float]:
    for commands in contenders.values():
        timed(commands, env)  # warm caches
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, commands in contenders.items():
            times[name].append(timed(commands, env)[0])
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1000)
    parser.add_argument("--copy-runs", type=int, default=1, help="measured first copies (each into a new vault)")
    parser.add_argument("--diff-secrets", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    kvctl = str(Path(sys.executable).with_name("kvctl"))
    destinations = [f"dst-{i}" for i in range(args.copy_runs)]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        value = "v" * 40
        vaults: dict[str, dict[str, object]] = {
            "src": {"secrets": {f"app-{i:05d}": f"{value}-{i}" for i in range(args.copies)}},
            "diff-a": {"secrets": {f"d-{i:05d}": f"{value}-{i}" for i in range(args.diff_secrets)}},
            # b differs from a in a few values, so diff has something to report
            "diff-b": {
                "secrets": {f"d-{i:05d}": f"{value}-{i}{'x' if i % 500 == 0 else ''}" for i in range(args.diff_secrets)}
            },
        }
        seed = tmp / "seed.json"
        seed.write_text(json.dumps({"_vaults": vaults}))
        (tmp / "list_both.py").write_text(LIST_BOTH)
        options = EmulatorOptions(
            state_dir=tmp / "state",
            vaults=["src", *destinations, "diff-a", "diff-b"],
            seed=seed,
            knobs=KnobSettings(latency_ms=20, throttle=True),
        )
        with Emulator(options) as emulator:
            env = {**os.environ, **emulator.env, "KVCTL_NO_PROGRESS": "1"}
            url = {v["name"]: v["url"] for v in emulator.info["vaults"]}
            knobs = emulator.world.knobs  # type: ignore[union-attr]
            floor = args.copies / WRITE_LIMIT * WINDOW
            print(f"(a) copy of {args.copies} secrets, 20 ms latency, --throttle; floor {floor:.1f} s")
            for dst in destinations:
                before = knobs.counters["throttled"]
                elapsed, (out,) = timed([[kvctl, "copy", "--from", url["src"], "--to", url[dst], "-o", "json"]], env)
                counts = json.loads(out)["counts"]
                throttled = knobs.counters["throttled"] - before
                print(
                    f"    {elapsed:6.2f} s  = {elapsed / floor:4.2f}x the floor   {counts}   429 answers: {throttled}"
                )
            dst = destinations[0]
            print(f"(b) the same copy again (nothing to do), median of {args.runs}")
            medians = interleaved(
                {
                    "copy again": [[kvctl, "copy", "--from", url["src"], "--to", url[dst], "-o", "json"]],
                    "kvctl list x2": [
                        [kvctl, "--vault", url["src"], "list", "-o", "json"],
                        [kvctl, "--vault", url[dst], "list", "-o", "json"],
                    ],
                    "SDK lists both": [[sys.executable, str(tmp / "list_both.py"), url["src"], url[dst]]],
                },
                env,
                args.runs,
            )
            again = medians["copy again"]
            print(
                f"    copy again {again:6.2f} s   kvctl list x2 {medians['kvctl list x2']:6.2f} s "
                f"({again / medians['kvctl list x2']:4.2f}x)   SDK lists both {medians['SDK lists both']:6.2f} s "
                f"({again / medians['SDK lists both']:4.2f}x)"
            )
            knobs.update({"throttle": False})
            print(f"(c) diff of two {args.diff_secrets}-secret vaults, 20 ms latency, median of {args.runs}")
            medians = interleaved(
                {
                    "diff": [[kvctl, "diff", url["diff-a"], url["diff-b"], "-o", "json"]],
                    "export x2": [
                        [kvctl, "--vault", url["diff-a"], "export", "--format", "json"],
                        [kvctl, "--vault", url["diff-b"], "export", "--format", "json"],
                    ],
                },
                env,
                args.runs,
            )
            print(
                f"    diff {medians['diff']:6.2f} s   export x2 {medians['export x2']:6.2f} s   "
                f"({medians['diff'] / medians['export x2']:4.2f}x)"
            )


if __name__ == "__main__":
    main()
