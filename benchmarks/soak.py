"""Soak: sustained concurrent `get` at the service's throttle limit, for a few minutes.

    uv run --extra dev python benchmarks/soak.py [--seconds 180] [--rate 400] [--workers 32]

Starts `kvctl emulator --throttle` (4,000 transactions / 10 s per vault) as a child process, then
drives kvctl's own code path (core `get_secret` over the Azure backend, as `kvctl get` runs it) from
worker threads at --rate requests per second. Every 10 s it prints throughput, p50/p99 latency,
errors by kvctl exit code, and the RSS of this client and of the emulator. Not a test (not in CI).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvctl.azure.clients import AzureClients
from kvctl.core.errors import KvctlError
from kvctl.core.refs import SecretRef
from kvctl.core.secrets import get_secret
from kvctl.core.settings import Settings


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--rate", type=float, default=400, help="requests per second (the limit is 400)")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--secrets", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps({f"soak-{i:04d}": f"value-{i}" for i in range(args.secrets)}))
        state = Path(tmp) / "state"
        emulator = subprocess.Popen(
            [sys.executable, "-m", "kvctl", "emulator", "--throttle", "--state-dir", str(state), "--seed", str(seed)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not (state / "emulator.json").exists():
                time.sleep(0.1)
            info = json.loads((state / "emulator.json").read_text())
            os.environ["IDENTITY_ENDPOINT"] = info["identityEndpoint"]
            os.environ["IDENTITY_HEADER"] = info["identityHeader"]
            run(args, info, emulator.pid)
        finally:
            emulator.send_signal(signal.SIGTERM)
            emulator.wait(timeout=15)


def run(args: argparse.Namespace, info: dict, emulator_pid: int) -> None:
    vault = info["vaults"][0]["url"]
    clients = AzureClients(Settings(vault=vault, ca_bundle=info["caFile"], concurrency=args.workers))
    interval = 1.0 / args.rate
    next_slot = [time.monotonic()]
    slot_lock = threading.Lock()
    stop = threading.Event()
    lock = threading.Lock()
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    def worker(index: int) -> None:
        i = index
        while not stop.is_set():
            with slot_lock:  # a shared schedule: the workers together keep to --rate
                slot = next_slot[0] = max(next_slot[0] + interval, time.monotonic() - 1.0)
            delay = slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            started = time.monotonic()
            try:
                get_secret(clients.secrets, SecretRef(vault, f"soak-{i % args.secrets:04d}"))
                outcome = "ok"
            except KvctlError as exc:
                outcome = f"exit {int(exc.exit_code)}"
            took = time.monotonic() - started
            with lock:
                latencies.append(took)
                outcomes[outcome] += 1
            i += args.workers

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    print(f"soak: {args.rate:.0f} req/s target, {args.workers} workers, {args.seconds:.0f} s, emulator --throttle")
    print(
        f"{'t (s)':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>20} {'client MiB':>11} {'emulator MiB':>13}"
    )
    started = time.monotonic()
    total: Counter[str] = Counter()
    all_latencies: list[float] = []
    while time.monotonic() - started < args.seconds:
        time.sleep(10)
        with lock:
            window, latencies[:] = list(latencies), []
            counts = Counter(outcomes)
            outcomes.clear()
        total.update(counts)
        all_latencies += window
        errors = {k: v for k, v in counts.items() if k != "ok"}
        if window:
            quantiles = statistics.quantiles(window, n=100)
            print(
                f"{time.monotonic() - started:6.0f} {len(window) / 10:7.1f} {quantiles[49] * 1000:8.1f} "
                f"{quantiles[98] * 1000:8.1f} {json.dumps(errors) if errors else '-':>20} "
                f"{rss_mib(os.getpid()):11.1f} {rss_mib(emulator_pid):13.1f}"
            )
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    clients.close()
    quantiles = statistics.quantiles(all_latencies, n=100)
    print(
        f"\ntotal {sum(total.values())} requests, {sum(total.values()) / args.seconds:.1f}/s; "
        f"p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms; outcomes {dict(total)}"
    )


if __name__ == "__main__":
    main()
