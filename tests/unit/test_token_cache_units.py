"""The token file and the az-profile key reader take whatever is on disk without failing a command."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvctl.azure.caching_credential import CachingCredential
from kvctl.azure.chain import candidates, on_azure_vm
from kvctl.azure.token_cache import MemoryStore, TokenStore, entry_key
from kvctl.azure.token_keys import azure_cli_account, identity_of

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(st.binary(max_size=300))
def test_a_garbled_token_file_is_a_miss_and_is_replaced(tmp_path: Path, garbage: bytes) -> None:
    store = TokenStore(tmp_path / "kvctl")
    store.directory.mkdir(exist_ok=True)
    store.path.write_bytes(garbage)
    assert store.get("k") is None
    store.put("k", "token", int(time.time()) + 3600)
    hit = store.get("k")
    assert hit is not None and hit[0] == "token"


@_SETTINGS
@given(st.binary(max_size=300))
def test_any_az_profile_gives_a_key_and_never_raises(tmp_path: Path, garbage: bytes) -> None:
    (tmp_path / "azureProfile.json").write_bytes(garbage)
    key = azure_cli_account({"AZURE_CONFIG_DIR": str(tmp_path)})
    assert key.startswith(str(tmp_path))


def test_the_az_account_decides_the_key(tmp_path: Path) -> None:
    def profile(user: str, tenant: str) -> str:
        sub = {"id": "s", "isDefault": True, "tenantId": tenant, "user": {"name": user, "type": "user"}}
        (tmp_path / "azureProfile.json").write_text("\ufeff" + json.dumps({"subscriptions": [sub]}), encoding="utf-8")
        return identity_of("azure-cli", None, {"AZURE_CONFIG_DIR": str(tmp_path)})

    alice, bob, alice_elsewhere = profile("alice", "t1"), profile("bob", "t1"), profile("alice", "t2")
    assert len({alice, bob, alice_elsewhere}) == 3
    assert profile("alice", "t1") == alice


def test_keys_differ_by_every_part() -> None:
    parts = ["public", "tenant", "azure-cli", "me", "https://vault.azure.net/.default"]
    base = entry_key(*parts)
    for i in range(len(parts)):
        changed = list(parts)
        changed[i] = changed[i] + "x"
        assert entry_key(*changed) != base


def test_an_expired_or_nearly_expired_token_is_never_returned(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "kvctl")
    store.put("soon", "t", int(time.time()) + 200)  # inside the 5-minute margin: not even stored
    assert store.get("soon") is None
    store.put("later", "t2", int(time.time()) + 600)
    assert store.get("later") is not None
    assert store.reject("t2") is True  # it was served from the file in this "process"
    assert store.get("later") is None


def test_imds_needs_a_signal(monkeypatch) -> None:
    from kvctl.azure import chain

    monkeypatch.setattr(chain, "on_azure_vm", lambda: False)
    chosen, skipped = candidates({}, which=lambda _: None)
    assert chosen == [] and "KVCTL_IMDS=1" in skipped["managed-identity"]
    monkeypatch.setattr(chain, "on_azure_vm", lambda: True)
    assert candidates({}, which=lambda _: None)[0] == ["managed-identity"]
    monkeypatch.setattr(chain, "on_azure_vm", lambda: False)
    forced, _ = candidates({"KVCTL_IMDS": "1"}, which=lambda _: None)
    assert "managed-identity" in forced
    app_service, _ = candidates({"IDENTITY_ENDPOINT": "http://127.0.0.1:1"}, which=lambda _: "/usr/bin/az")
    assert app_service == ["managed-identity", "azure-cli"]


def test_the_azure_vm_signal_is_the_dmi_asset_tag(tmp_path: Path) -> None:
    tag = tmp_path / "chassis_asset_tag"
    assert on_azure_vm(tag) is False
    tag.write_text("7783-7084-3265-9085\n")
    assert on_azure_vm(tag) is True
    tag.write_text("No Asset Tag\n")
    assert on_azure_vm(tag) is False


class _SlowCredential:
    """Answers after a pause long enough for every caller to be waiting at once; counts calls."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        with self._lock:
            self.calls.append(kwargs)
            number = len(self.calls)
        time.sleep(0.3)
        return AccessToken(f"token-{number}", int(time.time()) + 3600)


@pytest.mark.parametrize("store_kind", ["file", "memory"])
def test_one_request_serves_every_thread_that_misses_at_once(tmp_path: Path, store_kind: str) -> None:
    inner = _SlowCredential()
    store = TokenStore(tmp_path / "kvctl") if store_kind == "file" else MemoryStore()
    built: list[int] = []

    def build() -> _SlowCredential:
        built.append(1)
        return inner

    credential = CachingCredential(build, lambda scope, tenant: ("v1", scope, tenant or ""), store, "Slow")
    barrier = threading.Barrier(8)

    def ask() -> str:
        barrier.wait()
        return str(credential.get_token("https://vault.azure.net/.default", tenant_id="t").token)

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda _: ask(), range(8)))
    assert (tokens, len(inner.calls), len(built)) == (["token-1"] * 8, 1, 1)
    # Another key (tenant) is a request of its own; a claims challenge always is one.
    assert credential.get_token("https://vault.azure.net/.default", tenant_id="u").token == "token-2"
    challenged = credential.get_token("https://vault.azure.net/.default", tenant_id="t", claims="{}")
    assert challenged.token == "token-3"
    assert credential.get_token("https://vault.azure.net/.default", tenant_id="t").token == "token-3"
    assert len(inner.calls) == 3


def test_the_memory_store_forgets_a_rejected_token() -> None:
    store = MemoryStore()
    store.put("a", "tok", int(time.time()) + 3600)
    store.put("b", "tok", int(time.time()) + 3600)
    store.put("c", "other", int(time.time()) + 3600)
    assert store.reject("tok") is False  # nothing served across processes: no retry past it
    assert (store.get("a"), store.get("b"), store.get("c") is not None) == (None, None, True)
    store.put("d", "soon", int(time.time()) + 60)  # inside the refresh margin: never handed out
    assert store.get("d") is None
