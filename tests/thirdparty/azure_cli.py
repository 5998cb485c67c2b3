"""The real Azure CLI, installed from the package index into its own venv in a cache outside the
repository and the lock, and pointed at an emulator through a custom cloud (README: "Pointing
the Azure CLI at the emulator")."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EmulatorProcess

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kvctl-tests"
VENV = CACHE / "azure-cli"
CLOUD = "kvctl-emulator"
# Variables from the machine that would make the CLI talk to something other than the emulator.
_DROP = ("AZURE_CONFIG_DIR", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT", "MSI_SECRET")


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two test workers must not install into one venv at once
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def az_executable() -> Path:
    """`az` from the cache, installed on first use; the test is skipped, loudly, when it cannot be."""
    az = VENV / "bin" / "az"
    with cache_lock(CACHE / "azure-cli.lock"):
        if az.exists() and (VENV / ".complete").exists():
            return az
        uv = shutil.which("uv")
        if uv is None:
            pytest.skip("SKIPPED LOUDLY: the Azure CLI tests need `uv` on PATH to install azure-cli into a cache venv")
        shutil.rmtree(VENV, ignore_errors=True)
        steps = [
            [uv, "venv", "--quiet", str(VENV)],
            [uv, "pip", "install", "--quiet", "--python", str(VENV), "azure-cli"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                shutil.rmtree(VENV, ignore_errors=True)
                pytest.skip(
                    "SKIPPED LOUDLY: could not install azure-cli from the package index "
                    f"({' '.join(step[:3])} exited {done.returncode}): {done.stderr.strip()[-300:]}"
                )
        (VENV / ".complete").write_text("azure-cli\n")
    return az


@dataclass
class AzureCli:
    executable: Path
    config_dir: Path
    emulator: EmulatorProcess

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("KVCTL_")}
        return {
            **base,
            **self.emulator.env,  # IDENTITY_ENDPOINT/HEADER for login --identity
            "REQUESTS_CA_BUNDLE": self.emulator.info["caBundle"],
            "AZURE_CONFIG_DIR": str(self.config_dir),
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_CORE_SURVEY_MESSAGE": "false",
            "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no",
            # Never the real metadata address: IMDS, if anything tried it, is a closed loopback port.
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.executable), *args], env=self.env(), capture_output=True, text=True, check=False
        )

    def json(self, *args: str) -> Any:
        done = self.run(*args, "-o", "json")
        assert done.returncode == 0, f"az {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else None

    def register_cloud(self) -> None:
        """The commands README shows: ARM and Graph at the emulator's ARM URL, Key Vault's DNS suffix
        the first vault's port (so `--vault-name 127.0.0.1` is that vault)."""
        info = self.emulator.info
        arm = info["armEndpoint"] + "/"
        port = info["vaults"][0]["url"].rsplit(":", 1)[1]
        self.json(
            "cloud",
            "register",
            "--name",
            CLOUD,
            "--endpoint-resource-manager",
            arm,
            "--endpoint-active-directory",
            "https://login.microsoftonline.com",
            "--endpoint-active-directory-resource-id",
            "https://management.core.windows.net/",
            "--endpoint-active-directory-graph-resource-id",
            "https://graph.windows.net/",
            "--endpoint-microsoft-graph-resource-id",
            info["graphEndpoint"] + "/",
            "--suffix-keyvault-dns",
            f":{port}",
            "--skip-endpoint-discovery",
        )
        self.json("cloud", "set", "--name", CLOUD)
