"""Running the app under uvicorn: on a socket bound first, so "port in use" is one clear line."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import pandas as pd
import uvicorn

from nowcast.core import now_utc
from nowcast.serve.app import create_app
from nowcast.settings import Settings


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free one); OSError when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every keep-alive response waits for the peer's delayed ACK (about 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def make_server(
    settings: Settings,
    token: str | None = None,
    clock: Callable[[], pd.Timestamp] = now_utc,
) -> uvicorn.Server:
    """A uvicorn server for the app, with uvicorn's own logs kept to warnings."""
    config = uvicorn.Config(
        create_app(settings, token=token, clock=clock),
        log_level=logging.WARNING,
        access_log=False,
        server_header=False,
    )
    return uvicorn.Server(config)


def run_server(settings: Settings, sock: socket.socket, token: str | None = None) -> None:
    """Serve on an already bound socket until interrupted."""
    make_server(settings, token).run(sockets=[sock])


class BackgroundServer:
    """The app served from a daemon thread on 127.0.0.1 and a free port (tests, screenshots)."""

    def __init__(
        self,
        settings: Settings,
        token: str | None = None,
        clock: Callable[[], pd.Timestamp] = now_utc,
    ) -> None:
        self.sock = bind_socket("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server(settings, token, clock)
        self.server.config.lifespan = "off"
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        for _ in range(200):  # up to 10 s for the server to start
            if self.server.started:
                return self
            self.thread.join(0.05)
        raise RuntimeError("server did not start within 10 s")

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
