"""How kvctl speaks of an exception it did not expect, without repeating its message.

The message of an exception kvctl did not raise itself may hold anything: a bug that formats a
secret value into it, a library that quotes a request body. Masking only catches values kvctl
registered in this process, and a fresh process has registered none, so these texts name the
exception's type and where it was raised, never its message. kvctl's own errors (KvctlError) are
worded by kvctl and never hold a value, so their messages are kept.
"""

from __future__ import annotations

import traceback

from ..core.errors import WITHHELD, KvctlError, unexpected
from ..core.redaction import redact


def _summary(exc: BaseException) -> str:
    if isinstance(exc, KvctlError):
        return f"{type(exc).__name__}: {redact(exc.message)}"
    # An HTTP error's status and service error code say much and hold no value.
    details = []
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        details.append(f"status {status}")
    code = getattr(getattr(exc, "error", None), "code", None)
    if isinstance(code, str) and code.isidentifier():
        details.append(f"code {code}")
    return f"{type(exc).__name__}{' (' + ', '.join(details) + ')' if details else ''} {WITHHELD}"


def describe(exc: BaseException) -> str:
    """One line: the type, where it was raised (file:line in function), never the message."""
    return unexpected(exc).message.removeprefix("unexpected error: ")


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def traceback_text(exc: BaseException) -> str:
    """A traceback (for --debug) of the whole chain of causes, each message withheld."""
    chain: list[BaseException] = [exc]
    links: list[str] = []  # links[i]: how chain[i] came from chain[i + 1], the older one
    while len(chain) < 20:
        newest = chain[-1]
        if newest.__cause__ is not None:
            older, link = newest.__cause__, _CAUSE
        elif newest.__context__ is not None and not newest.__suppress_context__:
            older, link = newest.__context__, _CONTEXT
        else:
            break
        if any(older is known for known in chain):
            break
        chain.append(older)
        links.append(link)
    parts: list[str] = []
    for index in range(len(chain) - 1, -1, -1):
        if index < len(links):
            parts.append(links[index])
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(chain[index].__traceback__)))
        parts.append(_summary(chain[index]) + "\n")
    return redact("".join(parts))
