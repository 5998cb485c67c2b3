"""Where kvctl's log lines go: -v, -vv and --debug levels, the notices shown without -v, all
through the one console, with secrets and query values redacted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.settings import Settings


def configure_logging(settings: Settings) -> None:
    """-v: kvctl's own log lines and azure-identity's; -vv: also one line per HTTP request (method,
    URL without secrets, status); --debug: the SDK's redacted request and response headers too.
    Without -v the SDK says nothing: its warnings would otherwise reach stderr through logging's
    last-resort handler, beside (and contradicting) kvctl's own one-line error."""
    import logging
    import sys

    from ..core.redaction import redact

    _remove_handlers(logging)  # what an earlier run in this process (tests) set up

    class NoticeHandler(logging.Handler):
        """Notices kvctl gives even without -v (why it pauses), through the one console."""

        def emit(self, record: logging.LogRecord) -> None:
            try:
                from ..core.redaction import redact
                from ..output import terminal_safe

                _console_line(terminal_safe(redact(f"kvctl: {record.getMessage()}")))
            except Exception:  # noqa: BLE001 - logging must never break the command
                self.handleError(record)

    notice = NoticeHandler()
    notice.kvctl = True  # type: ignore[attr-defined]
    notices = logging.getLogger("kvctl.wait")
    notices.addHandler(notice)
    notices.setLevel(logging.WARNING)
    notices.propagate = False
    if not (settings.verbose or settings.debug):
        silence = logging.NullHandler()
        silence.kvctl = True  # type: ignore[attr-defined]
        logging.getLogger("azure").addHandler(silence)
        return

    class RedactingFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            from ..output import terminal_safe

            return terminal_safe(redact(_quiet_query(super().format(record))))

    class ConsoleHandler(logging.StreamHandler):
        """Through the one console, so a log line never lands on a progress line."""

        def emit(self, record: logging.LogRecord) -> None:
            try:
                _console_line(self.format(record))
            except Exception:  # noqa: BLE001 - logging must never break the command
                self.handleError(record)

    handler = ConsoleHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    handler.kvctl = True  # type: ignore[attr-defined]
    requests_handler = ConsoleHandler(sys.stderr)
    requests_handler.setFormatter(RedactingFormatter("http: %(message)s"))
    requests_handler.kvctl = True  # type: ignore[attr-defined]
    # Headers and URLs only (the SDK redacts Authorization); request bodies are never logged.
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if name in ("urllib3.connectionpool", "kvctl.http"):  # requests' transport, kvctl's own
            if settings.verbose >= 2 or settings.debug:
                logger.addHandler(requests_handler)
                logger.setLevel(logging.DEBUG)
                logger.propagate = False  # not again through the "kvctl" logger's handler
        elif name == "kvctl" or name == "azure.identity" or settings.debug:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG if settings.debug else logging.INFO)


_LOGGERS = (
    "kvctl",
    "kvctl.http",
    "azure.core.pipeline.policies.http_logging_policy",
    "azure.identity",
    "urllib3.connectionpool",
)
_KEPT_QUERY = ("api-version", "maxresults")


def _remove_handlers(logging: Any) -> None:
    for name in ("azure", "kvctl.wait", *_LOGGERS):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "kvctl", False)]:
            logger.removeHandler(old)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def _quiet_query(text: str) -> str:
    """Query values other than the API version and page size are shown as REDACTED (a paging
    token is opaque, and an identity endpoint's query names the identity)."""
    import re

    def keep(match: re.Match[str]) -> str:
        return match.group(0) if match.group(2).lower() in _KEPT_QUERY else f"{match.group(1)}{match.group(2)}=REDACTED"

    return re.sub(r"([?&])([^=&\s\"']+)=([^&\s\"']*)", keep, text)


CONSOLE_LINE: list[Callable[[str], None]] = []


def _console_line(text: str) -> None:
    if CONSOLE_LINE:
        CONSOLE_LINE[-1](text)
    else:
        import sys

        sys.stderr.write(text + "\n")
