"""Run the emulator in the foreground until SIGINT or SIGTERM, printing its endpoints."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import TextIO

from .service import INFO_FILE, Emulator, EmulatorOptions


class _StopDuringStartup(BaseException):
    """SIGINT/SIGTERM arrived while the emulator was still starting."""


def run_foreground(options: EmulatorOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    stop = threading.Event()
    starting = True

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        if starting:
            # Start-up may be waiting on something (a port, the disk): interrupt it rather than
            # leave the signal unanswered until it is done.
            raise _StopDuringStartup()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    emulator = Emulator(options)
    try:
        try:
            info = emulator.start()
        except _StopDuringStartup:
            return 0
        starting = False
        if stop.is_set():
            return 0
        out.write(json.dumps(info, indent=2) + "\n")
        out.write(emulator.env_text())
        out.flush()
        err.write(
            f"kvctl emulator ready: {info['vaults'][0]['url']} (state in {info['stateDir']}).\n"
            f"Point kvctl or the Azure SDK at it with: source {emulator.state_dir / 'emulator.env'}\n"
            f"Endpoints are in {emulator.state_dir / INFO_FILE}. Stop with Ctrl-C.\n"
        )
        err.flush()
        while not stop.wait(0.5):
            pass
    finally:
        starting = False
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
