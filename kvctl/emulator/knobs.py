"""Knobs for testing clients: injected latency, faults, dropped responses and throttling.

They can be changed while the emulator runs (`PUT /_emulator/knobs`), so a test can let one
step succeed and make the next fail.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .http import ApiError, ResetConnection

# Key Vault service limits per vault and region (Learn: key-vault service limits).
THROTTLE_WINDOW_SECONDS = 10.0
THROTTLE_ALL_LIMIT = 4000
THROTTLE_WRITE_LIMIT = 300

LOG_QUERY_ROW_LIMIT = 500_000  # Log Analytics' query API limit (Learn: Azure Monitor service limits)

THROTTLED_MESSAGE = (
    "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"
)


@dataclass
class KnobSettings:
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    drop_response_rate: float = 0.0
    throttle: bool = False
    lifecycle_delay: float = 0.0  # seconds before a delete, recover, purge or restore shows (lifecycle.py)
    # Every token endpoint answers this much later (a slow Entra ID / IMDS).
    token_latency_ms: float = 0.0
    # Role assignment changes reach the data plane this many seconds after ARM accepted them.
    rbac_propagation_delay: float = 0.0
    # Object ids whose tokens Microsoft Graph refuses (an app without directory read permission).
    graph_denied: tuple[str, ...] = ()
    # The most rows one Log Analytics query answers before the answer is partial (the service: 500,000).
    log_query_row_limit: int = LOG_QUERY_ROW_LIMIT

    def validate(self) -> None:
        for name in ("fault_rate", "drop_response_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("latency_ms", "token_latency_ms", "rbac_propagation_delay"):
            value = getattr(self, name)
            if not 0 <= value <= 3_600_000:  # also refuses NaN
                raise ValueError(f"{name} must be between 0 and 3600000, got {value}")
        if not 1 <= self.log_query_row_limit <= LOG_QUERY_ROW_LIMIT:
            raise ValueError(
                f"log_query_row_limit must be between 1 and {LOG_QUERY_ROW_LIMIT}, got {self.log_query_row_limit}"
            )
        if not 0.0 <= self.lifecycle_delay <= 3600:
            raise ValueError(f"lifecycle_delay must be between 0 and 3600 seconds, got {self.lifecycle_delay}")


def _object_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and len(v) <= 64 for v in value):
        raise ValueError("graph_denied must be a list of object ids")
    return tuple(v.lower() for v in value)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("log_query_row_limit must be a whole number")
    return value


class _Window:
    """Counts events in a sliding window; thread safe."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self, now: float) -> bool:
        with self._lock:
            while self._events and self._events[0] <= now - self.seconds:
                self._events.popleft()
            if len(self._events) >= self.limit:
                return False
            self._events.append(now)
            return True


class Knobs:
    def __init__(self, settings: KnobSettings, seed: int | None = None) -> None:
        settings.validate()
        self.settings = settings
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._windows_lock = threading.Lock()
        self.counters: dict[str, int] = {
            "faults": 0,
            "resets": 0,
            "drops": 0,
            "throttled": 0,
            "requests": 0,
            "tokens": 0,
            "logQueries": 0,  # Log Analytics queries answered (loganalytics_api.py)
            # ARM: every authenticated request, the vault reads among them (a vault GET or a vault
            # list), and Resource Graph queries (each page is one): fleet benchmarks count them.
            "armRequests": 0,
            "armVaultReads": 0,
            "resourceGraphQueries": 0,
        }
        self._counter_lock = threading.Lock()

    def update(self, changes: dict[str, Any]) -> KnobSettings:
        merged = {**asdict(self.settings), **changes}
        unknown = set(changes) - set(asdict(self.settings))
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
        settings = KnobSettings(
            latency_ms=float(merged["latency_ms"]),
            fault_rate=float(merged["fault_rate"]),
            drop_response_rate=float(merged["drop_response_rate"]),
            throttle=bool(merged["throttle"]),
            lifecycle_delay=float(merged["lifecycle_delay"]),
            token_latency_ms=float(merged["token_latency_ms"]),
            rbac_propagation_delay=float(merged["rbac_propagation_delay"]),
            graph_denied=_object_ids(merged["graph_denied"]),
            log_query_row_limit=_whole(merged["log_query_row_limit"]),
        )
        settings.validate()
        self.settings = settings
        return settings

    def _chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._random_lock:
            return self._random.random() < rate

    def count(self, name: str) -> None:
        """Count one event of `name` (a key of `counters`)."""
        self._count(name)

    def _count(self, name: str) -> None:
        with self._counter_lock:
            self.counters[name] += 1

    def before_work(self) -> None:
        """Latency, then maybe a fault: a 503 or a reset, before the request is processed."""
        self._count("requests")
        if self.settings.latency_ms > 0:
            time.sleep(self.settings.latency_ms / 1000.0)
        if self._chance(self.settings.fault_rate):
            if self._chance(0.5):
                self._count("resets")
                raise ResetConnection()
            self._count("faults")
            raise ApiError(
                503,
                "ServiceUnavailable",
                "The service is temporarily unavailable (injected by --fault-rate).",
            )

    def before_token(self) -> None:
        """--token-latency: a token endpoint takes this long to answer."""
        self._count("tokens")  # every token issued: tests count them to see a token cache work
        if self.settings.token_latency_ms > 0:
            time.sleep(self.settings.token_latency_ms / 1000.0)

    def after_write(self) -> None:
        """Maybe lose the response of a write that has been done (--drop-response-rate)."""
        if self._chance(self.settings.drop_response_rate):
            self._count("drops")
            raise ResetConnection()

    def throttle(self, vault: str, is_create: bool) -> None:
        if not self.settings.throttle:
            return
        kind = "create" if is_create else "all"
        limit = THROTTLE_WRITE_LIMIT if is_create else THROTTLE_ALL_LIMIT
        with self._windows_lock:
            window = self._windows.setdefault((vault, kind), _Window(limit, THROTTLE_WINDOW_SECONDS))
        if not window.admit(time.monotonic()):
            self._count("throttled")
            raise ApiError(429, "Throttled", THROTTLED_MESSAGE)
