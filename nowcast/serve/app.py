"""`create_app`: the read-only Starlette application of `nowcast serve`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from nowcast.core import now_utc
from nowcast.serve import api, files, pages
from nowcast.serve.catalog import UnreadableForecast
from nowcast.serve.context import ServeContext
from nowcast.serve.files import ImageCache
from nowcast.serve.security import EncodedPathGuard, TokenMiddleware
from nowcast.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
READ_ONLY = ("GET", "HEAD")


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "not found"}, status_code=404)


async def _unreadable(request: Request, exc: Exception) -> Response:
    log.warning("%s: %s", request.url.path, exc)
    return JSONResponse({"error": str(exc)}, status_code=422)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "read-only: only GET and HEAD"}, status_code=405)


def create_app(
    settings: Settings,
    token: str | None = None,
    clock: Callable[[], pd.Timestamp] = now_utc,
) -> Starlette:
    """The app over these settings' forecast, product and verification folders.

    With `token`, every request needs `Authorization: Bearer <token>`. `clock` is what "now"
    means for ages and the scheduler's state (tests pass a fixed time).
    """
    middleware = [Middleware(EncodedPathGuard)]
    if token:
        middleware.insert(0, Middleware(TokenMiddleware, token=token))
    app = Starlette(
        routes=[
            *api.ROUTES,
            *pages.ROUTES,
            *files.ROUTES,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=middleware,
        exception_handlers={
            404: _not_found,
            405: _not_allowed,
            UnreadableForecast: _unreadable,
        },
    )
    app.state.serve = ServeContext(settings, clock)
    app.state.images = ImageCache()
    return app
