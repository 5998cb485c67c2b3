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
