"""Port selection: free ports on 127.0.0.1 and a clear error when a chosen one is taken."""

from __future__ import annotations

import socket
import time

from candleflow.stack.exceptions import PortBusy


def is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(avoid: set[int] | None = None) -> int:
    """A port on 127.0.0.1 that is free right now (and not in `avoid`)."""
    avoid = avoid or set()
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port


def wait_free(port: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `port` to become bindable (a killed server's
    sockets can hold it for a moment)."""
    deadline = time.monotonic() + timeout
    while not is_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def choose(requested: int, previous: int | None, variable: str, avoid: set[int], wait: float = 0.0) -> int:
    """`requested` if set (it must be free, within `wait` seconds); else the previous port
    if still free; else any."""
    if requested:
        if not wait_free(requested, wait):
            raise PortBusy(
                f"port {requested} busy: another program listens on 127.0.0.1:{requested}; "
                f"stop it, or set {variable} to another port (0 picks a free one)"
            )
        return requested
    if previous and previous not in avoid and is_free(previous):
        return previous
    return free_port(avoid)
