"""kvctl's own retries of writes (kvctl/azure/writes.py): a write whose answer was lost is
never sent again until a check (through the versions list) has said it did not take effect.
Exact failure sequences need a stub client; the same path runs end to end against the emulator
in tests/cli/test_rotate_faults.py and tests/faults/test_lost_writes.py."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from kvctl.azure.secret_records import from_kv_secret
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

    def list_properties_of_secret_versions(self, name):
        if self.get_failures:
            self.get_failures -= 1
            raise ServiceRequestError("could not connect")
        return [s.properties for s in self.stored]

    def get_secret(self, name, version=None):
        if self.get_failures:
            self.get_failures -= 1
            raise ServiceRequestError("could not connect")
        return next(s for s in self.stored if version in (None, s.properties.version))


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


class NewSecretClient:
    """The first write of a new secret fails before reaching the service, but looks lost (a reset);
    the check then finds no secret at all (404), which is a definite "not written"."""

    def __init__(self) -> None:
        self.inner = StubClient(get_failures=0)
        self.set_calls = 0

    def set_secret(self, name, value, **kwargs):
        self.set_calls += 1
        if self.set_calls == 1:
            raise ServiceResponseError("connection reset before the work")
        try:
            self.inner.set_secret(name, value, **kwargs)
        except ServiceResponseError:
            pass
        return self.inner.stored[-1]

    def list_properties_of_secret_versions(self, name):
        return self.inner.list_properties_of_secret_versions(name)

    def get_secret(self, name, version=None):
        return self.inner.get_secret(name, version)


def test_a_new_secret_not_found_by_the_check_is_written_again():
    client = NewSecretClient()
    secret = backend(client).set("fresh", "v1")
    assert client.set_calls == 2, "404 from the check means the write did not happen: send it again"
    assert secret.value == "v1"


def _http_error(status: int, message: str = "x"):
    from azure.core.exceptions import HttpResponseError

    response = SimpleNamespace(status_code=status, headers={}, reason="r", text=lambda: "", content_type=None)
    error = HttpResponseError(message=message, response=response)
    error.status_code = status
    return error


@pytest.mark.parametrize(
    "failure",
    [
        lambda: _http_error(503),
        lambda: _http_error(429),
        lambda: _http_error(409, "Secret s is currently being deleted."),
    ],
)
def test_not_done_answers_are_sent_again_without_a_check(failure):
    """503 (before any work), 429 and 409 "currently being ..." mean "not done": a check could only
    find an older version and take it for this write (issue 11, item 6)."""
    from kvctl.azure.writes import WriteRunner

    sends, checks = [], []

    def send():
        sends.append(1)
        if len(sends) < 3:
            raise failure()
        return "written"

    def took_effect():
        checks.append(1)
        return "an older version that looks the same"

    assert WriteRunner(4, "https://v", lambda s: None).run("secret 's'", send, took_effect) == "written"
    assert len(sends) == 3 and not checks


def test_an_ambiguous_answer_is_checked_before_anything_is_sent_again():
    from kvctl.azure.writes import WriteRunner

    sends, checks = [], []

    def send():
        sends.append(1)
        raise ServiceResponseError("reset after sending")

    def took_effect():
        checks.append(1)
        return "found" if len(checks) == 1 else None

    assert WriteRunner(4, "https://v", lambda s: None).run("secret 's'", send, took_effect) == "found"
    assert len(sends) == 1


def test_a_refusal_after_a_lost_answer_is_settled_by_a_check():
    """restore: the first answer is lost, the resend says "already exists"; the check finds that the
    first attempt did it, so the user hears "restored", not "already exists"."""
    from kvctl.azure.writes import WriteRunner

    sends = []

    def send():
        sends.append(1)
        if len(sends) == 1:
            raise ServiceResponseError("reset after sending")
        raise _http_error(409, "Secret s already exists.")

    result = WriteRunner(4, "https://v", lambda s: None).run(
        "the backup", send, lambda: None, settle=lambda: "restored by the first attempt"
    )
    assert result == "restored by the first attempt" and len(sends) == 2


def test_an_identical_version_written_a_moment_before_is_not_taken_for_this_write():
    """`set` in a loop (the CI failure of stop 17): the previous run wrote the same value and expiry
    in the same second; this run's first attempt is reset before any work. The check must not take
    the previous version for this write: it is the latest the command saw, and it is excluded."""
    client = NewSecretClient()
    expires = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    client.inner.stored.append(_stored_version("renew-me", "same", expires))
    previous = from_kv_secret(client.inner.stored[-1])  # what the command's get saw as latest
    secret = backend(client).set("renew-me", "same", expires=expires, newer_than=previous)
    assert client.set_calls == 2, "the reset write was not done: it is sent again"
    assert secret.version != previous.version
    assert secret.version == client.inner.stored[-1].properties.version


def test_an_identical_twin_older_than_the_latest_in_its_second_is_not_taken_either():
    """Found by tests/faults/test_lost_writes.py: an earlier run left an identical version (its
    answer lost, its check then failing) in the same second as the latest one. The check must not
    take that twin for this write, so the versions are listed before writing when the latest is new."""
    client = NewSecretClient()
    expires = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    client.inner.stored.append(_stored_version("renew-me", "same", expires, "e" * 32))
    client.inner.stored.append(_stored_version("renew-me", "same", expires))
    latest = from_kv_secret(client.inner.stored[-1])
    secret = backend(client).set("renew-me", "same", expires=expires, newer_than=latest)
    assert client.set_calls == 2, "the reset write was not done: it is sent again"
    assert secret.version not in {"e" * 32, "f" * 32}


def _stored_version(name: str, value: str, expires: dt.datetime, version: str = "f" * 32) -> SimpleNamespace:
    now = dt.datetime.now(dt.UTC)
    props = SimpleNamespace(
        id=f"https://v.vault.azure.net/secrets/{name}/{version}",
        vault_url="https://v.vault.azure.net",
        name=name,
        version=version,
        enabled=True,
        created_on=now,
        updated_on=now,
        expires_on=expires,
        not_before=None,
        recovery_level=None,
        recoverable_days=None,
        content_type=None,
        tags=None,
        managed=None,
        key_id=None,
    )
    return SimpleNamespace(value=value, properties=props)
