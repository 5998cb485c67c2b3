"""`--wait-for-access`: a Key Vault answer of 403 `ForbiddenByRbac` is re-sent until the duration
is spent, because a role assignment made a moment ago takes minutes to reach the data plane.

A 403 means the service refused before doing anything, so sending the request again is safe for
writes too. Other 403s (a disabled secret, a firewall) are answered at once: waiting would not
change them."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from azure.core.pipeline.policies import HTTPPolicy

_LOG = logging.getLogger("kvctl")
_NOTICE = logging.getLogger("kvctl.wait")  # shown without -v (cli/context.py)
FIRST_PAUSE = 2.0
LONGEST_PAUSE = 15.0


def is_forbidden_by_rbac(status: int, body: str) -> bool:
    if status != 403:
        return False
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        return False
    inner = error.get("innererror") or {} if isinstance(error, dict) else {}
    return isinstance(inner, dict) and inner.get("code") == "ForbiddenByRbac"


class WaitForAccessPolicy(HTTPPolicy):
    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.seconds = seconds
        self._clock = clock
        self._sleep = sleep
        self._said = False

    def send(self, request: Any) -> Any:
        deadline = self._clock() + self.seconds
        pause = FIRST_PAUSE
        while True:
            response = self.next.send(request)
            http = response.http_response
            if not is_forbidden_by_rbac(http.status_code, _text(http)):
                return response
            left = deadline - self._clock()
            if left <= 0:
                return response
            wait = min(pause, left)
            if not self._said:  # once, without -v: a CI log must not show a silent pause
                self._said = True
                _NOTICE.warning(
                    "access is not effective yet (a role assignment takes minutes to apply); "
                    "waiting up to %.0f s more (--wait-for-access)",
                    left,
                )
            _LOG.info("forbidden by RBAC; waiting for access to propagate (%.0f s left)", left)
            self._sleep(wait)
            pause = min(pause * 2, LONGEST_PAUSE)


def _text(http: Any) -> str:
    try:
        return str(http.text())
    except Exception:  # noqa: BLE001 - an unreadable body is simply not ForbiddenByRbac
        return ""
