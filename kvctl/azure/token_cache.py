"""Access tokens kept across kvctl invocations, so that a slow credential (an `az` process, a
managed identity endpoint, Entra ID) is asked once per token lifetime rather than once per process.

Only access tokens are stored: never refresh tokens, client secrets or certificates. They live in
one JSON file, `${XDG_CACHE_HOME:-~/.cache}/kvctl/tokens.json` (0600, in a 0700 directory); the OS
keyring is not used because no keyring library is a dependency and the ones that exist pull in
D-Bus bindings (heavy, and they prompt on some desktops). `KVCTL_TOKEN_CACHE=off` turns it off.

An entry is keyed by cloud, tenant, credential kind, identity and scope — and for the emulator by its
identity endpoint — so a token is only found again by a request to the same kind of target. The
guard (credentials.GuardedCredential) sits outside this cache and judges a cached token exactly as
a new one. Writers take an exclusive lock on a sibling lock file and replace the file atomically,
so two processes never lose each other's entries and a reader never sees half a file.

This module imports nothing from azure at import time: `kvctl logout` and a cache hit need none of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: writes still atomic, concurrent merges best effort
    fcntl = None  # type: ignore[assignment]

# A token is used until this many seconds before it expires (the SDK's own refresh margin).
EXPIRY_MARGIN = 300
FILE_NAME = "tokens.json"
LOCK_NAME = "tokens.lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
CHALLENGES_NAME = "challenges.json"  # the vaults' challenges (challenges.py), discarded with the tokens
CHAIN_NAME = "chain.json"  # which credential answered last (chain.py), discarded with them too
_LOG = logging.getLogger("kvctl")


def enabled(environ: Any = os.environ) -> bool:
    """KVCTL_TOKEN_CACHE: a value that is neither on nor off is a UsageError (checked with the
    settings, before any request)."""
    from ..core.settings import token_cache_enabled

    return token_cache_enabled(environ.get("KVCTL_TOKEN_CACHE"))


def cache_dir(environ: Any = os.environ) -> Path:
    base = environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "kvctl"


def _now() -> float:
    return time.time()


class TokenStore:
    """The file of cached tokens, plus what this process has served from it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        self._served: set[str] = set()  # tokens handed out from the file (not fetched) in this process

    # -- reading and writing -------------------------------------------------
    def _private(self, info: os.stat_result, kind: int) -> bool:
        """A file or directory only this user could have written: its own, of `kind`, no group/other rights."""
        owner = info.st_uid == os.geteuid() if hasattr(os, "geteuid") else True
        return stat.S_IFMT(info.st_mode) == kind and owner and not info.st_mode & 0o077

    def _discard(self, why: str) -> None:
        """Forget the cached tokens (the files, never what a symlink points to), saying why under -v."""
        _LOG.info("token cache: discarding %s: %s", self.directory, why)
        for name in (FILE_NAME, LOCK_NAME, CHALLENGES_NAME, CHAIN_NAME):  # all kvctl keeps here
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.unlink(self.directory / name)

    def _read(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)  # a planted FIFO must not block
        except FileNotFoundError:
            return {}
        except OSError:  # a symlink (ELOOP), or unreadable: not a file kvctl wrote
            if os.path.islink(self.path):
                self._discard(f"{self.path.name} is a symbolic link")
            return {}
        try:
            if not self._private(os.fstat(fd), stat.S_IFREG):
                self._discard(f"{self.path.name} is not a private (0600, your own) regular file")
                return {}
            with os.fdopen(fd, encoding="utf-8") as handle:
                fd = -1
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        finally:
            if fd >= 0:
                os.close(fd)
        entries = data.get("tokens") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def _ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(self.directory)
        if stat.S_ISLNK(info.st_mode):
            raise OSError(f"{self.directory} is a symbolic link")  # caching is skipped, never fails a command
        # A directory that others could write to (or that is not this user's) may hold planted
        # files: it is tightened, and whatever it holds is discarded rather than trusted.
        if not self._private(info, stat.S_IFDIR):
            if info.st_mode & 0o077:
                os.chmod(self.directory, 0o700)
            self._discard("its directory was not private (0700, your own)")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure_dir()
        lock = self.directory / LOCK_NAME
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
        except OSError:
            if not os.path.islink(lock):
                raise
            self._discard(f"{LOCK_NAME} is a symbolic link")
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, entries: dict[str, Any]) -> None:
        fd, temp = tempfile.mkstemp(prefix=".tokens-", dir=self.directory)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": 1, "tokens": entries}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _update(self, change: Callable[[dict[str, Any]], bool]) -> None:
        """Read, change and write back under the lock; a failure to cache never fails a command."""
        with self._lock, contextlib.suppress(OSError), self._locked():
            entries = self._read()
            now = _now()
            live = {k: v for k, v in entries.items() if _expires(v) - EXPIRY_MARGIN > now}
            if change(live) or len(live) != len(entries):
                self._write(live)

    # -- the cache -------------------------------------------------------------
    def get(self, key: str) -> tuple[str, int] | None:
        try:
            self._ensure_dir()
        except OSError:
            return None
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        token, expires = entry.get("token"), _expires(entry)
        if not isinstance(token, str) or expires - EXPIRY_MARGIN <= _now():
            return None
        with self._lock:
            self._served.add(token)
        return token, expires

    def put(self, key: str, token: str, expires_on: int, labels: tuple[str, ...] = ()) -> None:
        if expires_on - EXPIRY_MARGIN <= _now():
            return

        def change(entries: dict[str, Any]) -> bool:
            entries[key] = {"token": token, "expires_on": int(expires_on)}
            if labels:  # which identity it is for (hashed), so `logout --client-id` can find it
                entries[key]["labels"] = list(labels)
            return True

        self._update(change)

    def evict(self, key: str) -> None:
        self._update(lambda entries: entries.pop(key, None) is not None)

    def reject(self, token: str) -> bool:
        """A service refused `token` (401): drop every entry holding it. True when this process had
        served it from the cache, i.e. a fresh token may still succeed."""
        self._update(lambda entries: _drop_token(entries, token))
        with self._lock:
            served = token in self._served
            self._served.discard(token)
        return served

    def reject_served(self) -> bool:
        """A 401 whose token the pipeline no longer shows (a policy sent a copy of the request):
        drop every token this process served from the file. True when there was one."""
        with self._lock:
            served = set(self._served)
            self._served.clear()
        if served:
            self._update(lambda entries: sum(_drop_token(entries, token) for token in served) > 0)
        return bool(served)

    def clear(self) -> int:
        """`kvctl logout`: forget every cached token. Returns how many there were.

        Under the lock (a command finishing meanwhile cannot write them back) and only in a
        directory that is really kvctl's (never through a symbolic link to somewhere else)."""
        if os.path.islink(self.directory):
            _LOG.info("token cache: %s is a symbolic link: nothing removed through it", self.directory)
            return 0
        if not self.directory.exists():
            return 0
        with self._lock, self._locked():
            count = len(self._read())
            for name in (self.path.name, CHALLENGES_NAME):  # the challenges lead to tokens: they go too
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.directory / name)
        return count

    def clear_matching(self, wanted: tuple[str, ...]) -> tuple[int, int]:
        """`kvctl logout --client-id …`: forget the tokens whose labels include every one of
        `wanted` (see `labels`). Returns (removed, kept). Errors are raised, not swallowed: the
        user asked for exactly this."""
        if not self.path.exists():
            return 0, 0
        with self._lock, self._locked():
            entries = self._read()
            stale = [
                key
                for key, entry in entries.items()
                if isinstance(entry, dict)
                and isinstance(entry.get("labels"), list)
                and set(wanted) <= set(entry["labels"])
            ]
            for key in stale:
                del entries[key]
            if stale:
                self._write(entries)
        return len(stale), len(entries)


