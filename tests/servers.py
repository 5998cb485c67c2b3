"""Small socket servers for tests that play a misbehaving service or a proxy on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


def serve_connections(listener: socket.socket, handle: Callable[[socket.socket], None]) -> None:
    """Hand every connection `listener` accepts to `handle`, each in a thread of its own, until the
    listener is closed."""

    def accept() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(raw,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
