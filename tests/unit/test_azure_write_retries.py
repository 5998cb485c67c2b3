"""kvctl's own retries of writes (AzureSecretBackend._write): a write whose answer was lost is
never sent again until a check has said it did not take effect. Exact failure sequences need a
stub client; the same path runs end to end against the emulator in tests/cli/test_rotate_faults.py."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from kvctl.azure.secrets import AzureSecretBackend
from kvctl.core.errors import UnavailableError


class StubClient:
    """set_secret stores, then loses the answer; get_secret fails as scripted, then answers."""

    def __init__(self, get_failures: int) -> None:
        self.stored: list[SimpleNamespace] = []
        self.get_failures = get_failures
        self.set_calls = 0

    def set_secret(self, name, value, **kwargs):
        self.set_calls += 1
        now = dt.datetime.now(dt.UTC)
        props = SimpleNamespace(
            id=f"https://v.vault.azure.net/secrets/{name}/{self.set_calls:032x}",
            vault_url="https://v.vault.azure.net",
            name=name,
            version=f"{self.set_calls:032x}",
            enabled=True,
            created_on=now,
            updated_on=now,
            expires_on=None,
            not_before=None,
            recovery_level=None,
            recoverable_days=None,
            content_type=kwargs.get("content_type"),
            tags=kwargs.get("tags"),
            managed=None,
            key_id=None,
        )
        self.stored.append(SimpleNamespace(value=value, properties=props))
        raise ServiceResponseError("connection reset after the write")

    def get_secret(self, name, version=None):
        if self.get_failures:
            self.get_failures -= 1
            raise ServiceRequestError("could not connect")
        return self.stored[-1]


def backend(client, retries=4):
    return AzureSecretBackend(client, "https://v.vault.azure.net", retries, sleep=lambda seconds: None)


def test_a_failed_check_after_a_lost_answer_is_repeated_not_the_write():
    client = StubClient(get_failures=2)
    secret = backend(client).set("db", "v1", tags={"k": "v"})
    assert client.set_calls == 1, "the write was done once; it must not be sent again"
    assert secret.version == client.stored[0].properties.version


def test_when_no_check_ever_answers_the_write_is_still_sent_once():
    client = StubClient(get_failures=100)
    with pytest.raises(UnavailableError):
        backend(client, retries=3).set("db", "v1")
    assert client.set_calls == 1
