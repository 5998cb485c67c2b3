"""Typed errors, each carrying the exit code the contract gives it (DESIGN.md).

The CLI's one error handler turns these into a one-line message, an optional hint, and the
exit code. Messages never contain a secret value.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTHENTICATION = 4
    FORBIDDEN = 5
    CONFLICT = 6
    UNAVAILABLE = 7
    CHECK_FAILED = 10


class KvctlError(Exception):
    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(KvctlError):
    """Bad flag, invalid name, unreadable file: nothing was sent."""

    exit_code = ExitCode.USAGE


class NotFoundError(KvctlError):
    exit_code = ExitCode.NOT_FOUND


class PrincipalNotFoundError(NotFoundError):
    """The directory does not know the principal (yet: replication takes a while after creation)."""


class AuthenticationError(KvctlError):
    exit_code = ExitCode.AUTHENTICATION


class ForbiddenError(KvctlError):
    exit_code = ExitCode.FORBIDDEN

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        caller: str | None = None,
        action: str | None = None,
        resource: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.caller = caller
        self.action = action
        self.resource = resource


class ConflictError(KvctlError):
    exit_code = ExitCode.CONFLICT


class AlreadyExistsError(ConflictError):
    """The thing to create exists already (e.g. the same role assignment under another name)."""


class UnavailableError(KvctlError):
    """Throttled, or the network failed, after retries."""

    exit_code = ExitCode.UNAVAILABLE


class CheckFailedError(KvctlError):
    exit_code = ExitCode.CHECK_FAILED


class PartialFailure(KvctlError):
    """Several items failed; the exit code is the most telling of theirs."""

    def __init__(self, message: str, failures: list[tuple[str, KvctlError]], hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.failures = failures
        codes = [f.exit_code for _, f in failures] or [ExitCode.UNEXPECTED]
        self.exit_code = min(codes, key=lambda c: (c == ExitCode.UNEXPECTED, c))


WITHHELD = "(message withheld: it may hold a secret value)"


def unexpected(exc: BaseException) -> KvctlError:
    """A KvctlError for an exception kvctl did not expect. Its message is not repeated: a bug or a
    library may have put a secret value into it, and masking only knows the values this process
    registered (a fresh process may have registered none). Where it was raised is said instead."""
    import traceback
    from pathlib import Path

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return KvctlError(f"unexpected error: {type(exc).__name__}{where} {WITHHELD}")
