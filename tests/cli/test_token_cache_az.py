"""The token cache with `--auth azure-cli`: keyed by the az account, guarded like a new token.

A fake `az` on PATH plays the Azure CLI: it signs in as whoever azureProfile.json names (mapped to
an emulator identity), gets that identity's token from the emulator and logs every call."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EmulatorProcess, run_kvctl_subprocess

FAKE_AZ = """#!{python}
import json, os, sys, time, urllib.parse, urllib.request
from pathlib import Path

with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
time.sleep(float(os.environ.get("FAKE_AZ_SLEEP", "0")))  # a slow az: callers that do not wait for each other overlap
profile = Path(os.environ["AZURE_CONFIG_DIR"]) / "azureProfile.json"
subs = json.loads(profile.read_text(encoding="utf-8-sig"))["subscriptions"]
user = next(s for s in subs if s["isDefault"])["user"]["name"]
client_id = json.loads(os.environ["FAKE_AZ_USERS"])[user]
args = sys.argv[1:]
if "--resource" in args:
    resource = args[args.index("--resource") + 1]
else:
    resource = args[args.index("--scope") + 1].removesuffix("/.default")
query = urllib.parse.urlencode({{"api-version": "2019-08-01", "resource": resource, "client_id": client_id}})
request = urllib.request.Request(
    os.environ.get("FAKE_AZ_ENDPOINT", os.environ.get("IDENTITY_ENDPOINT", "")) + "?" + query,
    headers={{"X-IDENTITY-HEADER": os.environ.get("FAKE_AZ_HEADER", os.environ.get("IDENTITY_HEADER", ""))}},
)
body = json.loads(urllib.request.urlopen(request, timeout=10).read())
print(json.dumps({{"accessToken": body["access_token"], "expires_on": int(body["expires_on"]), "tokenType": "Bearer"}}))
"""


def _setup(tmp_path: Path, emulator: EmulatorProcess) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable))
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    users = {
        "alice@example.com": emulator.info["identities"][0]["clientId"],
        "bob@example.com": emulator.identity("app")["clientId"],
    }
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_AZ_LOG": str(tmp_path / "az.log"),
        "FAKE_AZ_USERS": json.dumps(users),
        "KVCTL_AUTH": "azure-cli",
        "AZURE_CONFIG_DIR": os.environ["AZURE_CONFIG_DIR"],  # a kvctl child process gets none by default
    }


def _sign_in(user: str, tenant: str = "72f988bf-86f1-41af-91ab-2d7cd011db47") -> None:
    config = Path(os.environ["AZURE_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    profile = {
        "installationId": "x",
        "subscriptions": [
            {
                "id": "00000000-0000-0000-0000-000000000001",
                "name": "sub",
                "state": "Enabled",
                "user": {"name": user, "type": "user"},
                "isDefault": True,
                "tenantId": tenant,
                "environmentName": "AzureCloud",
            }
        ],
    }
    # The Azure CLI writes its profile with a byte-order mark.
    (config / "azureProfile.json").write_text("\ufeff" + json.dumps(profile), encoding="utf-8")


def _az_calls(env: dict[str, str]) -> int:
    log = Path(env["FAKE_AZ_LOG"])
    return len(log.read_text().splitlines()) if log.exists() else 0


def _whoami(emulator: EmulatorProcess, env: dict[str, str], *extra: str) -> Any:
    return run_kvctl_subprocess(
        ["whoami", "-o", "json", "--vault", emulator.vault_url, *extra], emulator=emulator, env=env
    )


def test_a_changed_az_account_does_not_get_the_old_token(fresh_emulator, tmp_path):
    emulator = fresh_emulator("--identity", "app")
    env = _setup(tmp_path, emulator)
    _sign_in("alice@example.com")
    first = _whoami(emulator, env)
    assert first.exit_code == 0, first.stderr
    assert (first.json["name"], _az_calls(env)) == ("admin", 1)
    again = _whoami(emulator, env)
    assert (again.json["name"], _az_calls(env)) == ("admin", 1), "the cached token was not used"
    _sign_in("bob@example.com")  # `az login` as someone else
    bob = _whoami(emulator, env)
    assert bob.exit_code == 0, bob.stderr
    assert (bob.json["name"], _az_calls(env)) == ("app", 2)
    _sign_in("alice@example.com")
    back = _whoami(emulator, env)
    assert (back.json["name"], _az_calls(env)) == ("admin", 2)


def test_a_get_through_az_is_served_from_the_cache(fresh_emulator, tmp_path, unique):
    emulator = fresh_emulator("--identity", "app")
    env = _setup(tmp_path, emulator)
    _sign_in("alice@example.com")
    name = unique()
    assert run_kvctl_subprocess(["set", name, "--value", "v", "-q"], emulator=emulator, env=env).exit_code == 0
    for _ in range(2):
        done = run_kvctl_subprocess(["get", name], emulator=emulator, env=env)
        assert (done.exit_code, done.stdout) == (0, "v\n"), done.stderr
    assert _az_calls(env) == 1


def _fake_azure_token(tenant: str) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {"iss": f"https://sts.windows.net/{tenant}/", "aud": "https://vault.azure.net", "tid": tenant}
    claims["exp"] = int(time.time()) + 3600
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def _plant(env: dict[str, str], cloud: str, token: str, tenant: str | None = None) -> None:
    """Put `token` in the cache where kvctl would look for an azure-cli Key Vault token."""
    from kvctl.azure.credentials import cache_key_parts
    from kvctl.azure.token_cache import TokenStore, cache_dir, entry_key
    from kvctl.azure.token_keys import identity_of
    from kvctl.core.clouds import cloud_named

    identity = identity_of("azure-cli", None, {**os.environ, **env})
    scope = cloud_named(cloud).vault_scope
    TokenStore(cache_dir()).put(
        entry_key(*cache_key_parts(cloud, tenant, "azure-cli", identity, scope)), token, int(time.time()) + 3600
    )


def test_a_cached_azure_token_is_never_sent_to_a_non_azure_host(fresh_emulator, tmp_path):
    """A real Azure token found in the cache meets the same guard as a new one: the emulator's
    loopback address is not an Azure host, so it is refused before any request carries it."""
    emulator = fresh_emulator("--identity", "app")
    env = _setup(tmp_path, emulator)
    _sign_in("alice@example.com")
    _plant(env, "public", _fake_azure_token("72f988bf-86f1-41af-91ab-2d7cd011db47"))
    done = _whoami(emulator, env)
    assert done.exit_code == 2, done.stderr
    assert "refusing to send an Azure token" in done.stderr
    assert _az_calls(env) == 0, "the cached token should have been found (and refused)"
    # A data-plane request asks for the tenant the vault's challenge names.
    _plant(env, "public", _fake_azure_token(emulator.info["tenantId"]), tenant=emulator.info["tenantId"])
    got = run_kvctl_subprocess(["get", "anything"], emulator=emulator, env=env)
    assert got.exit_code == 2 and "refusing to send an Azure token" in got.stderr, got.stderr
    assert _az_calls(env) == 0


def test_a_token_cached_for_one_cloud_is_not_used_for_another(fresh_emulator, tmp_path):
    emulator = fresh_emulator("--identity", "app")
    env = _setup(tmp_path, emulator)
    _sign_in("alice@example.com")  # az would answer as the admin
    _plant(env, "public", emulator.token("https://vault.azure.net", identity="app"))
    public = _whoami(emulator, env)
    assert (public.json["name"], _az_calls(env)) == ("app", 0), "the planted public-cloud token is used there"
    china = _whoami(emulator, env, "--cloud", "china")
    assert china.exit_code == 0, china.stderr
    assert (china.json["name"], _az_calls(env)) == ("admin", 1), "a public-cloud token was used for China"


def _three_vaults(emulator: EmulatorProcess) -> list[str]:
    """The emulator's three vaults under two host names (a credential was kept per host)."""
    urls = [vault["url"] for vault in emulator.info["vaults"]]
    assert len(urls) == 3
    return [urls[0], urls[1].replace("127.0.0.1", "localhost"), urls[2]]


