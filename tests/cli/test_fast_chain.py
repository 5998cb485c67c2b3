"""`--auth default` probes only credentials with a signal here, tries last time's winner first, and
says with -v why each other one did not answer. IMDS is the emulator's (or a closed loopback port)."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from pathlib import Path

from tests.cli.test_token_cache_az import FAKE_AZ, _sign_in
from tests.conftest import EmulatorProcess, closed_port, kvctl_cache_dir, run_kvctl_subprocess


def _path_without_az(extra: Path | None = None) -> str:
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "az").exists()]
    return os.pathsep.join(([str(extra)] if extra else []) + dirs)


def _issued(emulator: EmulatorProcess) -> int:
    return int(emulator.control("GET", "state")["counters"]["tokens"])


def _base_env(imds: str) -> dict[str, str | None]:
    return {
        "IDENTITY_ENDPOINT": None,
        "IDENTITY_HEADER": None,
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": imds,
        "PATH": _path_without_az(),
        "KVCTL_RETRIES": "0",
        "KVCTL_TOKEN_CACHE": "off",
    }


def test_imds_is_not_probed_without_a_signal(fresh_emulator):
    """No managed identity variable, not an Azure VM: a listening 'IMDS' never hears from kvctl."""
    emulator = fresh_emulator()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        imds = f"http://127.0.0.1:{listener.getsockname()[1]}"
        result = run_kvctl_subprocess(["-v", "--auth", "default", "show", "x"], emulator=emulator, env=_base_env(imds))
        assert result.exit_code == 4, result.stderr
        try:
            listener.accept()
            probed = True
        except BlockingIOError:
            probed = False
    assert not probed, "kvctl probed IMDS although nothing says this is Azure"
    skipped = [line for line in result.stderr.splitlines() if "skipped managed-identity" in line]
    assert len(skipped) == 1 and "KVCTL_IMDS=1" in skipped[0]
    assert "skipped azure-cli" in result.stderr
    assert "Traceback" not in result.stderr


def test_kvctl_imds_forces_the_probe(fresh_emulator, unique):
    emulator = fresh_emulator()
    env = {**_base_env(emulator.info["imdsEndpoint"]), "KVCTL_IMDS": "1"}
    before = _issued(emulator)
    result = run_kvctl_subprocess(["-v", "--auth", "default", "show", "no-" + unique()], emulator=emulator, env=env)
    assert result.exit_code == 3, result.stderr  # authenticated (through IMDS), the secret is not there
    assert "managed-identity answered" in result.stderr
    assert _issued(emulator) - before >= 2  # the IMDS token, then this count's own


def test_the_last_winner_is_tried_first(fresh_emulator, tmp_path, unique):
    """Managed identity comes before the Azure CLI in the chain; once the CLI has answered, the next
    run asks it first and does not wait for the (here: unreachable) managed identity endpoint."""
    emulator = fresh_emulator("--identity", "app")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable))
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    _sign_in("alice@example.com")
    env = {
        **_base_env(f"http://127.0.0.1:{closed_port()}"),
        "KVCTL_IMDS": "1",
        "PATH": _path_without_az(bin_dir),
        "FAKE_AZ_LOG": str(tmp_path / "az.log"),
        "FAKE_AZ_USERS": json.dumps({"alice@example.com": emulator.info["identities"][0]["clientId"]}),
        "AZURE_CONFIG_DIR": os.environ["AZURE_CONFIG_DIR"],
        # The fake az reaches the emulator through these, not IDENTITY_ENDPOINT/HEADER, which would
        # give the managed identity credential a working endpoint.
        "FAKE_AZ_ENDPOINT": emulator.info["identityEndpoint"],
        "FAKE_AZ_HEADER": emulator.info["identityHeader"],
    }
    name = unique()
    first = run_kvctl_subprocess(["-v", "--auth", "default", "show", name], emulator=emulator, env=env)
    assert first.exit_code == 3, first.stderr
    assert "managed-identity did not answer" in first.stderr and "azure-cli answered" in first.stderr
    second = run_kvctl_subprocess(["-v", "--auth", "default", "show", name], emulator=emulator, env=env)
    assert second.exit_code == 3, second.stderr
    assert "azure-cli answered" in second.stderr
    assert "managed-identity did not answer" not in second.stderr, "the remembered winner was not tried first"
    memory = (kvctl_cache_dir() / "chain.json").read_text()
    assert "azure-cli" in memory and "eyJ" not in memory  # a kind, never a token
