"""What the user asked for globally: vault, credential, cloud, output, verbosity, limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    from .clouds import Cloud

AUTH_MODES = (
    "auto",
    "default",
    "managed-identity",
    "workload-identity",
    "azure-cli",
    "environment",
    "device-code",
    "emulator",
)
OUTPUT_FORMATS = ("table", "json", "tsv", "plain")

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5
DEFAULT_CONCURRENCY = 16

# KVCTL_TOKEN_CACHE: the design's `off`, and the spellings of a switch people type (any case);
# empty or unset is the default, on. Anything else is refused rather than guessed.
TOKEN_CACHE_ON = ("on", "1", "true", "yes")
TOKEN_CACHE_OFF = ("off", "0", "false", "no")


def token_cache_enabled(raw: str | None) -> bool:
    """Whether KVCTL_TOKEN_CACHE=`raw` keeps tokens across invocations; UsageError for a value
    that is neither (`maybe` silently meaning "on" would leave tokens on disk the user meant to avoid)."""
    text = (raw or "").strip().lower()
    if text in ("", *TOKEN_CACHE_ON):
        return True
    if text in TOKEN_CACHE_OFF:
        return False
    accepted = ", ".join(f"{off}/{on}" for off, on in zip(TOKEN_CACHE_OFF, TOKEN_CACHE_ON, strict=True))
    raise UsageError(f"KVCTL_TOKEN_CACHE={raw!r} is not a switch: use {accepted} (any case; empty means on)")


@dataclass(frozen=True)
class Settings:
    vault: str | None = None
    auth: str = "auto"
    client_id: str | None = None
    tenant: str | None = None
    subscription: str | None = None
    cloud: str = "public"
    ca_bundle: str | None = None
    arm_endpoint: str | None = None
    output: str | None = None
    verbose: int = 0
    debug: bool = False
    quiet: bool = False
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY
    wait_for_access: float = 0.0  # seconds to keep re-sending a request refused with ForbiddenByRbac

    @property
    def cloud_info(self) -> Cloud:
        from .clouds import cloud_named

        return cloud_named(self.cloud)

    def require_vault_url(self) -> str:
        if not self.vault:
            raise UsageError("no vault given", hint="pass --vault NAME|URL or set KVCTL_VAULT")
        from .refs import vault_url

        return vault_url(self.vault, self.cloud_info)
