"""What the token cache buys with a slow credential, measured against its floors in one run.

    PYTHONPYCACHEPREFIX=/tmp/pyc uv run --extra dev python benchmarks/tokens.py [--runs 7]

Every child runs with bytecode caching on (PYTHONDONTWRITEBYTECODE removed, PYTHONPYCACHEPREFIX
kept or set to a temp directory): with it off, as this machine sets, each process compiles every
module it imports and a `get` measures the compiler (~1.3 s instead of ~0.3 s).
Each figure is a median of interleaved runs: wall time, and the CPU time (user + system) of the
process and its children, which a loaded machine disturbs less.

Against `kvctl emulator --token-latency 1000` (every token endpoint answers a second late):
- ten consecutive `kvctl get NAME` processes with a fresh cache: the median of calls 2-10, against
  a get whose token is held (token endpoint instant, no cache) and against today's behaviour
  (KVCTL_TOKEN_CACHE=off, a token request per process);
- a cached-token `get` against a minimal SDK script (azure-identity + azure-keyvault-secrets,
  get_secret; its token endpoint instant) and against the floor: one HTTPS GET with a bearer token
  from a bare Python process;
- `kvctl run -- true` with 20 secrets against `get` of one, both with a cached token;
- `--auth managed-identity` against the minimal SDK script with the same credential, the token
  cache off (a token request each) and on;
- the TLS trust of `--ca-bundle`: the system bundle + certifi + the extra CA parsed in full (before)
  against the system CA directory read lazily + the extra CA (now);
- import cost per top-level module of a cached-token `get` (python -X importtime).
Medians of interleaved runs; this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Seconds(float):
    """A wall time that carries the CPU time of the same run."""

    cpu: float


def _time(command: list[str], env: dict[str, str]) -> Seconds:
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = Seconds(time.perf_counter() - started)
    result.cpu = _children_cpu() - cpu
    return result


def _cpu(runs: list[Seconds]) -> float:
    return statistics.median(run.cpu for run in runs)


def cache_bytecode() -> None:
    """Measured children (and this process) cache bytecode (see the module's note)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "kvctl-bench-pycache"))


def trust_costs(ca_file: str, runs: int) -> tuple[float, float]:
    """CPU seconds to build the TLS trust of `--ca-bundle`: before (every bundle parsed in full)
    and now (kvctl.core.trust: the system directory, read lazily, plus the extra CA)."""
    import certifi

    from kvctl.core import trust

    def before() -> None:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=ca_file)
        context.load_verify_locations(cafile=certifi.where())

    def now() -> None:
        trust._CONTEXTS.clear()
        trust.context_with(ca_file)

    def median(build: object) -> float:
        times = []
        for _ in range(runs):
            started = time.process_time()
            build()  # type: ignore[operator]
            times.append(time.process_time() - started)
        return statistics.median(times)

    return median(before), median(now)


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


def import_costs(kvctl: list[str], env: dict[str, str], runs: int = 5) -> list[tuple[str, int]]:
    """Import time (us) per top-level package of a cached-token get: the cumulative time of each
    outermost import of the package (from kvctl or another package), and kvctl's own self time;
    the smallest of `runs` processes (importtime's own overhead and the machine's load only add)."""
    per_run: list[dict[str, int]] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *kvctl[1:], "get", "bench"], env=env, capture_output=True, text=True
        )
        rows = []
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if match:
                rows.append(
                    (int(match.group(1)), int(match.group(2)), len(match.group(3)), match.group(4).split(".")[0])
                )
        costs: dict[str, int] = {}
        for i, (own, cumulative, indent, top) in enumerate(rows):
            if top == "kvctl":
                costs["kvctl (own modules, self time)"] = costs.get("kvctl (own modules, self time)", 0) + own
                continue
            parent = next((row[3] for row in rows[i + 1 :] if row[2] < indent), None)
            if parent != top:
                costs[top] = costs.get(top, 0) + cumulative
        costs["(all imports)"] = sum(row[0] for row in rows)
        per_run.append(costs)
    names = set().union(*per_run)
    best = {name: min(costs.get(name, 0) for costs in per_run) for name in names}
    return sorted(best.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    kvctl = [sys.executable, "-m", "kvctl"]
    cache_bytecode()
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
            mi_env = {**env, "KVCTL_AUTH": "managed-identity"}
            _time(get, mi_env)  # fills the managed-identity token in the cache
            sdk_command = [sys.executable, str(script), "bench"]
            for command in (sdk_command, [sys.executable, str(floor_script), "bench"]):
                _time(command, env)  # compiles their bytecode once, as kvctl's was above
            names = ("held", "hit", "sdk", "floor", "run", "mi_off", "mi_hit")
            times: dict[str, list[Seconds]] = {name: [] for name in names}
            for _ in range(args.runs):
                times["held"].append(_time(get, {**env, "KVCTL_TOKEN_CACHE": "off"}))
                times["hit"].append(_time(get, env))
                times["sdk"].append(_time(sdk_command, env))
                times["floor"].append(_time([sys.executable, str(floor_script), "bench"], env))
                times["run"].append(_time(run20, env))
                times["mi_off"].append(_time(get, {**mi_env, "KVCTL_TOKEN_CACHE": "off"}))
                times["mi_hit"].append(_time(get, mi_env))
            m = {k: statistics.median(v) for k, v in times.items()}
            c = {k: _cpu(v) for k, v in times.items()}
            trust_before, trust_now = trust_costs(info["caFile"], args.runs * 3)

            print(f"Medians of {args.runs} interleaved runs (wall; CPU of the process and its children).")
            print("With --token-latency 1000:")
            print(f"  calls 1..10 (fresh cache): {', '.join(f'{t * 1000:.0f}' for t in series)} ms")
            print(f"  median of calls 2-10: {_ms(cached)}   cpu {_ms(_cpu(series[1:]))}")
            print(f"  today (KVCTL_TOKEN_CACHE=off): {_ms(slow_today)}   ratio today/cached {slow_today / cached:5.2f}")
            print(
                f"  get whose token is held (instant): {_ms(m['held'])}   ratio cached/held  {cached / m['held']:5.2f}"
            )
            print("Token endpoint instant for the baselines:")
            rows = [
                ("cached-token kvctl get", "hit", None),
                ("minimal SDK script", "sdk", ("sdk/kvctl", "sdk", "hit")),
                ("floor (bare https GET)", "floor", ("kvctl/floor", "hit", "floor")),
                ("kvctl run -- true, 20 secrets", "run", ("run/get", "run", "hit")),
                ("get --auth managed-identity, cache off", "mi_off", ("kvctl/sdk", "mi_off", "sdk")),
                ("get --auth managed-identity, cached", "mi_hit", ("kvctl/sdk", "mi_hit", "sdk")),
            ]
            for label, key, ratio in rows:
                line = f"  {label:<40} {_ms(m[key])}  cpu {_ms(c[key])}"
                if ratio:
                    name, top, bottom = ratio
                    line += f"   {name:<12} {m[top] / m[bottom]:5.2f} (cpu {c[top] / c[bottom]:5.2f})"
                print(line)
            print("TLS trust of --ca-bundle (CPU to build it, in this process):")
            print(f"  system bundle + certifi + extra CA, parsed in full: {_ms(trust_before)}")
            print(f"  system CA directory (lazy) + extra CA:              {_ms(trust_now)}")
            print("Import cost of a cached-token get (cumulative, ms; least of 5 processes under -X importtime):")
            for name, micros in import_costs(kvctl, env)[:16]:
                print(f"  {name:<40} {micros / 1000:7.1f}")
        finally:
            emulator.terminate()
            emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
