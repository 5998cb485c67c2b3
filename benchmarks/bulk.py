"""Bulk work against its baselines, every figure a ratio measured in one run.

    PYTHONPYCACHEPREFIX=/tmp/kvctl-pyc uv run --extra dev python benchmarks/bulk.py [--runs 3]
        [--src DIR] [--sections 1,2,3,4,5]

The emulator runs as its own process (so its CPU and memory are never counted as kvctl's); every
kvctl and SDK process is started from this small harness and measured with os.wait4: wall time,
CPU (user + system) and its own peak RSS. `--src DIR` runs kvctl and the emulator from another
source tree (e.g. an export of an earlier commit), so before and after can be compared on one
machine. The bytecode cache is on for every process (PYTHONPYCACHEPREFIX, set here if unset,
since this machine sets PYTHONDONTWRITEBYTECODE=1).

1. The emulator's list pages at 25,000 secrets: the first and the last page (keyset paging: both
   should take the same, well under a millisecond of database work).
2. `kvctl export` of 200 secrets at 50 ms latency against (a) a sequential SDK loop that lists and
   gets each (target: >= 8x faster) and (b) an SDK script that only lists (target: <= 1.5x); then
   the same with the service's throttling on (no export may fail).
3. `kvctl export` of 1,000 and 5,000 secrets at 20 ms latency against `kvctl list` of the same
   secrets (target: <= 1.5x, not growing with N), with kvctl's CPU per fetched secret.
4. `kvctl list -o json` of 25,000 secrets against the SDK's own list_properties_of_secrets loop
   (target: <= 1.3x), and kvctl's peak RSS at 5,000 and 25,000 (target: flat).
5. Bursts of concurrent exports under throttling, at the service's limits and at limits scaled
   down to 40 requests/s: every export must succeed.

Runs are interleaved (A, B, A, B, ...) so load on a shared machine hits every contender alike;
medians are reported. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

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
# The emulator with the throttling limits scaled down (two cores cannot reach the real ones hard).
SCALED_EMULATOR = """
import sys
from kvctl.emulator import knobs
knobs.THROTTLE_WINDOW_SECONDS, knobs.THROTTLE_ALL_LIMIT = 1.0, 40
from kvctl.cli.main import main
sys.argv[0] = "kvctl"
main()
"""
# Starts a command and reports its own wall time, CPU and peak RSS. Linux charges a child the peak
# RSS of the memory it was forked from (its ru_maxrss is at least that), so a child of this harness
# (which has parsed large answers) would report the harness's peak. This launcher is a bare
# interpreter (-I -S): what it forks is small, and what it reports is the command's own figure.
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump([os.waitstatus_to_exitcode(status), elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss], out)
"""
SIZES = {"b200": 200, "b1k": 1_000, "b5k": 5_000, "b25k": 25_000}


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float  # user + system of the process itself
    rss_mib: float  # its own peak RSS


def measure(command: list[str], env: dict[str, str]) -> Run:
    launcher = Path("launcher.py")  # in the harness's working directory (its temporary directory)
    if not launcher.exists():
        launcher.write_text(LAUNCHER)
    report = Path(f"run-{time.monotonic_ns()}.json")
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(launcher.resolve()), str(report.resolve()), *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    code, elapsed, cpu, rss_kib = json.loads(report.read_text())
    report.unlink()
    if code != 0 or done.returncode != 0:
        raise RuntimeError(f"{command[-3:]} failed ({code}): {done.stderr.decode()[-800:]}")
    return Run(elapsed, cpu, rss_kib / 1024)


