"""The async SecretClient (azure.keyvault.secrets.aio) against the emulator, with the async
ManagedIdentityCredential through the App Service endpoint and, separately, IMDS."""

from __future__ import annotations

import asyncio

import pytest
from azure.core.exceptions import ResourceNotFoundError


def _run(coro):
    return asyncio.run(coro)


async def _every_operation(emulator, credential, name: str) -> None:
    from azure.keyvault.secrets.aio import SecretClient

    async with SecretClient(
        emulator.vault_url, credential, verify_challenge_resource=False, connection_verify=emulator.info["caFile"]
    ) as client:
        created = await client.set_secret(name, "async-value", tags={"k": "v"})
        assert created.value == "async-value"
        assert (await client.get_secret(name)).value == "async-value"
        await client.update_secret_properties(name, content_type="text/plain")
        assert name in [p.name async for p in client.list_properties_of_secrets(max_page_size=5)]
        assert len([v async for v in client.list_properties_of_secret_versions(name)]) == 1
        blob = await client.backup_secret(name)
        deleted = await client.delete_secret(name)
        assert deleted.recovery_id.endswith(f"/deletedsecrets/{name}")
        assert (await client.get_deleted_secret(name)).name == name
        assert name in [d.name async for d in client.list_deleted_secrets()]
        await client.recover_deleted_secret(name)
        assert (await client.get_secret(name)).value == "async-value"
        await client.delete_secret(name)
        await client.purge_deleted_secret(name)
        with pytest.raises(ResourceNotFoundError):
            await client.get_deleted_secret(name)
        restored = await client.restore_secret_backup(blob)
        assert restored.name == name


@pytest.fixture
def imds_env(emulator, monkeypatch):
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    monkeypatch.delenv("IDENTITY_HEADER", raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.info["imdsEndpoint"])


@pytest.mark.parametrize("endpoint", ["identity_env", "imds_env"])
def test_async_client_through_each_identity_endpoint(emulator, request, unique, endpoint):
    from azure.identity.aio import ManagedIdentityCredential

    request.getfixturevalue(endpoint)

    async def scenario() -> None:
        async with ManagedIdentityCredential() as credential:
            await _every_operation(emulator, credential, unique("aio"))

    _run(scenario())


def test_sync_client_through_imds(emulator, imds_env, unique):
    from azure.identity import ManagedIdentityCredential
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(
        emulator.vault_url,
        ManagedIdentityCredential(),
        verify_challenge_resource=False,
        connection_verify=emulator.info["caFile"],
    )
    name = unique("imds")
    assert client.set_secret(name, "via-imds").value == "via-imds"
    assert client.get_secret(name).value == "via-imds"
