"""Fixtures for the consumer tests: every awkward value stored once in the shared emulator, and
npm `dotenv` installed outside the repository."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _ISOLATED_ENV, secret_client
from tests.devenv import consumers
from tests.devenv.expected import CI_FORMATS, DIALECT_KEYS, refused_in
from tests.hostile_values import EVERYTHING


@pytest.fixture(scope="module")
def npm_module() -> str:
    module = consumers.npm_install_dotenv()
    if module is None:
        pytest.skip("npm dotenv could not be installed (see stderr): the npm column is untested here")
    return module


@pytest.fixture(scope="module")
def stored(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], Path]:
    """(prefix, variable -> value, marker): each value as secret PREFIX-vNN, tagged DIALECT=ok for
    each dialect or CI format that the documented matrix says can write it. Four more values try to run a
    command that creates `marker`."""
    directory = tmp_path_factory.mktemp("values")
    marker = directory / "executed"
    values = [*EVERYTHING, f"$(touch {marker})", f"`touch {marker}`", f"'; touch {marker}; '", f'"; touch {marker}; "']
    prefix = f"mx-{uuid.uuid4().hex[:8]}"
    variables = {}
    # The SDK sets them (one client, many writes); kvctl reads them back in the tests.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IDENTITY_ENDPOINT", emulator.info["identityEndpoint"])
        patch.setenv("IDENTITY_HEADER", emulator.info["identityHeader"])
        client = secret_client(emulator)
        for i, value in enumerate(values):
            tags = {key: "ok" for key in (*DIALECT_KEYS, *CI_FORMATS) if not refused_in(key, value)}
            client.set_secret(f"{prefix}-v{i:02d}", value, tags=tags)
            variables[f"V{i:02d}"] = value
        client.close()
    return prefix, variables, marker


@pytest.fixture
def kvctl_env(emulator: Any) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    return {**base, **emulator.env, "KVCTL_NO_PROGRESS": "1"}
