"""A total deadline for blocking HTTP reads: at the fetch's deadline, shut its sockets down.

Socket timeouts bound each read, not their sum: a server that drips its status line and
headers a byte at a time never trips them. Connections made through `WatchedAdapter` register
their socket with the fetch in progress (`watch`); a timer shuts those sockets down when the
deadline passes, so the blocked read returns at once and the fetch fails instead of hanging.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager


class WatchedFetch:
    """The sockets one fetch reads from; `expire` shuts them all down (from the timer thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False

    def add(self, sock: socket.socket | None) -> None:
        """Watch `sock`; one added after the deadline is shut down at once."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def expire(self) -> None:
        """Mark the fetch late and shut down every socket it reads from."""
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


_CURRENT: ContextVar[WatchedFetch | None] = ContextVar("nowcast_http_fetch", default=None)


def _shut(sock: socket.socket) -> None:
    """Shut a socket down for both directions; one already closed is left as it is."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return


@contextmanager
def watch(deadline: float) -> Iterator[WatchedFetch]:
    """Run the requests made inside under a monotonic `deadline` (sockets shut when it passes)."""
    fetch = WatchedFetch()
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), fetch.expire)
    timer.daemon = True
    token = _CURRENT.set(fetch)
    timer.start()
    try:
        yield fetch
    finally:
        timer.cancel()
        _CURRENT.reset(token)


class _RegistersSocket:
    """Mixin for urllib3 connections: the fetch in progress watches the socket while it waits."""

    sock: socket.socket | None

    def getresponse(self) -> Any:  # noqa: ANN401 - urllib3's own return type
        """Register the socket with the current fetch, then read the answer."""
        fetch = _CURRENT.get()
        if fetch is not None:
            fetch.add(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _WatchedHTTPConnection(_RegistersSocket, HTTPConnection):
    """An HTTP connection under `watch`."""


class _WatchedHTTPSConnection(_RegistersSocket, HTTPSConnection):
    """An HTTPS connection under `watch`."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct and through a proxy) obey `watch`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """The pool manager, with connection pools that register their sockets."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:  # noqa: ANN401
        """The proxy manager for `proxy`, with the same watched pools."""
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager
