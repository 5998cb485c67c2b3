"""Startup cost of kvctl against its floors, measured in the same run.

    uv run --extra dev python benchmarks/startup.py [--runs 21]

- `kvctl --help` against `python -c "import click"` (target: <= 1.5x);
- `kvctl get NAME` against a minimal SDK script that imports the SDK and calls get_secret
  (target: <= 1.1x), both against a local emulator.

Runs are interleaved (A, B, A, B, ...) so that load on a shared machine hits both sides alike;
medians are reported. This is a measurement, not a test: machines here are noisy.
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

from kvctl.emulator import Emulator, EmulatorOptions  # noqa: E402

MINIMAL_SDK = """
import os, sys
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
client = SecretClient(os.environ["KVCTL_VAULT"], ManagedIdentityCredential(), verify_challenge_resource=False,
                      connection_verify=os.environ["KVCTL_CA_BUNDLE"])
print(client.get_secret(sys.argv[1]).value)
"""


def _time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def compare(name: str, a: list[str], b: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    _time(a, env), _time(b, env)  # warm the file cache
    times_a, times_b = [], []
    for _ in range(runs):
        times_a.append(_time(a, env))
        times_b.append(_time(b, env))
    median_a, median_b = statistics.median(times_a), statistics.median(times_b)
    print(f"{name:<34} {median_a * 1000:8.1f} ms  vs  {median_b * 1000:8.1f} ms   ratio {median_a / median_b:5.2f}")
    return median_a, median_b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    kvctl = str(Path(sys.executable).with_name("kvctl"))
    # Bytecode cached, as on a user's machine: with PYTHONDONTWRITEBYTECODE=1 (set on this machine)
    # every process compiles every module it imports and both sides measure the compiler.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "kvctl-bench-pycache"))
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps({"bench": "value"}))
        emulator = Emulator(EmulatorOptions(state_dir=Path(tmp) / "state", seed=seed))
        emulator.start()
        try:
            env = {**os.environ, **emulator.env}
            script = Path(tmp) / "minimal_sdk.py"
            script.write_text(MINIMAL_SDK)
            print(f"{'':<34} {'kvctl':>11}      {'baseline':>11}")
            help_ratio = compare(
                "kvctl --help / import click", [kvctl, "--help"], [sys.executable, "-c", "import click"], env, args.runs
            )
            get_ratio = compare(
                "kvctl get / minimal SDK script",
                [kvctl, "get", "bench"],
                [sys.executable, str(script), "bench"],
                env,
                args.runs,
            )
        finally:
            emulator.stop()
    print()
    print(f"--help: {help_ratio[0] / help_ratio[1]:.2f}x the click floor (target <= 1.5x)")
    print(f"get:    {get_ratio[0] / get_ratio[1]:.2f}x the minimal SDK script (target <= 1.1x)")


if __name__ == "__main__":
    main()
