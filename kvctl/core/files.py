"""Files that hold secret values: written 0600, atomically, never left half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from .errors import UsageError

PRIVATE_MODE = 0o600


def write_private(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write `data` to `path` with mode 0600 via a temporary file in the same directory."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{target} is a directory", hint="give a file path")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    try:
        os.fchmod(fd, PRIVATE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    return target


def append_private(path: str | os.PathLike[str], data: str) -> None:
    """Append `data` in one write (O_APPEND, so a concurrent appender cannot split it); a file
    that does not exist yet is created 0600. An existing file keeps its owner's mode (e.g. the
    runner's $GITHUB_ENV)."""
    payload = data.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_MODE)
    except OSError as exc:
        raise UsageError(f"cannot append to {path}: {exc.strerror}") from None
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except OSError as exc:
        raise UsageError(f"cannot append to {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def read_input_file(path: str | os.PathLike[str], what: str = "file") -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {os.fspath(path)}: {exc.strerror}") from None


def decode_value(raw: bytes, source: str, *, strip_newline: bool) -> str:
    """Secret values are text; one trailing newline (as `echo` adds) is dropped when asked."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"the value from {source} is not UTF-8 text",
            hint="Key Vault secrets are text; base64-encode binary data first (base64 -w0 FILE)",
        ) from None
    if strip_newline:
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
    return text


def read_text(path: str | os.PathLike[str], what: str, stdin: BinaryIO | None = None) -> str:
    """A UTF-8 text file the user names (an env file, a template, a value), exactly; `-` reads
    `stdin` when one is given. Anything else is a clear usage error."""
    from_stdin = stdin is not None and os.fspath(path) == "-"
    raw = stdin.read() if from_stdin and stdin is not None else read_input_file(path, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"{what} on stdin" if from_stdin else f"{what} {os.fspath(path)}"
        raise UsageError(
            f"{where} is not UTF-8 text (byte {exc.start})",
            hint="Key Vault secrets are text; base64-encode binary data first (base64 -w0 FILE)",
        ) from None
