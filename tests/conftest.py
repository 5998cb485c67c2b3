"""Shared fixtures: a real emulator (started by the real `kvctl emulator` command), the real
Azure SDK pointed at it, and the real kvctl CLI run in-process or as a subprocess.

Every test runs as a user would: in a temporary working directory of its own (never the
checkout), with none of the developer's kvctl/Azure environment, and with kvctl's process-wide
state (the redaction registry, logging handlers) fresh. The session fails if the suite leaves
files in the checkout.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import settings

# Property tests measure correctness, not speed: on a loaded 2-core CI machine one example can take
# far longer than hypothesis's default 200 ms deadline, which failed a green suite for nothing.
settings.register_profile("kvctl", deadline=None)
settings.load_profile("kvctl")

ROOT = Path(__file__).resolve().parent.parent
# The audience the emulator's /_emulator/ control API accepts (no Azure token has it).
CONTROL_RESOURCE = "https://emulator.localhost"

# Variables from the developer's or CI's environment that would change what kvctl does.
_ISOLATED_ENV = (
    "KVCTL_VAULT",
    "KVCTL_AUTH",
    "KVCTL_OUTPUT",
    "KVCTL_CLOUD",
    "KVCTL_CA_BUNDLE",
    "KVCTL_ARM_ENDPOINT",
    "KVCTL_TIMEOUT",
    "KVCTL_RETRIES",
    "KVCTL_CONCURRENCY",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "IMDS_ENDPOINT",
    # AZURE_POD_IDENTITY_AUTHORITY_HOST is not cleared per run: the autouse fixture points it at a
    # closed loopback port, so that no test's credential ever reaches the real IMDS address.
    "REQUESTS_CA_BUNDLE",
    "NO_COLOR",
    "_KVCTL_RUN_DEPTH",
    "KVCTL_RECOVERY_DIR",
    "AZURE_CONFIG_DIR",
    "GITHUB_ENV",
    "GITHUB_OUTPUT",
    "GITHUB_ACTIONS",
    "TF_BUILD",
)
# Prefixes of variables that configure kvctl or azure-identity; the autouse fixture clears them all.
_ISOLATED_PREFIXES = ("KVCTL_", "AZURE_", "IDENTITY_", "MSI_", "IMDS_")


def reset_process_state() -> None:
    """Forget what earlier in-process kvctl runs and SDK clients left behind: registered values,
    log handlers, and the SDK's process-wide cache of vault challenges (an emulator on a port an
    earlier test's emulator used would otherwise be sent no unauthenticated first request)."""
    import logging

    from azure.keyvault.secrets._shared import http_challenge_cache

    from kvctl.core import redaction

    redaction.forget_all()
    http_challenge_cache.clear()
    for name in ("kvctl", "azure", *logging.Logger.manager.loggerDict):
        if not (name == "kvctl" or name.startswith(("kvctl.", "azure"))):
            continue
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "kvctl", False)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def user_like(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Each test: its own working directory, a clean environment, fresh process-wide state."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key in _ISOLATED_ENV or key.startswith(_ISOLATED_PREFIXES):
            monkeypatch.delenv(key)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))  # kvctl's token cache, per test
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(home / "azure"))
    # A credential that falls back to IMDS finds a closed loopback port, never 169.254.169.254.
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{closed_port()}")
    reset_process_state()
    yield tmp_path
    reset_process_state()


def kvctl_cache_dir() -> Path:
    """Where this test's kvctl processes keep their token cache (XDG_CACHE_HOME is per test)."""
    return Path(os.environ["XDG_CACHE_HOME"]) / "kvctl"


