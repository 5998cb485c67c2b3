"""A shared "stop" flag for long work: set by a signal handler at the edge, read by the steps.

The CLI sets it on SIGINT, SIGTERM or SIGHUP. Work in progress looks at it between steps and
starts nothing new; a running command (an apply hook) is stopped with its whole process group.
"""

from __future__ import annotations

import signal
import threading


class Interrupt:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None

    def trip(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
        self._event.set()

    @property
    def tripped(self) -> bool:
        return self._event.is_set()

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "an interrupt"

    @property
    def exit_code(self) -> int:
        """A shell's convention: 128 + the signal's number (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
        return 128 + (self.signum or signal.SIGINT)


NEVER = Interrupt()  # for callers that cannot be interrupted


class Interrupted(Exception):
    """Internal: a step saw the interrupt (or its command was stopped by it) and did not finish."""
