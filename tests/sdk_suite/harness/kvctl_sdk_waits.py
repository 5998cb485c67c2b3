"""A pytest plugin: the SDK's live tests wait a whole minute (`time.sleep(60)`, `asyncio.sleep(60)`)
after a purge before restoring, because real Key Vault purges in the background. The emulator the
suite runs against is started without `--lifecycle-delay`, so its purge is complete when the 204
arrives and that minute proves nothing; such long waits return at once. Short waits stay real
(the 1 s that makes an update's timestamp differ from the creation's, the pollers' intervals)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

# Longer than any poll interval or timestamp wait in the suite; as long as the service waits.
SERVICE_WAIT = 30.0


def pytest_configure(config: Any) -> None:
    real_sleep, real_async_sleep = time.sleep, asyncio.sleep

    def sleep(seconds: float) -> None:
        real_sleep(0 if seconds >= SERVICE_WAIT else seconds)

    async def async_sleep(seconds: float, result: Any = None) -> Any:
        return await real_async_sleep(0 if seconds >= SERVICE_WAIT else seconds, result)

    time.sleep = sleep
    asyncio.sleep = async_sleep  # type: ignore[assignment]
