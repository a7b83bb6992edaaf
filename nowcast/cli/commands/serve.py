"""`nowcast serve`: the forecaster's live page (read-only) on a local port."""

from __future__ import annotations

import os

import typer

from nowcast.cli.state import app_state
from nowcast.core import ConfigError


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="TCP port to listen on."),
) -> None:
    """Serve the overview, forecast, skill and daily pages and their JSON API (read-only).

    Set NOWCAST_SERVE_TOKEN to require `Authorization: Bearer <token>` on every request.
    """
    from nowcast.serve import TOKEN_ENV, bind_socket, bind_warning, run_server

    settings = app_state(ctx).settings
    token = os.environ.get(TOKEN_ENV) or None
    warning = bind_warning(host, token)
    if warning:
        typer.echo(warning, err=True)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        reason = "already in use" if exc.errno in (98, 48, 10048) else exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
    typer.echo(f"serving http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    run_server(settings, sock, token)
