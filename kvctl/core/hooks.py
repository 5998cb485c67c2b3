"""Running the user's commands for `kvctl rotate`: the apply command and `--from-command`.

Both run as `/bin/sh -c COMMAND` (the text is the user's own). A secret value travels only
through pipes: the new value goes to the apply command's stdin, `--from-command` hands its value
back on stdout. Never in argv or the environment, where other users (`ps`, /proc) could read it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Protocol

from .interrupt import NEVER, Interrupt
from .redaction import MIN_LENGTH, StreamRedactor, register

SHELL = "/bin/sh"
# After the shell exits, how long to wait for its output pipes to close: a daemon the command
# started may hold them open for ever, and kvctl must not hang on it.
PIPE_GRACE_SECONDS = 2.0
KILL_GRACE_SECONDS = 5.0
POLL_SECONDS = 0.1  # how often a running command looks at the interrupt flag
WITHHELD = (
    f"[kvctl: this command's output is withheld: the value it handles is shorter than {MIN_LENGTH} "
    "characters, too short to mask]\n"
)


def too_short_to_mask(value: bytes) -> bool:
    """A value redaction cannot mask (see redaction.MIN_LENGTH); compared as written and without
    surrounding white space or the trailing newline `--from-command` drops, as a command may echo it."""
    text = value.decode("utf-8", "replace")
    return any(0 < len(form) < MIN_LENGTH for form in (text, text.removesuffix("\n"), text.strip()))


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None  # None: stopped after the timeout or on an interrupt
    stdout: bytes = field(default=b"", repr=False)  # only when captured; it may be a secret
    interrupted: bool = False  # stopped because kvctl was interrupted

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None and not self.interrupted

    def describe(self) -> str:
        if self.interrupted:
            return "was stopped by the interrupt"
        if self.exit_code is None:
            return "timed out and was stopped"
        if self.exit_code < 0:
            return f"was killed by signal {-self.exit_code}"
        return f"exit {self.exit_code}"


class CommandRunner(Protocol):
    def __call__(
        self, command: str, *, stdin: bytes, env: Mapping[str, str], timeout: float, capture: bool
    ) -> CommandOutcome: ...


class ShellRunner:
    """Runs commands via /bin/sh; what they print (stdout unless captured, and stderr) is relayed
    line by line to `relay`, which the CLI points at its own stderr. Each stream passes a
    StreamRedactor first, so a secret value is masked even when it spans lines. When `interrupt`
    trips, the running command is stopped with its whole process group."""

    def __init__(self, relay: Callable[[bytes], None], interrupt: Interrupt = NEVER) -> None:
        self.relay = relay
        self.interrupt = interrupt

    def _masked(self, withhold: Callable[[], bool]) -> tuple[Callable[[bytes], None], Callable[[], None]]:
        """A sink and its close; while `withhold()` is true, nothing is relayed (the value this
        command handles is too short to mask), and close says once that output was withheld."""
        redactor = StreamRedactor()
        dropped: list[bool] = []

        def relay(text: str) -> None:
            if not text:
                return
            if withhold():
                dropped.append(True)
            else:
                self.relay(text.encode("utf-8"))

        def sink(line: bytes) -> None:
            relay(redactor.feed(line.decode("utf-8", "replace")))

        def close() -> None:
            relay(redactor.close())
            if dropped:
                self.relay(WITHHELD.encode("utf-8"))

        return sink, close

    def __call__(
        self, command: str, *, stdin: bytes, env: Mapping[str, str], timeout: float, capture: bool
    ) -> CommandOutcome:
        process = subprocess.Popen(
            [SHELL, "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            process_group=0,  # its own group, so a timeout stops the command and all it started
        )
        captured: list[bytes] = []
        # A captured stdout is a secret value; stderr may echo it, and it can only be masked once
        # the value is known, so stderr waits until the command is done.
        held_errors: list[bytes] = []
        assert process.stdout is not None and process.stderr is not None
        # The apply command gets the value on stdin; --from-command's value is its stdout, known
        # only when it is done (its stderr is held until then).
        short = [too_short_to_mask(stdin)]
        out_sink, out_close = self._masked(lambda: short[0])
        err_sink, err_close = self._masked(lambda: short[0])
        readers = [
            _reader(process.stdout, captured.append if capture else out_sink),
            _reader(process.stderr, held_errors.append if capture else err_sink),
        ]
        interrupted = False
        try:
            _feed(process, stdin)
            code, interrupted = self._wait(process, timeout)
        except BaseException:
            _stop(process)  # any failure in kvctl: leave nothing running behind
            raise
        for reader in readers:
            reader.join(PIPE_GRACE_SECONDS)
        if capture:
            register(b"".join(captured).decode("utf-8", "replace"))
            short[0] = short[0] or too_short_to_mask(b"".join(captured))
            # Masked as one text: a value that spans lines is caught whole.
            err_sink(b"".join(held_errors))
        out_close()
        err_close()
        return CommandOutcome(code, b"".join(captured) if capture else b"", interrupted)

    def _wait(self, process: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, bool]:
        deadline = time.monotonic() + timeout
        while True:
            code = process.poll()
            if code is not None:
                return code, False
            if self.interrupt.tripped:
                _stop(process)
                return None, True
            left = deadline - time.monotonic()
            if left <= 0:
                _stop(process)
                return None, False
            try:
                return process.wait(timeout=min(POLL_SECONDS, left)), False
            except subprocess.TimeoutExpired:
                continue


def _reader(stream: IO[bytes], sink: Callable[[bytes], None]) -> threading.Thread:
    def pump() -> None:
        with stream:
            for line in iter(stream.readline, b""):
                sink(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
    except BrokenPipeError:
        pass  # the command did not read its stdin; its exit code tells the rest
    finally:
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, grace in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
