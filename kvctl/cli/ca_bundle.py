"""--ca-bundle / KVCTL_CA_BUNDLE, checked before any request."""

from __future__ import annotations

from ..core.errors import UsageError

_CA_BUNDLE_HINT = "pass a file of PEM certificates (--ca-bundle or KVCTL_CA_BUNDLE), e.g. the emulator's ca.pem"


def checked_ca_bundle(path: str | None) -> str | None:
    """The CA bundle, checked before any request, each problem as one line and a hint: a file that
    holds no PEM certificate would otherwise fail inside the TLS layer on the first connection (an
    unexpected error), and a named pipe would hang kvctl for ever inside OpenSSL."""
    if not path:
        return None
    import ssl

    given = path if path.isprintable() else repr(path)  # as messages show it: control characters escaped
    from ..core.trust import NotAFileError, check_readable_file, context_with

    try:
        check_readable_file(path)
        context_with(path)  # the context every connection then shares: the bundle is read once
    except NotAFileError as exc:
        hint = _CA_BUNDLE_HINT
        if exc.kind == "directory":
            hint = "pass a file of PEM certificates, not a directory (a directory of hashed certificates: SSL_CERT_DIR)"
        raise UsageError(f"the CA bundle {given} is a {exc.kind}, not a file", hint=hint) from None
    except ssl.SSLError:
        raise UsageError(
            f"the CA bundle {given} is not a PEM CA bundle (no certificate could be read from it)",
            hint="pass a file of PEM certificates (-----BEGIN CERTIFICATE-----), e.g. the emulator's ca.pem",
        ) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UsageError(f"cannot read the CA bundle {given}: {reason}", hint=_CA_BUNDLE_HINT) from None
    return path
