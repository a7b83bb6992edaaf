"""A process-wide stop request: long loops (ingest) end between items once a signal asks."""

from __future__ import annotations

import threading

_requested = threading.Event()


def request_stop() -> None:
    """Ask every long loop in this process to end after its current item."""
    _requested.set()


def clear_stop() -> None:
    """Forget a stop request (a new daemon, or the old one has finished stopping)."""
    _requested.clear()


def stop_requested() -> bool:
    """Whether a stop was asked for."""
    return _requested.is_set()
