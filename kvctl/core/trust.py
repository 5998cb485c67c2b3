"""Which CAs kvctl trusts with `--ca-bundle`: the system's, plus the extra bundle's.

The system store is trusted through its hashed certificate directory (OpenSSL's `capath`), which
OpenSSL reads lazily: only the issuer a server's chain names is looked up, by hash, when that
chain is checked. Loading the system bundle file instead parses every certificate in it (~150)
in every process, and requests' default (certifi) is a second full bundle: ~50 ms before the
first request. Without a usable directory (no `capath`, as on macOS and Windows builds) kvctl falls
back to the eager default store, so the trust is never narrower than the system's.

One context per bundle per process: it is checked once (a bad bundle is a usage error before
any request) and then shared by every connection.
"""

from __future__ import annotations

import os
import re
import ssl
import stat as stat_module
import threading

_HASHED = re.compile(r"[0-9a-f]{8}\.\d+")
_CONTEXTS: dict[tuple[str, int, int, int], ssl.SSLContext] = {}
_LOCK = threading.Lock()


def system_capath() -> str | None:
    """The system's hashed CA directory, if it has any certificate link in it (SSL_CERT_DIR wins)."""
    paths = ssl.get_default_verify_paths()
    capath = os.environ.get(paths.openssl_capath_env) or paths.capath or paths.openssl_capath
    if not capath:
        return None
    try:
        with os.scandir(capath) as entries:
            if any(_HASHED.fullmatch(entry.name) for entry in entries):
                return capath
    except OSError:
        pass
    return None


class NotAFileError(OSError):
    """The bundle path names a directory, a named pipe, a socket or a device, not a file."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def check_readable_file(path: str) -> None:
    """Raise NotAFileError unless `path` is a regular file this process can open, OSError when it
    cannot be opened. Never blocks: OpenSSL opening a named pipe waits for a writer for ever."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    if not stat_module.S_ISREG(mode):
        kinds = (
            (stat_module.S_ISDIR, "directory"),
            (stat_module.S_ISFIFO, "named pipe"),
            (stat_module.S_ISSOCK, "socket"),
            (stat_module.S_ISCHR, "character device"),
            (stat_module.S_ISBLK, "block device"),
        )
        raise NotAFileError(next((name for test, name in kinds if test(mode)), "special file"))


def system_directory_for(bundle: str) -> str | None:
    """The system's hashed CA directory when `bundle` is the system bundle and the directory holds
    the same CAs (update-ca-certificates writes both): trusting the directory, read lazily, is
    then trusting the bundle, without parsing every certificate in it (~35 ms). Else None."""
    paths = ssl.get_default_verify_paths()
    capath = system_capath()
    if not (capath and _same(capath, paths.openssl_capath) and _same(bundle, paths.openssl_cafile)):
        return None
    # The same CAs, as far as a count can tell: a CA appended to the bundle by hand (`cat corp.pem
    # >> ca-certificates.crt`, common in images) or linked into the directory alone makes them
    # differ, and then the bundle is parsed as given (never narrower or wider than requests).
    try:
        with open(bundle, "rb") as handle:
            in_bundle = handle.read(16 * 1024 * 1024).count(b"-----BEGIN CERTIFICATE-----")
        with os.scandir(capath) as entries:
            in_directory = sum(1 for entry in entries if _HASHED.fullmatch(entry.name))
    except OSError:
        return None
    return capath if in_bundle == in_directory else None


def context_with(ca_file: str) -> ssl.SSLContext:
    """A client TLS context trusting the system's CAs and those in `ca_file` (built once per file).

    Raises ssl.SSLError when `ca_file` holds no PEM certificate, OSError when it cannot be read
    (NotAFileError when it is no regular file)."""
    stat = os.stat(ca_file)
    if not stat_module.S_ISREG(stat.st_mode):
        check_readable_file(ca_file)  # raises NotAFileError (ssl would hang on a named pipe)
    key = (ca_file, stat.st_ino, stat.st_size, stat.st_mtime_ns)  # a rewritten file is read again
    with _LOCK:
        context = _CONTEXTS.get(key)
        if context is not None:
            return context
        context = ssl.create_default_context(cafile=ca_file)  # given a cafile, it loads nothing else
        paths = ssl.get_default_verify_paths()
        capath = system_capath()
        explicit_file = os.environ.get(paths.openssl_cafile_env)
        if explicit_file and system_directory_for(explicit_file):
            explicit_file = None  # its CAs are the directory's, loaded below
        if explicit_file:  # SSL_CERT_FILE: what the user asked OpenSSL to trust, as the default store would
            try:
                context.load_verify_locations(cafile=explicit_file)
            except (ssl.SSLError, OSError):
                pass  # as OpenSSL's default store: an unreadable SSL_CERT_FILE adds nothing
        if capath:
            context.load_verify_locations(capath=capath)
        elif not explicit_file:
            context.load_default_certs()
        _CONTEXTS[key] = context
        return context


def _same(path: str, other: str) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False
