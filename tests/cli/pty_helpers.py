"""Running the real `kvctl` process on a pseudo-terminal of a chosen size, as a user's terminal.

The window size is set with TIOCSWINSZ on the terminal itself (COLUMNS is removed from the
environment), so kvctl has to ask the terminal, as it does for a user.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tests.conftest import _ISOLATED_ENV

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class TerminalRun:
    code: int
    raw: str  # everything the terminal received, escape sequences included

    @property
    def text(self) -> str:
        """What the terminal shows at the end, without colour: a carriage return goes back to the
        start of the line, so a progress line cleared or overwritten there is gone, as on screen."""
        lines = self.raw.replace("\r\n", "\n").split("\n")
        return "\n".join(ANSI.sub("", line.rsplit("\r", 1)[-1]) for line in lines)

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def run_in_terminal(
    args: Sequence[str],
    env: dict[str, str],
    *,
    columns: int = 80,
    rows: int = 50,
    answers: Sequence[tuple[bytes, str]] = (),
    stdin_pipe: bytes | None = None,
    answer_delay: float = 0.2,
    timeout: float = 120,
) -> TerminalRun:
    """Run kvctl with a pty of `columns` x `rows` as stdout and stderr (and stdin, unless
    `stdin_pipe` is given). `answers` are (text to wait for, line to type) pairs, in order."""
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    base = {k: v for k, v in os.environ.items() if k not in (*_ISOLATED_ENV, "COLUMNS", "LINES")}
    process = subprocess.Popen(
        [sys.executable, "-m", "kvctl", *args],
        stdin=subprocess.PIPE if stdin_pipe is not None else secondary,
        stdout=secondary,
        stderr=secondary,
        env={**base, "TERM": "xterm-256color", **env},
        close_fds=True,
        start_new_session=True,
    )
    os.close(secondary)
    if stdin_pipe is not None and process.stdin is not None:
        process.stdin.write(stdin_pipe)
        process.stdin.close()
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if pending and pending[0][0] in output:
                output += _drain(primary, answer_delay)  # what arrives while the prompt waits for us
                os.write(primary, pending.pop(0)[1].encode() + b"\n")
        elif process.poll() is not None:
            break
    else:
        process.kill()
    process.wait(timeout=30)
    os.close(primary)
    return TerminalRun(process.returncode, output.decode("utf-8", "replace"))


def _drain(fd: int, seconds: float) -> bytes:
    got = b""
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                got += os.read(fd, 65536)
            except OSError:
                break
    return got


def unbroken(run: TerminalRun, identifier: str) -> bool:
    """`identifier` appears whole on one line of what was printed (wrapped, cut or split, it does not)."""
    return any(identifier in line for line in run.lines)
