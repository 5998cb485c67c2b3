"""Where a secret lives: vault URLs and secret references.

A reference is a secret name (in the vault from --vault), a Key Vault secret identifier
`https://HOST/secrets/NAME[/VERSION]`, or `akv://VAULT/NAME[/VERSION]` where VAULT is a vault
name or `host:port`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from . import validate
from .clouds import CLOUDS, Cloud, is_azure_vault_host, is_loopback, parse_netloc
from .errors import UsageError

SCHEME = "akv://"


@dataclass(frozen=True)
class SecretRef:
    vault_url: str
    name: str
    version: str | None = None

    def __str__(self) -> str:
        suffix = f"/{self.version}" if self.version else ""
        return f"{self.vault_url}/secrets/{self.name}{suffix}"

    @property
    def key(self) -> tuple[str, str, str | None]:
        """Identity for de-duplication: names are case-insensitive in Key Vault."""
        return (self.vault_url.lower(), self.name.lower(), self.version)


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise UsageError(f"{url!r} is not a valid URL") from None


def _checked_netloc(netloc: str, cloud: Cloud, given: str) -> str:
    """The host[:port] of a vault, as the HTTP client will read it, if it is a vault host."""
    parsed = parse_netloc(netloc)
    if parsed is None:
        raise UsageError(
            f"{given!r} does not name a valid host", hint="a vault is NAME, https://NAME.vault.azure.net or host:port"
        )
    host = parsed.host
    if is_loopback(host) or is_azure_vault_host(host, cloud):
        return str(parsed)
    for other in CLOUDS.values():
        if is_azure_vault_host(host, other):
            raise UsageError(
                f"{given!r} is a vault of the {other.name} cloud, not of the {cloud.name} cloud",
                hint=f"add --cloud {other.name} (or set KVCTL_CLOUD={other.name})",
            )
    raise UsageError(
        f"{given!r} is not a Key Vault host of the {cloud.name} cloud",
        hint=f"vault hosts end in {cloud.vault_suffix} (or are loopback, for the emulator)",
    )


def vault_url(vault: str, cloud: Cloud) -> str:
    """Normalise a vault name, vault URL or `host:port` to `https://host[:port]`."""
    given = vault.strip()
    if not given:
        raise UsageError("the vault is empty", hint="pass --vault NAME or a vault URL")
    if "://" in given:
        parts = _split(given)
        if parts.scheme.lower() != "https":
            raise UsageError(f"vault URL {given!r} must use https", hint="Key Vault only speaks HTTPS")
        if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
            raise UsageError(f"invalid vault URL {given!r}", hint="a vault URL is https://NAME.vault.azure.net")
        return f"https://{_checked_netloc(parts.netloc, cloud, given)}"
    if ":" in given or "." in given or given.lower() == "localhost" or any(c in given for c in "@/\\#?% "):
        return f"https://{_checked_netloc(given, cloud, given)}"
    return f"https://{validate.vault_name(given).lower()}{cloud.vault_suffix}"


def _name_and_version(parts: list[str], text: str) -> tuple[str, str | None]:
    if len(parts) == 1 and parts[0]:
        return validate.secret_name(parts[0]), None
    if len(parts) == 2 and parts[0]:
        return validate.secret_name(parts[0]), (validate.version(parts[1]) if parts[1] else None)
    raise UsageError(
        f"invalid secret reference {text!r}",
        hint="use NAME, akv://VAULT/NAME[/VERSION] or https://VAULT-HOST/secrets/NAME[/VERSION]",
    )


def parse_ref(text: str, default_vault: str | None, cloud: Cloud, version: str | None = None) -> SecretRef:
    """Resolve a reference; `version` (from --version) applies when the reference names none."""
    given = text.strip()
    if given.lower().startswith(SCHEME):
        body = given[len(SCHEME) :]
        vault, _, rest = body.partition("/")
        if not vault or not rest:
            raise UsageError(f"invalid secret reference {text!r}", hint="use akv://VAULT/NAME[/VERSION]")
        url = vault_url(vault, cloud)
        name, ref_version = _name_and_version(rest.split("/"), text)
    elif given.lower().startswith("https://") or given.lower().startswith("http://"):
        parts = _split(given)
        if parts.scheme.lower() != "https":
            raise UsageError(f"secret identifier {text!r} must use https")
        url = vault_url(f"https://{parts.netloc}", cloud)
        segments = parts.path.strip("/").split("/")
        if len(segments) < 2 or segments[0].lower() != "secrets" or parts.query or parts.fragment:
            raise UsageError(
                f"invalid secret identifier {text!r}", hint="expected https://VAULT-HOST/secrets/NAME[/VERSION]"
            )
        name, ref_version = _name_and_version(segments[1:], text)
    else:
        if default_vault is None:
            raise UsageError(
                f"no vault given for secret {given!r}",
                hint="pass --vault NAME (or set KVCTL_VAULT), or use akv://VAULT/NAME",
            )
        url = vault_url(default_vault, cloud)
        name, ref_version = validate.secret_name(given), None
    if version is not None:
        version = validate.version(version)
        if ref_version is not None and ref_version != version:
            raise UsageError(f"{text!r} names version {ref_version}, but --version says {version}")
        ref_version = version
    return SecretRef(url, name, ref_version)
