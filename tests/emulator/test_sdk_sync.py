"""The official SecretClient (sync) performs every secrets operation against the emulator over
HTTPS, authenticated by ManagedIdentityCredential through the emulator's token endpoints."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.conftest import secret_client

VERSION = re.compile(r"^[0-9a-f]{32}$")


def test_every_operation_round_trip(client, emulator, unique):
    name = unique("crud")
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    first = client.set_secret(name, "v1", content_type="text/plain", tags={"env": "test"}, expires_on=expires)
    assert first.value == "v1"
    assert VERSION.match(first.properties.version)
    assert first.id == f"{emulator.vault_url}/secrets/{name}/{first.properties.version}"
    assert first.properties.expires_on == expires
    assert first.properties.recovery_level == "Recoverable+Purgeable"
    assert first.properties.recoverable_days == 90
    assert first.properties.created_on is not None and first.properties.updated_on is not None

    second = client.set_secret(name, "v2")
    assert client.get_secret(name).value == "v2"
    assert client.get_secret(name, first.properties.version).value == "v1"

    updated = client.update_secret_properties(name, first.properties.version, tags={"env": "old"}, enabled=False)
    assert updated.tags == {"env": "old"} and updated.enabled is False

    versions = {v.version for v in client.list_properties_of_secret_versions(name)}
    assert versions == {first.properties.version, second.properties.version}
    assert name in {p.name for p in client.list_properties_of_secrets()}

    blob = client.backup_secret(name)
    assert isinstance(blob, bytes) and len(blob) > 32

    deleted = client.begin_delete_secret(name).result()
    assert deleted.recovery_id == f"{emulator.vault_url}/deletedsecrets/{name}"
    assert deleted.scheduled_purge_date - deleted.deleted_date == dt.timedelta(days=90)
    assert client.get_deleted_secret(name).name == name
    assert name in {d.name for d in client.list_deleted_secrets()}

    recovered = client.begin_recover_deleted_secret(name).result()
    assert recovered.name == name and recovered.version == second.properties.version

    client.begin_delete_secret(name).wait()
    client.purge_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)

    restored = client.restore_secret_backup(blob)
    assert restored.name == name
    assert {v.version for v in client.list_properties_of_secret_versions(name)} == versions
    assert client.get_secret(name).value == "v2"


def test_paging_follows_next_link_back_to_the_emulator(client, unique):
    prefix = unique("page")
    names = {f"{prefix}-{i:03d}" for i in range(63)}
    for name in names:
        client.set_secret(name, "x")
    pages = client.list_properties_of_secrets(max_page_size=7).by_page()
    seen: list[str] = []
    page_count = 0
    for page in pages:
        items = list(page)
        assert len(items) <= 7
        seen.extend(p.name for p in items)
        page_count += 1
    assert names <= set(seen)
    assert len(seen) == len(set(seen)), "no secret appears on two pages"
    assert page_count >= 63 // 7


def test_version_paging(client, unique):
    name = unique("vers")
    made = {client.set_secret(name, str(i)).properties.version for i in range(30)}
    listed = [v.version for v in client.list_properties_of_secret_versions(name, max_page_size=4)]
    assert set(listed) == made and len(listed) == 30


def test_full_soft_delete_lifecycle_with_pollers(client, unique):
    name = unique("life")
    client.set_secret(name, "value")
    delete_poller = client.begin_delete_secret(name)
    delete_poller.wait()
    assert delete_poller.done()
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    recover_poller = client.begin_recover_deleted_secret(name)
    recover_poller.wait()
    assert recover_poller.done()
    assert client.get_secret(name).value == "value"


def test_missing_secret_is_secret_not_found(client, unique):
    name = unique("missing")
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_secret(name)
    assert info.value.status_code == 404
    assert info.value.error.code == "SecretNotFound"
    assert f"A secret with (name/id) {name} was not found in this key vault" in info.value.error.message


def test_missing_version_names_name_and_version(client, unique):
    name = unique("missing-version")
    client.set_secret(name, "x")
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_secret(name, "0" * 32)
    assert info.value.error.code == "SecretNotFound"
    assert f"{name}/{'0' * 32}" in info.value.error.message


def test_missing_deleted_secret_has_its_own_message(client, unique):
    name = unique("never-deleted")
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_deleted_secret(name)
    assert info.value.error.code == "SecretNotFound"
    assert info.value.error.message == f"Deleted Secret not found: {name}"


def test_versions_of_unknown_secret_is_an_empty_list(client, unique):
    assert list(client.list_properties_of_secret_versions(unique("nobody"))) == []


def test_setting_a_deleted_name_conflicts(client, unique):
    name = unique("conflict")
    client.set_secret(name, "x")
    client.begin_delete_secret(name).wait()
    with pytest.raises(ResourceExistsError) as info:
        client.set_secret(name, "y")
    assert info.value.status_code == 409
    assert info.value.error.code == "Conflict"
    assert info.value.error.innererror["code"] == "ObjectIsDeletedButRecoverable"
    assert "deleted but recoverable state" in info.value.error.message


def test_reading_a_disabled_version_is_forbidden(client, unique):
    name = unique("disabled")
    client.set_secret(name, "x", enabled=False)
    with pytest.raises(HttpResponseError) as info:
        client.get_secret(name)
    assert info.value.status_code == 403
    assert info.value.error.code == "Forbidden"
    assert info.value.error.message == "Operation get is not allowed on a disabled secret."


def test_invalid_name_is_bad_parameter(client):
    with pytest.raises(HttpResponseError) as info:
        client.get_secret("bad_name")
    assert info.value.status_code == 400
    assert info.value.error.code == "BadParameter"
    assert info.value.error.message == "The request URI contains an invalid name: bad_name"


def test_value_over_25_kib_is_rejected(client, unique):
    with pytest.raises(HttpResponseError) as info:
        client.set_secret(unique("big"), "x" * (25 * 1024 + 1))
    assert info.value.status_code == 400
    assert info.value.error.code == "BadParameter"
    client.set_secret(unique("max"), "x" * (25 * 1024))


def test_restore_of_existing_name_conflicts(client, unique):
    name = unique("restore-dup")
    client.set_secret(name, "x")
    blob = client.backup_secret(name)
    with pytest.raises(ResourceExistsError):
        client.restore_secret_backup(blob)


def test_tampered_backup_is_rejected(client, unique):
    name = unique("tamper")
    client.set_secret(name, "x")
    blob = bytearray(client.backup_secret(name))
    blob[-1] ^= 0xFF
    with pytest.raises(HttpResponseError) as info:
        client.restore_secret_backup(bytes(blob))
    assert info.value.status_code == 400


def test_identity_without_role_is_forbidden_by_rbac(emulator, identity_env, unique):
    admin = secret_client(emulator)
    name = unique("rbac")
    admin.set_secret(name, "x")
    app = secret_client(emulator, client_id=emulator.identity("app")["clientId"])
    with pytest.raises(HttpResponseError) as info:
        app.get_secret(name)
    assert info.value.status_code == 403
    assert info.value.error.code == "Forbidden"
    assert info.value.error.innererror["code"] == "ForbiddenByRbac"
    lines = info.value.error.message.split("\r\n")
    assert lines[0] == "Caller is not authorized to perform action on resource."
    assert lines[2].startswith(f"Caller: appid={emulator.identity('app')['clientId']};oid=")
    assert lines[3] == "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"
    assert lines[4] == f"Resource: '{emulator.info['vaults'][0]['resourceId'].lower()}/secrets/{name}'"
    assert lines[7] == "DecisionReason: null "


def test_second_vault_is_separate(emulator, identity_env, unique):
    name = unique("twovaults")
    first = secret_client(emulator)
    second = secret_client(emulator, emulator.info["vaults"][1]["url"])
    first.set_secret(name, "one")
    with pytest.raises(ResourceNotFoundError):
        second.get_secret(name)
    assert second.set_secret(name, "two").id.startswith(emulator.info["vaults"][1]["url"])
