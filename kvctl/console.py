"""The one object that owns stderr: status lines, relayed hook output, prompts and the progress
line. Everything that reaches stderr goes through it, so a progress line is cleared before any
other text is written and never redrawn over a prompt or a half-written line.

No rich here: a progress line is one line redrawn in place, and owning that line ourselves is
what lets prompts and relayed output pause it deterministically (and keeps startup cheap).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from .core.redaction import redact

# A wait shorter than this shows nothing; a longer one shows a spinner (with counts where known).
SHOW_AFTER = 0.5
_TICK = 0.1
_CLEAR = "\r\x1b[2K"
_FRAMES_UTF8 = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_FRAMES_ASCII = "|/-\\"


class Tracker:
    """What a command reports while it waits: how many are done and, once known, of how many.
    Calling it advances the count, so it stands in for the `advance` callables of before."""

    def __init__(self, description: str, total: int | None) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, n: int = 1) -> None:
        with self._lock:
            self.done += n

    def set_total(self, total: int | None) -> None:
        self.total = total

    def describe(self, description: str) -> None:
        self.description = description

    def text(self, elapsed: float) -> str:
        count = ""
        if self.total is not None:
            count = f" {self.done}/{self.total}"
        elif self.done:
            count = f" {self.done}"
        seconds = f" {elapsed:.0f}s" if elapsed >= 2 else ""
        return f"{self.description}{count}{seconds}"


class Console:
    """stderr for one kvctl run. Thread-safe: hook output and fetch callbacks arrive from threads."""

    def __init__(self, stream: IO[str] | None = None, *, quiet: bool = False) -> None:
        self._stream = stream
        self.quiet = quiet
        self._lock = threading.RLock()
        self._tasks: list[tuple[Tracker, float]] = []
        self._drawn = False
        self._paused = 0
        self._line_open = False  # relayed text that has not ended its line yet
        self._ticker: threading.Thread | None = None
        self._wake = threading.Event()
        self._frame = 0

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stderr

    def is_terminal(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    @property
    def shows_progress(self) -> bool:
        return not self.quiet and self.is_terminal() and not os.environ.get("KVCTL_NO_PROGRESS")

    # -- writing ---------------------------------------------------------------------------------

    def write(self, text: str) -> None:
        """Text as it is (relayed output may end mid-line); the progress line waits for a newline."""
        if not text:
            return
        with self._lock:
            self._clear()
            self.stream.write(text)
            self.stream.flush()
            self._line_open = not text.endswith("\n")

    def line(self, text: str) -> None:
        self.write(("\n" if self._line_open else "") + text + "\n")

    def relay(self, text: str) -> None:
        """Another program's output (a hook's), with known secret values masked."""
        self.write(redact(text))

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No progress drawn inside: for prompts, and for anything that writes to the terminal itself."""
        with self._lock:
            self._paused += 1
            self._clear()
        try:
            yield
        finally:
            with self._lock:
                self._paused -= 1
                self._line_open = False

    @contextmanager
    def holding(self) -> Iterator[None]:
        """The progress line cleared and kept off while the caller writes (stdout on the same terminal)."""
        with self._lock:
            self._clear()
            yield

    # -- progress --------------------------------------------------------------------------------

    @contextmanager
    def activity(self, description: str, total: int | None = None) -> Iterator[Tracker]:
        """A spinner with counts on a terminal once the wait passes SHOW_AFTER; elsewhere nothing."""
        tracker = Tracker(description, total)
        if not self.shows_progress:
            yield tracker
            return
        with self._lock:
            self._tasks.append((tracker, time.monotonic()))
            if self._ticker is None:
                self._wake.clear()
                self._ticker = threading.Thread(target=self._run, name="kvctl-progress", daemon=True)
                self._ticker.start()
        try:
            yield tracker
        finally:
            ticker = None
            with self._lock:
                self._tasks = [t for t in self._tasks if t[0] is not tracker]
                if not self._tasks:
                    ticker, self._ticker = self._ticker, None
                    self._wake.set()
                self._clear()
            if ticker is not None:
                ticker.join()

    def _run(self) -> None:
        while not self._wake.wait(_TICK):
            with self._lock:
                if not self._tasks or self._paused or self._line_open:
                    continue
                tracker, started = self._tasks[-1]
                elapsed = time.monotonic() - started
                if elapsed < SHOW_AFTER:
                    continue
                self._draw(tracker.text(elapsed))

    def _draw(self, text: str) -> None:
        frames = (
            _FRAMES_UTF8 if (getattr(self.stream, "encoding", "") or "").lower().startswith("utf") else _FRAMES_ASCII
        )
        self._frame = (self._frame + 1) % len(frames)
        width = _width(self.stream)
        shown = f"{frames[self._frame]} {text}"[: max(10, width - 1)]
        try:
            self.stream.write(_CLEAR + shown)
            self.stream.flush()
            self._drawn = True
        except (OSError, ValueError):  # a closed terminal must not kill the run
            self._drawn = False

    def _clear(self) -> None:
        if self._drawn:
            self._drawn = False
            try:
                self.stream.write(_CLEAR)
                self.stream.flush()
            except (OSError, ValueError):
                pass


def _width(stream: IO[str]) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    # A terminal that reports no size (a pty nobody sized) gets COLUMNS, else 80, not 0.
    return columns or shutil.get_terminal_size().columns


class ConsoleStream:
    """A file-like view of the console, for code that is handed a stream (e.g. a hook relay):
    what it writes goes through the console, so it never lands on top of a progress line."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def write(self, text: str) -> int:
        self.console.write(text)
        return len(text)

    def flush(self) -> None:
        self.console.stream.flush()

    def isatty(self) -> bool:
        return self.console.is_terminal()

    def fileno(self) -> int:
        return self.console.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.console.stream, "encoding", "utf-8") or "utf-8"
