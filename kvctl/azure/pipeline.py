"""What every SDK client kvctl builds shares, whichever transport carries it: retry and timeout
options, throttling hooks, and the rule that a request goes only to its client's own origin.

Nothing here imports requests: a data-plane command that needs no requests-based client never
loads it (see direct_transport)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from ..core.errors import UnavailableError
from ..core.settings import Settings
from ..core.throttle import LONGEST_ASKED_PAUSE, ThrottleGate

# A request's `retry_on_methods` for a POST that only reads (backup): azure-core resends a POST
# only on 500/503/504, never after a reset connection or a 429, since most POSTs change something.
READ_ONLY_POST = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "POST"})


def origin_of(url: str) -> str:
    """`scheme://host:port` of a URL (the port always written), lower-cased."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port or (443 if scheme == 'https' else 80)}"


def refuse_other_origin(origin: str | None, url: str) -> None:
    """Raise unless `url` is on `origin`: the check every transport makes last, before the network.

    It sees every request a client makes: the SDK pagers and kvctl's own loops that follow a
    service's `nextLink`, redirects, retries. A link to anywhere else is refused before it leaves
    the process, with the token the pipeline attached to it: a token goes only to the endpoint
    kvctl chose for it."""
    if origin is None:
        return
    target = origin_of(url)
    if target != origin:
        raise UnavailableError(
            f"the service at {origin} sent kvctl a link to {target}, another host: "
            "kvctl does not follow it (its token goes only to the endpoint it chose)",
            hint="the service, or something between it and you, misbehaves: rerun with --debug and report it",
        )


RETRY_AFTER_CAP = LONGEST_ASKED_PAUSE


def sane_retry_after(headers: Any) -> None:
    """Make a throttled answer's pause something the SDK's retry policy can sleep: whole seconds,
    at most RETRY_AFTER_CAP. It sleeps what it is told, so `Retry-After: 3600` hung kvctl for an
    hour whatever KVCTL_TIMEOUT said, and `inf`, `1e400`, a year-9999 date or `abc` crashed it.
    A value that is neither a number nor a date is dropped: the policy's own backoff applies."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        raw = headers.get(name)
        if raw is not None:
            milliseconds = _plain_number(raw.split(",")[0])
            if milliseconds is None:
                del headers[name]
            else:
                headers[name] = str(int(min(milliseconds, RETRY_AFTER_CAP * 1000)))
    raw = headers.get("retry-after")
    if raw is None:
        return
    seconds = _plain_number(raw.split(",")[0])  # "1, 1": the header sent twice, joined
    if seconds is None:
        seconds = _seconds_until(raw)
    if seconds is None:
        del headers["retry-after"]
    else:
        headers["retry-after"] = str(int(min(max(seconds, 0.0), RETRY_AFTER_CAP)))


def _plain_number(text: str) -> float | None:
    text = text.strip()
    if not text or len(text) > 12 or not text.replace(".", "", 1).isdigit() or not text.isascii():
        return None
    return float(text)


def _seconds_until(text: str) -> float | None:
    """Seconds from now until an HTTP date, or None when it is not one."""
    import email.utils
    import time

    try:
        when = email.utils.parsedate_to_datetime(text.strip())
        return when.timestamp() - time.time()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def client_options(settings: Settings, transport: Any) -> dict[str, Any]:
    """Keyword arguments shared by every SDK client kvctl builds, around its `transport`.

    Timeouts belong to the transport: given to a client that is handed its own transport, they
    would silently not apply."""
    options: dict[str, Any] = {}
    if settings.wait_for_access > 0:
        from .access_wait import WaitForAccessPolicy

        options["per_call_policies"] = [WaitForAccessPolicy(settings.wait_for_access)]
    return {
        **options,
        "transport": transport,
        "retry_total": settings.retries,
        "retry_status": settings.retries,  # azure-core's default of 3 gives up inside a throttle window
        "retry_backoff_factor": 0.5,
        "retry_backoff_max": 8,
        "logging_enable": False,  # request bodies (secret values) are never logged
    }


def throttle_hooks(gate: ThrottleGate) -> dict[str, Any]:
    """SDK hooks that run for every attempt, retries included (they sit inside the retry policy):
    each request first waits out the gate's pause, and each 429 starts one."""

    def on_request(request: Any) -> None:
        gate.wait()

    def on_response(response: Any) -> None:
        status = response.http_response.status_code
        if status == 429:
            header = response.http_response.headers.get("Retry-After") or ""
            gate.throttled(float(header) if header.isdigit() else None)
        elif status < 400:
            gate.succeeded()

    return {"raw_request_hook": on_request, "raw_response_hook": on_response}
