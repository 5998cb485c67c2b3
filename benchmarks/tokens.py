"""What the token cache buys with a slow credential, measured against its floors in one run.

    PYTHONPYCACHEPREFIX=/tmp/pyc uv run --extra dev python benchmarks/tokens.py [--runs 7]

Against `kvctl emulator --token-latency 1000` (every token endpoint answers a second late):
- ten consecutive `kvctl get NAME` processes with a fresh cache: the median of calls 2-10, against
  a get whose token is held (token endpoint instant, no cache) and against today's behaviour
  (KVCTL_TOKEN_CACHE=off, a token request per process);
- a cached-token `get` against a minimal SDK script (azure-identity + azure-keyvault-secrets,
  get_secret; its token endpoint instant) and against the floor: one HTTPS GET with a bearer token
  from a bare Python process;
- `kvctl run -- true` with 20 secrets against `get` of one, both with a cached token;
- import cost per top-level module of a cached-token `get` (python -X importtime).
Medians of interleaved runs; this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MINIMAL_SDK = """
import os, sys
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
client = SecretClient(os.environ["KVCTL_VAULT"], ManagedIdentityCredential(), verify_challenge_resource=False,
                      connection_verify=os.environ["KVCTL_CA_BUNDLE"])
print(client.get_secret(sys.argv[1]).value)
"""

FLOOR = """
import http.client, os, ssl, sys, urllib.parse
url = urllib.parse.urlsplit(os.environ["KVCTL_VAULT"])
context = ssl.create_default_context(cafile=os.environ["KVCTL_CA_BUNDLE"])
connection = http.client.HTTPSConnection(url.hostname, url.port, context=context)
bearer = {"Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}
connection.request("GET", f"/secrets/{sys.argv[1]}?api-version=7.5", headers=bearer)
response = connection.getresponse()
assert response.status == 200, response.status
print(response.read()[:0].decode())
"""


def _time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _token(info: dict, resource: str) -> str:
    query = f"api-version=2019-08-01&resource={resource}"
    request = urllib.request.Request(
        f"{info['identityEndpoint']}?{query}", headers={"X-IDENTITY-HEADER": info["identityHeader"]}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


def _knobs(info: dict, **changes: object) -> None:
    request = urllib.request.Request(
        f"{info['armEndpoint']}/_emulator/knobs",
        data=json.dumps(changes).encode(),
        method="PUT",
        headers={
            "Authorization": f"Bearer {_token(info, 'https://emulator.localhost')}",
            "Content-Type": "application/json",
        },
    )
    context = ssl.create_default_context(cafile=info["caFile"])
    with urllib.request.urlopen(request, timeout=30, context=context):
        pass


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def import_costs(kvctl: list[str], env: dict[str, str]) -> list[tuple[str, int]]:
    """Import time (us) per top-level package of a cached-token get: the cumulative time of each
    outermost import of the package (from kvctl or another package), and kvctl's own self time."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *kvctl[1:], "get", "bench"], env=env, capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(1)), int(match.group(2)), len(match.group(3)), match.group(4).split(".")[0]))
    costs: dict[str, int] = {}
    for i, (own, cumulative, indent, top) in enumerate(rows):
        if top == "kvctl":
            costs["kvctl (own modules, self time)"] = costs.get("kvctl (own modules, self time)", 0) + own
            continue
        parent = next((row[3] for row in rows[i + 1 :] if row[2] < indent), None)
        if parent != top:
            costs[top] = costs.get(top, 0) + cumulative
    return sorted(costs.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    kvctl = [sys.executable, "-m", "kvctl"]
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps({"bench": "value", **{f"s{i}": f"value-{i}" for i in range(20)}}))
        state = Path(tmp) / "state"
        emulator = subprocess.Popen(
            [*kvctl, "emulator", "--state-dir", str(state), "--seed", str(seed), "--token-latency", "1000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(600):
                if (state / "emulator.json").exists():
                    break
                time.sleep(0.1)
            info = json.loads((state / "emulator.json").read_text())
            env = {k: v for k, v in os.environ.items() if not k.startswith(("KVCTL_", "AZURE_", "IDENTITY_"))}
            for line in (state / "emulator.env").read_text().splitlines():
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value.strip("'")
            env["KVCTL_NO_PROGRESS"] = "1"
            env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
            get = [*kvctl, "get", "bench"]
            _time(get, {**env, "KVCTL_TOKEN_CACHE": "off"})  # warm the file cache

            # 1. Ten consecutive gets, fresh cache, slow credential.
            series = [_time(get, env) for _ in range(10)]
            today = [_time(get, {**env, "KVCTL_TOKEN_CACHE": "off"}) for _ in range(args.runs)]
            cached = statistics.median(series[1:])
            slow_today = statistics.median(today)

            # 2. The rest with an instant token endpoint: the baselines hold no cache.
            _knobs(info, tokenLatencyMs=0)
            env["BENCH_TOKEN"] = _token(info, "https://vault.azure.net")
            script = Path(tmp) / "minimal_sdk.py"
            script.write_text(MINIMAL_SDK)
            floor_script = Path(tmp) / "floor.py"
            floor_script.write_text(FLOOR)
            run20 = [*kvctl, "run", *[f"--env=S{i}=s{i}" for i in range(20)], "--", "true"]
            _time(run20, env)  # its tokens are the same as get's: cached already
            held, sdk, floor, hit, run_times = [], [], [], [], []
            for _ in range(args.runs):
                held.append(_time(get, {**env, "KVCTL_TOKEN_CACHE": "off"}))
                hit.append(_time(get, env))
                sdk.append(_time([sys.executable, str(script), "bench"], env))
                floor.append(_time([sys.executable, str(floor_script), "bench"], env))
                run_times.append(_time(run20, env))
            m = {
                k: statistics.median(v)
                for k, v in {"held": held, "hit": hit, "sdk": sdk, "floor": floor, "run": run_times}.items()
            }

            print("With --token-latency 1000:")
            print(f"  calls 1..10 (fresh cache): {', '.join(f'{t * 1000:.0f}' for t in series)} ms")
            print(f"  median of calls 2-10: {_ms(cached)}")
            print(f"  today (KVCTL_TOKEN_CACHE=off): {_ms(slow_today)}   ratio today/cached {slow_today / cached:5.2f}")
            print(
                f"  get whose token is held (instant): {_ms(m['held'])}   ratio cached/held  {cached / m['held']:5.2f}"
            )
            print("Token endpoint instant for the baselines:")
            print(f"  cached-token kvctl get: {_ms(m['hit'])}")
            print(f"  minimal SDK script: {_ms(m['sdk'])}   ratio sdk/kvctl    {m['sdk'] / m['hit']:5.2f}")
            print(f"  floor (bare https GET): {_ms(m['floor'])}   ratio kvctl/floor  {m['hit'] / m['floor']:5.2f}")
            print(f"  kvctl run -- true, 20 secrets: {_ms(m['run'])}   ratio run/get      {m['run'] / m['hit']:5.2f}")
            print("Import cost of a cached-token get (cumulative, ms):")
            for name, micros in import_costs(kvctl, env)[:14]:
                print(f"  {name:<40} {micros / 1000:7.1f}")
        finally:
            emulator.terminate()
            emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