def interleaved(contenders: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, Run]:
    """Median wall time, CPU and peak RSS of each contender over `runs` interleaved runs (after one warm-up)."""
    for command in contenders.values():
        measure(command, env)  # warm the file cache, the bytecode cache and the emulator
    results: dict[str, list[Run]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, command in contenders.items():
            results[name].append(measure(command, env))
    return {
        name: Run(
            statistics.median(r.seconds for r in values),
            statistics.median(r.cpu for r in values),
            max(r.rss_mib for r in values),
        )
        for name, values in results.items()
    }


class EmulatorProcess:
    """`kvctl emulator` in its own process, with the admin's access to its knobs."""

    def __init__(self, python: list[str], env: dict[str, str], state: Path, seed: Path, vaults: list[str]) -> None:
        self.state = state
        args = ["emulator", "--state-dir", str(state), "--seed", str(seed)]
        for vault in vaults:
            args += ["--vault", vault]
        self.log = state.with_suffix(".log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([*python, *args], env=env, stdout=subprocess.DEVNULL, stderr=log)
        for _ in range(3000):
            if (state / "emulator.json").exists():
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator stopped: {self.log.read_text()[-800:]}")
            time.sleep(0.1)
        self.info = json.loads((state / "emulator.json").read_text())
        self.urls = {v["name"]: v["url"] for v in self.info["vaults"]}
        self.env = {k: v for k, v in env.items() if not k.startswith(("KVCTL_", "AZURE_", "IDENTITY_"))}
        for line in (state / "emulator.env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value.strip("'")
        self.env["KVCTL_NO_PROGRESS"] = "1"
        self.context = ssl.create_default_context(cafile=self.info["caFile"])

    def token(self, resource: str) -> str:
        query = f"api-version=2019-08-01&resource={resource}"
        request = urllib.request.Request(
            f"{self.info['identityEndpoint']}?{query}", headers={"X-IDENTITY-HEADER": self.info["identityHeader"]}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.loads(response.read())["access_token"])

    def knobs(self, **changes: object) -> None:
        request = urllib.request.Request(
            f"{self.info['armEndpoint']}/_emulator/knobs",
            data=json.dumps(changes).encode(),
            method="PUT",
            headers={
                "Authorization": f"Bearer {self.token('https://emulator.localhost')}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30, context=self.context):
            pass

    def counters(self) -> dict[str, int]:
        request = urllib.request.Request(
            f"{self.info['armEndpoint']}/_emulator/state",
            headers={"Authorization": f"Bearer {self.token('https://emulator.localhost')}"},
        )
        with urllib.request.urlopen(request, timeout=120, context=self.context) as response:
            return dict(json.loads(response.read())["counters"])

    def vault_env(self, vault: str) -> dict[str, str]:
        return {**self.env, "KVCTL_VAULT": self.urls[vault]}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def page_times(emulator: EmulatorProcess, vault: str) -> tuple[float, float, int]:
    """Seconds for the first and for the last list page (median of 5 each, one kept-alive
    connection, no injected latency), and the number of pages."""
    url = urllib.parse.urlsplit(emulator.urls[vault])
    connection = http.client.HTTPSConnection(url.hostname or "", url.port, context=emulator.context)
    bearer = {"Authorization": "Bearer " + emulator.token("https://vault.azure.net")}

    def get(path: str) -> tuple[float, dict]:
        started = time.perf_counter()
        connection.request("GET", path, headers=bearer)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200, (response.status, body[:200])
        return elapsed, json.loads(body)

    first_path = "/secrets?api-version=7.5&maxresults=25"
    path, pages, last_path = first_path, 0, first_path
    while path:
        _, page = get(path)
        pages += 1
        last_path = path
        link = page.get("nextLink")
        path = "" if not link else urllib.parse.urlsplit(link)._replace(scheme="", netloc="").geturl()
    first = statistics.median(get(first_path)[0] for _ in range(5))
    last = statistics.median(get(last_path)[0] for _ in range(5))
    connection.close()
    return first, last, pages


def burst(emulator: EmulatorProcess, kvctl: list[str], env: dict[str, str], seconds: float, parallel: int) -> None:
    """Exports back to back, `parallel` at a time, at no latency and throttled: each must succeed."""
    before = emulator.counters()
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
    after = emulator.counters()
    print(
        f"  burst: {len(durations)} exports ({parallel} at a time) in {time.monotonic() - started:.0f} s, "
        f"{after['requests'] - before['requests']} requests, {after['throttled'] - before['throttled']} "
        f"answered 429; failed exports: {failures}; export median {statistics.median(durations):.2f} s, "
        f"max {max(durations):.2f} s"
    )


def write_seed(path: Path, sizes: dict[str, int]) -> None:
    """The emulator's seed, written a line at a time: this harness stays small, since a child
    started with vfork reports at least the harness's peak RSS as its own."""
    with path.open("w") as out:
        out.write('{"_vaults": {')
        for index, (vault, count) in enumerate(sizes.items()):
            out.write(("," if index else "") + json.dumps(vault) + ': {"secrets": {')
            for i in range(count):
                out.write(("," if i else "") + f'"bench-{i:06d}": "value-{i}-' + "v" * 40 + '"')
            out.write("}}")
        out.write("}}")


def row(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<58} {value:>16}  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--src", type=Path, default=HERE.parent, help="source tree of kvctl to run")
    parser.add_argument("--burst-seconds", type=float, default=25.0)
    parser.add_argument("--sections", default="1,2,3,4,5", help="which of the numbered measurements to run")
    args = parser.parse_args()
    sections = {int(part) for part in args.sections.split(",")}
    env = dict(os.environ)
    # Bytecode cached for every process, outside the checkout (this machine disables it by default).
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "kvctl-bench-pyc"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(args.src.resolve())
    python = [sys.executable]
    kvctl = [*python, "-m", "kvctl"]
    sizes = {k: v for k, v in SIZES.items() if v <= 5_000 or sections & {1, 4}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # Children start here: `python -m kvctl` puts its working directory first on sys.path, and
        # in a checkout that would shadow --src.
        os.chdir(tmp)
        seed = tmp / "seed.json"
        write_seed(seed, sizes)
        (tmp / "loop.py").write_text(SEQUENTIAL_LOOP)
        (tmp / "list.py").write_text(LIST_ONLY)
        source = subprocess.run(
            [*python, "-c", "import kvctl; print(kvctl.__file__)"], env=env, capture_output=True, text=True
        ).stdout.strip()
        print(f"kvctl from {source}; medians of {args.runs} interleaved runs; concurrency 16 (default)")
        started = time.perf_counter()
        emulator = EmulatorProcess(kvctl, env, tmp / "state", seed, list(sizes))
        print(f"emulator up with {sum(sizes.values())} secrets in {time.perf_counter() - started:.0f} s")
        try:
            if 1 in sections:
                paging(emulator, max(sizes, key=lambda v: sizes[v]), sizes)
            if 2 in sections:
                against_sdk(emulator, kvctl, python, tmp, args.runs)
            if 3 in sections:
                against_list(emulator, kvctl, sizes, args.runs)
            if 4 in sections:
                big_list(emulator, kvctl, python, tmp, env)
            if 5 in sections:
                print("5. service limits (4,000 / 10 s):")
                emulator.knobs(latencyMs=0, throttle=True)
                burst(emulator, [*kvctl, "export"], emulator.vault_env("b200"), args.burst_seconds, parallel=4)
        finally:
            emulator.stop()
        if 5 in sections:
            (tmp / "scaled.py").write_text(SCALED_EMULATOR)
            only_small = tmp / "seed-small.json"
            write_seed(only_small, {"b200": SIZES["b200"]})
            scaled = EmulatorProcess([*python, str(tmp / "scaled.py")], env, tmp / "state-scaled", only_small, ["b200"])
            try:
                print("   scaled limits (40 / 1 s):")
                scaled.knobs(throttle=True)
                burst(scaled, [*kvctl, "export"], scaled.vault_env("b200"), args.burst_seconds, parallel=3)
            finally:
                scaled.stop()
        os.chdir(HERE)


def paging(emulator: EmulatorProcess, vault: str, sizes: dict[str, int]) -> None:
    first, last, pages = page_times(emulator, vault)
    print(f"1. emulator list pages, {sizes[vault]:,} secrets ({pages} pages of 25, latency 0):")
    row("first page", f"{first * 1000:.2f} ms")
    row("last page", f"{last * 1000:.2f} ms", f"last/first {last / first:.2f}")


def against_sdk(emulator: EmulatorProcess, kvctl: list[str], python: list[str], tmp: Path, runs: int) -> None:
    """200 secrets at 50 ms: kvctl against two SDK baselines, then throttled."""
    small = emulator.vault_env("b200")
    contenders = {
        "export": [*kvctl, "export"],
        "loop": [*python, str(tmp / "loop.py")],
        "list-only": [*python, str(tmp / "list.py")],
    }
    print("2. export of 200 secrets against SDK scripts:")
    for latency, throttle in ((50.0, False), (50.0, True)):
        emulator.knobs(latencyMs=latency, throttle=throttle)
        before = emulator.counters()["throttled"] if throttle else 0
        m = interleaved(contenders, small, runs)
        label = f"{latency:.0f} ms" + (", throttled" if throttle else "")
        times = f"{m['export'].seconds:.2f} / {m['loop'].seconds:.2f} / {m['list-only'].seconds:.2f}"
        row(f"{label}: export / loop / list-only (s)", times)
        row(f"{label}: loop / export", f"{m['loop'].seconds / m['export'].seconds:.1f}x", "target >= 8x")
        row(
            f"{label}: export / SDK list-only", f"{m['export'].seconds / m['list-only'].seconds:.2f}x", "target <= 1.5x"
        )
        row(
            f"{label}: CPU per secret, export / SDK loop", f"{m['export'].cpu / 0.2:.2f} / {m['loop'].cpu / 0.2:.2f} ms"
        )
        if throttle:
            row(f"{label}: 429 answers during these runs", str(emulator.counters()["throttled"] - before))


def against_list(emulator: EmulatorProcess, kvctl: list[str], sizes: dict[str, int], runs: int) -> None:
    """Export against kvctl list at 20 ms, growing N."""
    emulator.knobs(latencyMs=20, throttle=False)
    print("3. export against kvctl list of the same secrets, 20 ms latency:")
    for vault in ("b1k", "b5k"):
        count = sizes[vault]
        contenders = {"export": [*kvctl, "export"], "list": [*kvctl, "list"]}
        m = interleaved(contenders, emulator.vault_env(vault), runs)
        e, li = m["export"], m["list"]
        row(f"{count:>6,}: export / list (s)", f"{e.seconds:.2f} / {li.seconds:.2f}")
        row(f"{count:>6,}: export / list", f"{e.seconds / li.seconds:.2f}x", "target <= 1.5x, flat in N")
        row(f"{count:>6,}: kvctl CPU per fetched secret (export)", f"{e.cpu / count * 1000:.3f} ms")
        row(f"{count:>6,}: of which beyond the list (export - list CPU)", f"{(e.cpu - li.cpu) / count * 1000:.3f} ms")
        row(f"{count:>6,}: export CPU / wall", f"{e.cpu / e.seconds:.2f}")


def big_list(emulator: EmulatorProcess, kvctl: list[str], python: list[str], tmp: Path, env: dict[str, str]) -> None:
    """A big list against the SDK's own loop (one run each after a warm-up), and kvctl's memory."""
    emulator.knobs(latencyMs=0, throttle=False)
    print("4. kvctl list -o json against the SDK's list loop, latency 0:")
    contenders = {
        "kvctl": [*kvctl, "list", "-o", "json"],
        "sdk": [*python, str(tmp / "list.py")],
        "plain": [*kvctl, "list", "-o", "plain"],  # names only, as the SDK loop prints
    }
    m = interleaved(contenders, emulator.vault_env("b25k"), 1)
    times = f"{m['kvctl'].seconds:.2f} / {m['plain'].seconds:.2f} / {m['sdk'].seconds:.2f}"
    row("25,000: kvctl list -o json / -o plain / SDK loop (s)", times)
    row("25,000: kvctl list -o json / SDK loop", f"{m['kvctl'].seconds / m['sdk'].seconds:.2f}x", "target <= 1.3x")
    row("25,000: kvctl list -o plain / SDK loop", f"{m['plain'].seconds / m['sdk'].seconds:.2f}x", "target <= 1.3x")
    cpu = f"{m['kvctl'].cpu:.2f} / {m['plain'].cpu:.2f} / {m['sdk'].cpu:.2f} s"
    row("25,000: CPU, kvctl list -o json / -o plain / SDK loop", cpu)
    small = measure([*kvctl, "list", "-o", "json"], emulator.vault_env("b5k")).rss_mib
    big = m["kvctl"].rss_mib
    row(
        "kvctl list -o json peak RSS, 5,000 / 25,000",
        f"{small:.1f} / {big:.1f} MiB",
        f"25k/5k {big / small:.2f} (flat)",
    )
    row("SDK loop peak RSS, 25,000", f"{m['sdk'].rss_mib:.1f} MiB")
    row("(an empty python process's peak RSS, for scale)", f"{measure([*python, '-c', 'pass'], env).rss_mib:.1f} MiB")


if __name__ == "__main__":
    main()