@pytest.mark.parametrize("cache", ["on", "off"])
def test_refs_in_three_vaults_start_one_az_process(fresh_emulator, tmp_path, unique, cache):
    """`get` of refs in three vaults fetches them at once: before, each host had a credential of
    its own (and each vault a token policy of its own), so a slow `az` was started once per host
    (per vault with the cache off), all for the same token."""
    emulator = fresh_emulator("--identity", "app", "--vault", "one", "--vault", "two", "--vault", "three")
    env = {**_setup(tmp_path, emulator), "KVCTL_TOKEN_CACHE": cache}
    _sign_in("alice@example.com")
    vaults = _three_vaults(emulator)
    name = unique()
    for i, vault in enumerate(vaults):
        done = run_kvctl_subprocess(
            ["set", name, "--value", f"v{i}", "-q", "--vault", vault], emulator=emulator, env=env
        )
        assert done.exit_code == 0, done.stderr
    Path(env["FAKE_AZ_LOG"]).unlink()
    refs = [f"{vault}/secrets/{name}" for vault in vaults]
    done = run_kvctl_subprocess(
        ["get", *refs, "-o", "json"],
        emulator=emulator,
        env={**env, "FAKE_AZ_SLEEP": "1.5", "XDG_CACHE_HOME": str(tmp_path / "empty-cache")},
    )
    assert done.exit_code == 0, done.stderr
    assert [secret["value"] for secret in done.json] == ["v0", "v1", "v2"]
    assert _az_calls(env) == 1, Path(env["FAKE_AZ_LOG"]).read_text()
