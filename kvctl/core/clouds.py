"""Azure clouds: where their vaults, ARM and sign-in live, and which hosts may see a real token."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class Cloud:
    name: str
    vault_suffix: str
    vault_scope: str
    arm_endpoint: str
    arm_scope: str

    @property
    def arm_host(self) -> str:
        return self.arm_endpoint.split("://", 1)[1].rstrip("/")


CLOUDS: dict[str, Cloud] = {
    "public": Cloud(
        "public",
        ".vault.azure.net",
        "https://vault.azure.net/.default",
        "https://management.azure.com",
        "https://management.azure.com/.default",
    ),
    "china": Cloud(
        "china",
        ".vault.azure.cn",
        "https://vault.azure.cn/.default",
        "https://management.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
    ),
    "usgov": Cloud(
        "usgov",
        ".vault.usgovcloudapi.net",
        "https://vault.usgovcloudapi.net/.default",
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net/.default",
    ),
}


def cloud_named(name: str) -> Cloud:
    try:
        return CLOUDS[name.lower()]
    except KeyError:
        raise UsageError(f"unknown cloud {name!r}", hint=f"use one of: {', '.join(CLOUDS)}") from None


def host_of(netloc: str) -> str:
    """The host part of `host`, `host:port` or `[v6]:port`, lower-cased."""
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0].lower()
    return netloc.rsplit(":", 1)[0].lower() if netloc.count(":") == 1 else netloc.lower()


def is_loopback(host: str) -> bool:
    host = host.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def arm_endpoint(override: str | None, cloud: Cloud) -> str:
    """The ARM endpoint: the cloud's, or an override (KVCTL_ARM_ENDPOINT) that must be https and
    either that cloud's ARM host or loopback (the emulator)."""
    if not override:
        return cloud.arm_endpoint
    from urllib.parse import urlsplit

    parts = urlsplit(override.strip())
    host = host_of(parts.netloc)
    if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
        raise UsageError(f"KVCTL_ARM_ENDPOINT={override!r} is not an https URL of a host")
    if not (is_loopback(host) or host == cloud.arm_host):
        raise UsageError(
            f"KVCTL_ARM_ENDPOINT={override!r} is neither {cloud.arm_endpoint} nor a local emulator",
            hint="kvctl only sends tokens to Azure hosts and to loopback",
        )
    return f"https://{parts.netloc.lower()}"


def is_azure_vault_host(host: str, cloud: Cloud) -> bool:
    return host.lower().endswith(cloud.vault_suffix)


def is_azure_arm_host(host: str, cloud: Cloud) -> bool:
    return host.lower() == cloud.arm_host
