"""Files the emulator writes into its state directory: atomically (a reader never sees half a
file), and the CA bundle that adds the emulator's CA to the system's."""

from __future__ import annotations

import os
from pathlib import Path


def system_cas() -> str:
    """The system's trusted CAs as PEM text ('' where there is no bundle file), so a bundle of
    them plus the emulator's CA can replace the usual trust store without narrowing it."""
    import ssl

    path = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    try:
        text = Path(path).read_text(encoding="ascii") if path else ""
    except (OSError, UnicodeDecodeError):
        return ""
    return text if text.endswith("\n") or not text else text + "\n"


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
