"""Bulk fetching: `kvctl export` of 200 secrets against two SDK baselines, in the same run.

    uv run --extra dev python benchmarks/bulk.py [--runs 5] [--secrets 200]

Against a local emulator with injected latency (50 ms, a realistic cloud round trip, then 20 ms):
- (a) a sequential SDK loop: list the secrets, then get each one (target: kvctl >= 8x faster);
- (b) the floor: a minimal SDK script that only lists them (target: kvctl <= 1.5x of it).
Then with the emulator's throttling on (the service's 4,000 requests / 10 s per vault): the same
comparison, and bursts of concurrent back-to-back exports at no latency, at the service's limits
and at limits scaled down to 40 requests/s (which one machine can exceed); every export must
still succeed. Last, the peak RSS of `kvctl list -o json` over 5,000
and 25,000 secrets (streamed: it must not grow with the count).

Runs are interleaved (kvctl, loop, floor, kvctl, ...) so load on a shared machine hits all alike;
medians are reported. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kvctl.emulator import Emulator, EmulatorOptions, KnobSettings  # noqa: E402
from kvctl.emulator import knobs as emulator_knobs  # noqa: E402

SDK_PRELUDE = """
import os, sys
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
client = SecretClient(os.environ["KVCTL_VAULT"], ManagedIdentityCredential(), verify_challenge_resource=False,
                      connection_verify=os.environ["KVCTL_CA_BUNDLE"])
"""
SEQUENTIAL_LOOP = (
    SDK_PRELUDE
    + """
names = [p.name for p in client.list_properties_of_secrets() if p.enabled]
for name in names:
    sys.stdout.write(f"{name}={client.get_secret(name).value}\\n")
"""
)
LIST_ONLY = (
    SDK_PRELUDE
    + """
for p in client.list_properties_of_secrets():
    sys.stdout.write(f"{p.name}\\n")
"""
)


def _time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{command[-2:]} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def compare(label: str, contenders: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    for command in contenders.values():
        _time(command, env)  # warm the file cache and the emulator
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, command in contenders.items():
            times[name].append(_time(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    kvctl, loop, floor = medians["kvctl export"], medians["sequential loop"], medians["list only"]
    print(
        f"{label:<28} export {kvctl:6.2f} s   loop {loop:6.2f} s   list-only {floor:6.2f} s   "
        f"loop/export {loop / kvctl:5.1f}x   export/list-only {kvctl / floor:4.2f}x"
    )
    return medians


def burst(emulator: Emulator, kvctl: list[str], env: dict[str, str], seconds: float, parallel: int) -> None:
    """Exports back to back, `parallel` at a time, at no latency: more than the vault's 4,000
    requests per 10 s, so it throttles; every export must still succeed."""
    knobs = emulator.world.knobs  # type: ignore[union-attr]
    knobs.update({"latency_ms": 0.0, "throttle": True})
    before = dict(knobs.counters)
    started = time.monotonic()
    durations: list[float] = []
    failures = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal failures
        while time.monotonic() - started < seconds:
            began = time.perf_counter()
            result = subprocess.run(kvctl, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            with lock:
                durations.append(time.perf_counter() - began)
                failures += result.returncode != 0

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    throttled = knobs.counters["throttled"] - before["throttled"]
    requests = knobs.counters["requests"] - before["requests"]
    print(
        f"  burst: {len(durations)} exports ({parallel} at a time) in {elapsed:.0f} s, "
        f"{requests} requests, {throttled} answered 429; failed exports: {failures}; "
        f"export median {statistics.median(durations):.2f} s, max {max(durations):.2f} s"
    )


def peak_rss_kib(command: list[str], env: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return usage.ru_maxrss, elapsed


def memory(tmp: Path, kvctl: str) -> None:
    counts = {"small": 5_000, "big": 25_000}
    seed = tmp / "seed-big.json"
    seed.write_text(
        json.dumps({"_vaults": {v: {"secrets": {f"s-{i:06d}": "x" * 64 for i in range(n)}} for v, n in counts.items()}})
    )
    with Emulator(EmulatorOptions(state_dir=tmp / "state-big", vaults=list(counts), seed=seed)) as emulator:
        env = {**os.environ, **emulator.env}
        urls = {v["name"]: v["url"] for v in emulator.info["vaults"]}
        for vault, count in counts.items():
            rss, elapsed = peak_rss_kib([kvctl, "--vault", urls[vault], "list", "-o", "json"], env)
            print(f"kvctl list -o json, {count:>6} secrets: peak RSS {rss / 1024:6.1f} MiB, {elapsed:5.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--secrets", type=int, default=200)
    parser.add_argument("--burst-seconds", type=float, default=25.0)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    kvctl = str(Path(sys.executable).with_name("kvctl"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seed = tmp / "seed.json"
        seed.write_text(json.dumps({f"bench-{i:04d}": f"value-{i}-" + "v" * 40 for i in range(args.secrets)}))
        (tmp / "loop.py").write_text(SEQUENTIAL_LOOP)
        (tmp / "list.py").write_text(LIST_ONLY)
        contenders = {
            "kvctl export": [kvctl, "export"],
            "sequential loop": [sys.executable, str(tmp / "loop.py")],
            "list only": [sys.executable, str(tmp / "list.py")],
        }
        print(f"{args.secrets} secrets, median of {args.runs} interleaved runs, KVCTL_CONCURRENCY default (16)")
        options = EmulatorOptions(state_dir=tmp / "state", seed=seed, knobs=KnobSettings(latency_ms=50))
        with Emulator(options) as emulator:
            env = {**os.environ, **emulator.env, "KVCTL_NO_PROGRESS": "1"}
            knobs = emulator.world.knobs  # type: ignore[union-attr]
            for latency, throttle in ((50.0, False), (20.0, False), (50.0, True)):
                knobs.update({"latency_ms": latency, "throttle": throttle})
                before = knobs.counters["throttled"]
                label = f"latency {latency:.0f} ms" + (", throttle" if throttle else "")
                compare(label, contenders, env, args.runs)
                if throttle:
                    print(f"{'':<28} 429 answers during these runs: {knobs.counters['throttled'] - before}")
            print("service limits (4,000 / 10 s):")
            burst(emulator, [kvctl, "export"], env, args.burst_seconds, parallel=4)
        # Two cores barely reach 400 requests/s through the Python SDK and this emulator, so a
        # fresh vault with the limit scaled down to 40/s (1 s window) shows hard throttling too.
        emulator_knobs.THROTTLE_WINDOW_SECONDS, emulator_knobs.THROTTLE_ALL_LIMIT = 1.0, 40
        with Emulator(EmulatorOptions(state_dir=tmp / "state-scaled", seed=seed)) as emulator:
            env = {**os.environ, **emulator.env, "KVCTL_NO_PROGRESS": "1"}
            print("scaled limits (40 / 1 s):")
            burst(emulator, [kvctl, "export"], env, args.burst_seconds, parallel=3)
        if not args.skip_memory:
            memory(tmp, kvctl)


if __name__ == "__main__":
    main()
