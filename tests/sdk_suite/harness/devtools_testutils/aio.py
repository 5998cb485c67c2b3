"""`devtools_testutils.aio` stand-in: live mode runs the coroutine as it is."""

from __future__ import annotations

import functools
from typing import Any


def recorded_by_proxy_async(test: Any) -> Any:
    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await test(*args, **kwargs)

    return run
