"""Exact writes: kvctl's own retries of a write, and how a write whose answer was lost is found.

The SDK's retries are off for writes (`retry_total=0`): it would simply send a write again, and a
write whose answer was lost may have been done (a second version of a secret, say). Here:

- an answer that means "not done" (the request never reached the service; 429; 503, which the
  service sends before doing any work) is retried as a write: sent again;
- an answer that may hide a done write (the connection dropped after sending; 408, 500, 502,
  504) is followed by a *check* before anything is sent again: only when the check says "not
  done" is the write sent again, and when checks cannot tell, kvctl says so instead of guessing;
- a refusal after such an uncertain attempt (409 "already exists", 404 "no deleted secret") may
  have been caused by kvctl's own earlier attempt, so it is checked too before it is reported.

Checks are exact (see `AzureSecretBackend.set`): a write counts as done only when the service
shows its effect, never because something similar exists.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from ..core.errors import KvctlError, UnavailableError
from .errors import translate

T = TypeVar("T")
NOT_DONE_STATUS = frozenset({429, 503})
AMBIGUOUS_STATUS = frozenset({408, 500, 502, 504})
# Without a Date header from the service to go by, how far kvctl's clock may be from the service's.
_UNKNOWN_SKEW = 5.0


class Unknown(Exception):
    """A check could not tell whether the write took effect (yet)."""


def in_progress(exc: HttpResponseError) -> bool:
    """409 "currently being deleted/recovered": an earlier operation on the name is still running
    in the service (KEYVAULT-WIRE.md, asynchrony); nothing was done, so the write may be sent again."""
    if exc.status_code != 409:
        return False
    text = str(getattr(getattr(exc, "error", None), "message", None) or exc.message or exc).lower()
    return "currently being" in text


class ServerClock:
    """The service's clock as seen through the Date headers of its answers (whole seconds), so
    "created after the request was sent" is judged on the service's clock, not on kvctl's."""

    def __init__(self) -> None:
        self._offset: float | None = None
        self._lock = threading.Lock()

    def observe(self, date_header: str | None) -> None:
        if not date_header:
            return
        try:
            server = email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        with self._lock:
            self._offset = server - time.time()

    def floor(self, local: float) -> dt.datetime:
        """The earliest `created` a version made by a request sent at `local` (kvctl's clock) can carry:
        one second of slack for the one-way delay and the whole-second resolution of both stamps."""
        with self._lock:
            offset = self._offset
        slack = 1.0 if offset is not None else _UNKNOWN_SKEW
        moment = int(local + (offset or 0.0)) - slack
        return dt.datetime.fromtimestamp(moment, dt.UTC)


class WriteRunner:
    """Sends one write with kvctl's retries (see the module docstring)."""

    def __init__(self, retries: int, where: str, sleep: Callable[[float], None]) -> None:
        self.retries = retries
        self.where = where
        self._sleep = sleep

    def backoff(self, attempt: int, exc: BaseException | None) -> None:
        retry_after = None
        response = getattr(exc, "response", None)
        if response is not None:
            header = response.headers.get("Retry-After") if hasattr(response, "headers") else None
            if header and header.isdigit():
                retry_after = float(header)
        delay = retry_after if retry_after is not None else min(8.0, 0.25 * 2**attempt)
        self._sleep(delay * (0.75 + random.random() / 2))

    def run(
        self,
        what: str,
        send: Callable[[], T],
        took_effect: Callable[[], T | None],
        settle: Callable[[], T | None] | None = None,
    ) -> T:
        """`took_effect()` returns the result when the write is visibly done, None when it is
        visibly not done, and raises `Unknown` (or a transient error) when it cannot tell.
        `settle()` (default: `took_effect` until it can tell) decides a refusal that followed an
        uncertain attempt."""
        last: BaseException | None = None
        ambiguous = False  # an attempt may have taken effect, and no check has said whether it did
        ever_ambiguous = False
        for attempt in range(self.retries + 1):
            if attempt:
                self.backoff(attempt - 1, last)
            if ambiguous:
                try:
                    done = self._check(took_effect)
                except Unknown as exc:
                    last = exc.__cause__ or exc
                    continue
                if done is not None:
                    return done
                ambiguous = False  # definitely not done: sending again is safe
            try:
                return send()
            except KvctlError:
                raise
            except ServiceRequestError as exc:  # never reached the service
                last = exc
            except ServiceResponseError as exc:  # sent, and the answer was lost
                last, ambiguous, ever_ambiguous = exc, True, True
            except HttpResponseError as exc:
                last = exc
                if exc.status_code in NOT_DONE_STATUS or in_progress(exc):
                    continue
                if exc.status_code in AMBIGUOUS_STATUS:
                    ambiguous = ever_ambiguous = True
                    continue
                if ever_ambiguous:
                    # The refusal may answer kvctl's own earlier attempt ("already exists").
                    done = settle() if settle is not None else self._settle(took_effect)
                    if done is not None:
                        return done
                raise translate(exc, what=what, where=self.where) from exc
        if ambiguous:
            try:
                done = self._check(took_effect)
            except Unknown:
                raise UnavailableError(
                    f"{what}: the answer to a write was lost and {self.where} could not confirm whether it was done",
                    hint="look before trying again (kvctl versions / kvctl show / kvctl list --deleted)",
                ) from last
            if done is not None:
                return done
        assert last is not None
        raise translate(last, what=what, where=self.where) from last

    def _settle(self, took_effect: Callable[[], T | None]) -> T | None:
        """After a refusal that may be kvctl's own doing: check, a few times if checks cannot tell."""
        for attempt in range(self.retries + 1):
            if attempt:
                self.backoff(attempt - 1, None)
            try:
                return self._check(took_effect)
            except Unknown:
                continue
        return None

    @staticmethod
    def _check(took_effect: Callable[[], T | None]) -> T | None:
        try:
            return took_effect()
        except Unknown:
            raise
        except (KvctlError, HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
            raise Unknown(str(exc)) from exc


def wait_until(
    visible: Callable[[], Any],
    *,
    timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Poll `visible()` (None = not yet) until it answers, with a growing interval; None at the timeout.
    Transient errors of a poll count as "not yet"."""
    deadline = clock() + timeout
    interval = 0.25
    while True:
        try:
            found = visible()
        except (HttpResponseError, ServiceRequestError, ServiceResponseError, Unknown):
            found = None
        if found is not None:
            return found
        if clock() >= deadline:
            return None
        sleep(interval)
        interval = min(2.0, interval * 1.6)