_PYCACHE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Every Python process the suite starts (xdist workers, kvctl, the emulator) compiles into
    one bytecode cache for the session, outside the checkout. Without it, a machine that sets
    PYTHONDONTWRITEBYTECODE (or a read-only checkout) recompiles kvctl and the Azure SDK in each
    of the suite's thousands of kvctl processes, which doubles their start-up."""
    if hasattr(config, "workerinput") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return  # a worker inherits the controller's cache; a cache the user chose is kept
    import tempfile

    directory = tempfile.mkdtemp(prefix="kvctl-tests-pycache-")
    config.stash[_PYCACHE] = os.environ["PYTHONPYCACHEPREFIX"] = directory
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # with the prefix, nothing is written next to sources


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_PYCACHE, None)
    if directory is not None:
        import shutil

        del os.environ["PYTHONPYCACHEPREFIX"]
        shutil.rmtree(directory, ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests.checkout import snapshot

    if not hasattr(session.config, "workerinput"):  # the xdist controller (or a plain run) checks
        session.config.stash[_CHECKOUT_BEFORE] = snapshot(ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.checkout import new_entries, snapshot

    before = session.config.stash.get(_CHECKOUT_BEFORE, None)
    if before is None:
        return
    left = new_entries(before, snapshot(ROOT))
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "the test suite left files in the checkout (tests must work in tmp_path):\n  " + "\n  ".join(left)
        if reporter is not None:
            reporter.write_sep("=", "checkout not clean", red=True)
            reporter.write_line(text, red=True, bold=True)
        else:
            sys.stderr.write(text + "\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_CHECKOUT_BEFORE = pytest.StashKey[tuple[str, frozenset[str]]]()


@dataclass
class EmulatorProcess:
    """`kvctl emulator` in a child process, as a user would run it."""

    state_dir: Path
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        info_file = self.state_dir / "emulator.json"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        info_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kvctl", "emulator", "--state-dir", str(self.state_dir), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV},
            cwd=self.state_dir,
        )
        deadline = time.monotonic() + timeout
        while not info_file.exists():
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"emulator exited with {self.process.returncode}: {err}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("emulator did not become ready")
            time.sleep(0.05)
        self.info = json.loads(info_file.read_text())
        self.env = {}
        for line in (self.state_dir / "emulator.env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value.strip("'")
        return self

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        self.process = None
        return code

    @property
    def vault_url(self) -> str:
        return str(self.info["vaults"][0]["url"])

    def identity(self, name: str) -> dict[str, str]:
        return next(i for i in self.info["identities"] if i["name"] == name)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.info["caFile"])

    def token(self, resource: str = "https://management.azure.com", identity: str | None = None) -> str:
        query = f"api-version=2019-08-01&resource={resource}"
        if identity:
            query += f"&client_id={self.identity(identity)['clientId']}"
        request = urllib.request.Request(
            f"{self.info['identityEndpoint']}?{query}", headers={"X-IDENTITY-HEADER": self.info["identityHeader"]}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["access_token"])

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the emulator's /_emulator/ switches with the admin's token."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.info['armEndpoint']}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token(CONTROL_RESOURCE)}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10, context=self.ssl_context()) as response:
            return json.loads(response.read())

    def knobs(self, **changes: Any) -> Any:
        return self.control("PUT", "knobs", changes)

    def state(self, vault: str | None = None) -> list[dict[str, Any]]:
        return self.control("GET", "state")["vaults"][vault or self.info["vaults"][0]["name"]]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator shared by the session's tests (tests use unique secret names)."""
    process = EmulatorProcess(
        tmp_path_factory.mktemp("emulator"),
        ["--identity", "app", "--identity", "reader", "--vault", "emulator", "--vault", "second"],
    ).start()
    yield process
    process.stop()


@pytest.fixture
def fresh_emulator(tmp_path: Path) -> Iterator[Any]:
    """A factory for emulators of one's own (for knobs, restarts and special settings)."""
    started: list[EmulatorProcess] = []

    def make(*args: str, state_dir: Path | None = None) -> EmulatorProcess:
        directory = state_dir or tmp_path / f"emu{len(started)}"
        process = EmulatorProcess(directory, list(args)).start()
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()


@pytest.fixture
def unique() -> Any:
    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_kvctl(
    args: list[str],
    *,
    emulator: EmulatorProcess | None = None,
    input: str | bytes | None = None,
    env: Mapping[str, str | None] | None = None,
) -> Result:
    """Run the real kvctl CLI (its `main`, error handler included) in this process."""
    from kvctl.cli.main import main

    full_env: dict[str, str | None] = dict.fromkeys(_ISOLATED_ENV)
    full_env["KVCTL_NO_PROGRESS"] = "1"
    if emulator is not None:
        full_env.update(emulator.env)
    full_env.update(env or {})
    runner = CliRunner()
    with runner.isolation(input=input, env=full_env) as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        stdout, stderr = out.getvalue(), err.getvalue()
    return Result(code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))


@pytest.fixture
def kvctl(emulator: EmulatorProcess) -> Any:
    """`kvctl(...)` runs the CLI in-process against the shared emulator."""

    def call(*args: str, input: str | bytes | None = None, env: Mapping[str, str | None] | None = None) -> Result:
        return run_kvctl(list(args), emulator=emulator, input=input, env=env)

    return call


def run_kvctl_process(
    args: list[str],
    *,
    env: Mapping[str, str | None] | None = None,
    input: bytes | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
    python: list[str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """The real `kvctl` in a child process, for what only a process shows (imports, signals,
    process-wide state). It runs in `cwd`, by default the test's own temporary directory.
    `python` replaces `-m kvctl` (e.g. `-c SCRIPT` that plants a bug and then calls kvctl's main).
    A variable given as None is unset."""
    base: dict[str, str | None] = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    merged = {k: v for k, v in {**base, **(env or {})}.items() if v is not None}
    return subprocess.run(
        [sys.executable, *(python or ["-m", "kvctl"]), *args],
        env=merged,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def run_kvctl_subprocess(
    args: list[str],
    *,
    emulator: EmulatorProcess | None = None,
    input: str | bytes | None = None,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    python: list[str] | None = None,
    timeout: float = 60,
) -> Result:
    """Like `run_kvctl`, but in a fresh `kvctl` process: nothing an earlier command registered helps."""
    full_env: dict[str, str | None] = {"KVCTL_NO_PROGRESS": "1", **(emulator.env if emulator else {}), **(env or {})}
    data = input.encode() if isinstance(input, str) else (input if input is not None else b"")
    done = run_kvctl_process([str(a) for a in args], env=full_env, input=data, cwd=cwd, python=python, timeout=timeout)
    return Result(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def kvctl_in(emulator: EmulatorProcess, cwd: Path, *args: str, input: bytes = b"", timeout: float = 300) -> Result:
    """`kvctl ARGS` as a fresh process against `emulator`, run in `cwd` (for the fault and delay
    suites: the hang guard is long, as kvctl's retries against a faulty emulator take a while)."""
    return run_kvctl_subprocess(list(args), emulator=emulator, input=input, cwd=cwd, timeout=timeout)


def secret_client(emulator: EmulatorProcess, vault_url: str | None = None, **kwargs: Any) -> Any:
    """The official SecretClient with ManagedIdentityCredential through the emulator's App Service
    endpoint (the caller sets IDENTITY_ENDPOINT/IDENTITY_HEADER, e.g. with the `client` fixture)."""
    from azure.identity import ManagedIdentityCredential
    from azure.keyvault.secrets import SecretClient

    credential = ManagedIdentityCredential(client_id=kwargs.pop("client_id", None))
    return SecretClient(
        vault_url or emulator.vault_url,
        credential,
        verify_challenge_resource=False,
        connection_verify=emulator.info["caFile"],
        **kwargs,
    )


@pytest.fixture
def identity_env(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.info["identityEndpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", emulator.info["identityHeader"])


@pytest.fixture
def client(emulator: EmulatorProcess, identity_env: None) -> Any:
    return secret_client(emulator)


def arm_call(emu: EmulatorProcess, method: str, path: str, body: object = None, token: str | None = None) -> Any:
    """One ARM request to the emulator as the admin (or `token`): (status, parsed JSON body)."""
    request = urllib.request.Request(
        f"{emu.info['armEndpoint']}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token or emu.token()}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=emu.ssl_context()) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