def _drop_token(entries: dict[str, Any], token: str) -> bool:
    stale = [key for key, entry in entries.items() if isinstance(entry, dict) and entry.get("token") == token]
    for key in stale:
        del entries[key]
    return bool(stale)


def _expires(entry: Any) -> int:
    try:
        return int(entry.get("expires_on", 0))
    except (AttributeError, TypeError, ValueError):
        return 0


def labels(cloud: str | None, tenant: str | None, mode: str | None, client_id: str | None) -> tuple[str, ...]:
    """What `kvctl logout` may select an entry by, each hashed like the key (the file names no
    account): the cloud, tenant, credential kind and client id that were asked for. A part that
    was not given (no --client-id, no tenant) gives no label, so it matches no filter on it."""
    named = {"cloud": cloud, "tenant": tenant, "auth": mode, "client-id": client_id}
    return tuple(
        hashlib.sha256(f"{name}={value.strip().lower()}".encode()).hexdigest()
        for name, value in named.items()
        if value and value.strip()
    )


def entry_key(*parts: str | None) -> str:
    """A stable key from the parts that tell tokens apart (hashed: the file shows no account names)."""
    text = json.dumps([p or "" for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class MemoryStore:
    """The tokens of this process only (KVCTL_TOKEN_CACHE=off): nothing outlives the process, but
    one token request still serves every vault and thread that needs the same token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[str, int]] = {}

    def get(self, key: str) -> tuple[str, int] | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry if entry is not None and entry[1] - EXPIRY_MARGIN > _now() else None

    def put(self, key: str, token: str, expires_on: int, labels: tuple[str, ...] = ()) -> None:
        with self._lock:
            self._entries[key] = (token, int(expires_on))

    def evict(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def reject(self, token: str) -> bool:
        with self._lock:
            for key in [k for k, entry in self._entries.items() if entry[0] == token]:
                del self._entries[key]
        return False  # never served across processes: nothing stale to retry past


_STORE: TokenStore | None = None
_STORE_LOCK = threading.Lock()


def default_store() -> TokenStore | None:
    """The process's store, or None when the cache is off."""
    global _STORE
    if not enabled():
        return None
    directory = cache_dir()
    with _STORE_LOCK:
        if _STORE is None or _STORE.directory != directory:
            _STORE = TokenStore(directory)
        return _STORE


def eviction_policy(store: TokenStore) -> Any:
    """A per-call pipeline policy: a 401 to a request that carried a cached token evicts it and sends
    the request once more, so the authentication policy gets a fresh token. (Key Vault's challenge
    policy returns a second plain 401 to the caller instead of asking for a new token.)"""
    from azure.core.pipeline.policies import HTTPPolicy

    class EvictOn401(HTTPPolicy):
        def send(self, request: Any) -> Any:
            response = self.next.send(request)
            if response.http_response.status_code != 401:
                return response
            if request.context.get("kvctl_token_retried"):
                _reject_sent(request)  # refused again: not kept to fail again in the next process
                return response
            if _reject_sent(request):
                request.context["kvctl_token_retried"] = True
                request.http_request.headers.pop("Authorization", None)
                response = self.next.send(request)
                if response.http_response.status_code == 401:
                    # The fresh token was refused too (this policy is not re-entered: it sits
                    # outside the retry policy): drop it, and give the caller this 401 (no loop).
                    _reject_sent(request)
            return response

    def _reject_sent(request: Any) -> bool:
        sent = request.http_request.headers.get("Authorization", "")
        token = sent[len("Bearer ") :] if sent.startswith("Bearer ") else None
        return store.reject(token) if token else store.reject_served()

    return EvictOn401()
