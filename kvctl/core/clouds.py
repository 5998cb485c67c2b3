"""Azure clouds: where their vaults, ARM and sign-in live, and which hosts may see a real token."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import NamedTuple

from .errors import UsageError


@dataclass(frozen=True)
class Cloud:
    name: str
    vault_suffix: str
    vault_scope: str
    arm_endpoint: str
    arm_scope: str
    graph_endpoint: str = "https://graph.microsoft.com"
    log_analytics_endpoint: str = "https://api.loganalytics.io"

    @property
    def arm_host(self) -> str:
        return self.arm_endpoint.split("://", 1)[1].rstrip("/")

    @property
    def graph_host(self) -> str:
        return self.graph_endpoint.split("://", 1)[1].rstrip("/")

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_endpoint}/.default"

    @property
    def log_analytics_host(self) -> str:
        return self.log_analytics_endpoint.split("://", 1)[1].rstrip("/")


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
        "https://microsoftgraph.chinacloudapi.cn",
        "https://api.loganalytics.azure.cn",
    ),
    "usgov": Cloud(
        "usgov",
        ".vault.usgovcloudapi.net",
        "https://vault.usgovcloudapi.net/.default",
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net/.default",
        "https://graph.microsoft.us",
        "https://api.loganalytics.us",
    ),
}


def cloud_named(name: str) -> Cloud:
    try:
        return CLOUDS[name.lower()]
    except KeyError:
        raise UsageError(f"unknown cloud {name!r}", hint=f"use one of: {', '.join(CLOUDS)}") from None


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\Z")
# Characters that make URL parsers disagree about where the host ends (userinfo, path, query,
# fragment, escapes): a host with any of them could be Azure's to a string check and another
# host to the HTTP client.
_NOT_IN_HOSTS = frozenset("@/\\#?% \t\r\n")


class Netloc(NamedTuple):
    host: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def parse_netloc(netloc: str) -> Netloc | None:
    """`host`, `host:port` or `[v6]:port`, strictly: None for anything else."""
    text = netloc.strip().lower()
    if not text or any(c in _NOT_IN_HOSTS for c in text):
        return None
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[1:end], text[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    else:
        if text.count(":") > 1:
            return None
        host, colon, port_text = text.partition(":")
        rest = colon + port_text
        if len(host) > 253 or not _HOSTNAME.match(host):
            return None
    port = None
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit() or not 1 <= int(rest[1:]) <= 65535:
            return None
        port = int(rest[1:])
    return Netloc(host, port)


def host_of(netloc: str) -> str:
    """The host of a user-given `host[:port]`, lower-cased; anything that is not one is refused."""
    parsed = parse_netloc(netloc)
    if parsed is None:
        raise UsageError(f"{netloc!r} is not a valid host or host:port")
    return parsed.host


def is_loopback(host: str) -> bool:
    """An IP literal in 127.0.0.0/8 or ::1, or exactly `localhost` (which the hosts file maps).
    Not `*.localhost`: with `hosts: files dns` such a name may resolve anywhere DNS says."""
    host = host.lower().removeprefix("[").removesuffix("]")
    if host == "localhost":
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

    try:
        parts = urlsplit(override.strip())
    except ValueError:
        raise UsageError(f"KVCTL_ARM_ENDPOINT={override!r} is not a valid URL") from None
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


def is_azure_graph_host(host: str, cloud: Cloud) -> bool:
    return host.lower() == cloud.graph_host


def is_azure_log_analytics_host(host: str, cloud: Cloud) -> bool:
    return host.lower() == cloud.log_analytics_host


def log_analytics_endpoint(arm: str, cloud: Cloud, override: str | None = None) -> str:
    """The Log Analytics query API's base URL (ending in /v1): an override
    (KVCTL_LOG_ANALYTICS_ENDPOINT) that must be https and the cloud's Log Analytics host or
    loopback; else the emulator's (it serves the API under its ARM URL, at /loganalytics/v1) when
    ARM is the emulator; else the cloud's."""
    from urllib.parse import urlsplit

    if override:
        try:
            parts = urlsplit(override.strip())
            host = host_of(parts.netloc)
        except (ValueError, UsageError):
            raise UsageError(f"KVCTL_LOG_ANALYTICS_ENDPOINT={override!r} is not a valid URL") from None
        if parts.scheme != "https" or parts.query or parts.fragment:
            raise UsageError(f"KVCTL_LOG_ANALYTICS_ENDPOINT={override!r} is not an https URL")
        if not (is_loopback(host) or host == cloud.log_analytics_host):
            raise UsageError(
                f"KVCTL_LOG_ANALYTICS_ENDPOINT={override!r} is neither {cloud.log_analytics_endpoint} "
                "nor a local emulator",
                hint="kvctl only sends tokens to Azure hosts and to loopback",
            )
        path = parts.path.rstrip("/")
        return f"https://{parts.netloc.lower()}{path if path.endswith('/v1') else path + '/v1'}"
    host = host_of(urlsplit(arm).netloc)
    if is_loopback(host):
        return arm.rstrip("/") + "/loganalytics/v1"
    return cloud.log_analytics_endpoint + "/v1"


def graph_endpoint(arm: str, cloud: Cloud) -> str:
    """Microsoft Graph: the cloud's, or the emulator's when ARM is the emulator (it serves Graph
    under the same URL, at /v1.0/)."""
    from urllib.parse import urlsplit

    host = host_of(urlsplit(arm).netloc)
    return arm.rstrip("/") if is_loopback(host) else cloud.graph_endpoint
