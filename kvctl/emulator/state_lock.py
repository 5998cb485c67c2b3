"""One emulator per state directory: a second one would serve the same database and, on stopping,
delete the first one's emulator.json and emulator.env."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "emulator.lock"


class StateDirInUse(Exception):
    """Another emulator holds the state directory's lock."""


def lock_state_dir(state_dir: Path) -> int:
    """An exclusive flock on STATE_DIR/emulator.lock, holding this process's pid; the descriptor
    is the lock (close it to release). The kernel drops the lock when the process ends, however
    it ends, so a killed emulator leaves no stale lock behind. The file itself is never removed:
    removing it would let two emulators lock two different files of the same name."""
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise StateDirInUse(f"state directory {state_dir} is in use by another emulator (pid {holder})") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd
