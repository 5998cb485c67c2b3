"""A pytest plugin standing in for pytest-asyncio: `async def` tests run in a fresh event loop."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "asyncio: run the coroutine test in an event loop")
    # The SDK repository's own marks; the emulator runs these tests too (they pass against it).
    config.addinivalue_line("markers", "playback_test_only: run here as well")
    config.addinivalue_line("markers", "live_test_only: run here as well")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: Any) -> Any:
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(function(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
