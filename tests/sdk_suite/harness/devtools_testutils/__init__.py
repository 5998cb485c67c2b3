"""A minimal stand-in for the Azure SDK repository's `devtools_testutils` (live mode only), so
that the tests shipped in the azure-keyvault-secrets sdist run against the kvctl emulator.

The vault URL comes from AZURE_KEYVAULT_URL, the CA from KVCTL_SDK_SUITE_CA, and the credential
is the emulator's managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER). Recording, playback
and sanitizers do not exist in live mode, so they are no-ops here.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from typing import Any

import pytest


def is_live() -> bool:
    return True


@pytest.fixture(scope="session")
def test_proxy() -> Any:
    """No test proxy in live mode."""
    return None


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


add_oauth_response_sanitizer = _no_op
add_general_regex_sanitizer = _no_op
add_body_key_sanitizer = _no_op
add_remove_header_sanitizer = _no_op
add_header_regex_sanitizer = _no_op
add_uri_regex_sanitizer = _no_op
remove_batch_sanitizers = _no_op
set_custom_default_matcher = _no_op
set_bodiless_matcher = _no_op


def recorded_by_proxy(test: Any) -> Any:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return test(*args, **kwargs)

    return run


class AzureRecordedTestCase:
    """What the secrets tests use of the real base class, pointed at the emulator."""

    @property
    def is_live(self) -> bool:
        return True

    @staticmethod
    def await_prepared_test(test: Any) -> Any:
        """Run an async test (its preparer included) to completion in a fresh event loop."""

        @functools.wraps(test)
        def run(test_class: Any, *args: Any, **kwargs: Any) -> Any:
            return asyncio.run(test(test_class, *args, **kwargs))

        return run

    def get_resource_name(self, name: str) -> str:
        # Live mode: a name of its own per test, so tests sharing one vault do not collide.
        return f"{name}{uuid.uuid4().hex[:8]}"

    def get_credential(self, client_class: Any, is_async: bool = False, **kwargs: Any) -> Any:
        if is_async:
            from azure.identity.aio import ManagedIdentityCredential as AsyncCredential

            return AsyncCredential()
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential()

    def create_client_from_credential(self, client_class: Any, credential: Any, **kwargs: Any) -> Any:
        # The emulator's vaults are https://127.0.0.1:PORT, not *.vault.azure.net, and use its CA.
        kwargs.setdefault("verify_challenge_resource", False)
        kwargs.setdefault("connection_verify", os.environ["KVCTL_SDK_SUITE_CA"])
        # Test clients log their HTTP traffic unless a test turns it off (test_logging_* rely on it).
        kwargs.setdefault("logging_enable", True)
        return client_class(credential=credential, **kwargs)


class AzureMgmtPreparer:
    """Only subclassed by a helper module the secrets tests import but do not use live."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


class AzureTestCase(AzureRecordedTestCase):
    pass
