"""Binary routes: product and forecast files (confined to their folders) and drawn images."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from nowcast.serve.api import ctx, not_found
from nowcast.serve.catalog import Entry
from nowcast.serve.images import colorbar_png, frame_png, thumbnail_png
from nowcast.serve.security import PathRefused, safe_file, valid_name

IMAGES_CACHED = 256
CACHE_CONTROL = "public, max-age=3600"  # a frame of a given file version never changes
MEDIA = {
    ".nc": "application/x-netcdf",
    ".png": "image/png",
    ".gif": "image/gif",
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


class ImageCache:
    """Drawn PNGs keyed by (forecast file, its mtime, which image); a bounded LRU."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, int, str], bytes] = OrderedDict()

    def get(self, entry: Entry, which: str, draw: Callable[[], bytes]) -> bytes:
        key = (entry.id, entry.mtime_ns, which)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        png = draw()
        with self._lock:
            self._items[key] = png
            while len(self._items) > IMAGES_CACHED:
                self._items.popitem(last=False)
        return png


def serve_file(request: Request) -> Response:
    """`/files/{forecasts|products}/<relative path>`: only files inside that folder."""
    settings = ctx(request).settings
    roots = {"forecasts": settings.output.forecasts, "products": settings.output.products}
    root = roots.get(request.path_params["root"])
    if root is None:
        return not_found("folder")
    relative = request.path_params["path"]
    try:
        path = safe_file(root, relative)
    except PathRefused as exc:
        return JSONResponse({"error": f"refused: {exc}"}, status_code=403)
    except OSError:
        return not_found("file")
    return FileResponse(path, media_type=MEDIA[path.suffix.lower()])


def frame_image(request: Request) -> Response:
    """`/frames/{id}/{observation|lead-<i>|colorbar|thumbnail}.png`, drawn once per file."""
    serve = ctx(request)
    entry = serve.catalog.find(request.path_params["id"])
    if entry is None:
        return not_found(f"forecast {request.path_params['id']!r}")
    which = request.path_params["which"]
    ds = serve.catalog.dataset(entry)
    draw: dict[str, Callable[[], bytes]] = {
        "colorbar": lambda: colorbar_png(ds),
        "colorbar-probability": lambda: colorbar_png(ds, probability=True),
        "thumbnail": lambda: thumbnail_png(ds),
    }
    try:
        png = request.app.state.images.get(
            entry, which, draw.get(which) or (lambda: frame_png(ds, which))
        )
    except KeyError:
        return not_found(f"frame {which!r}")
    return Response(png, media_type="image/png", headers={"cache-control": CACHE_CONTROL})


def ensemble_plot(request: Request) -> Response:
    """`/plots/ensemble/{pipeline}/{rank|reliability-<t>|roc-<t>}.png`: the accumulated
    ensemble verification plots of a pipeline."""
    serve = ctx(request)
    name = request.path_params["name"]
    curves = serve.scores.curves(name) if valid_name(name) else None
    kind, _, threshold = request.path_params["which"].partition("-")
    if curves is None:
        return not_found("ensemble scores")
    try:
        png = serve.scores.ensemble_plot(curves, kind, threshold or None)
    except KeyError:
        return not_found("ensemble plot")
    return Response(png, media_type="image/png")


def skill_plot(request: Request) -> Response:
    """`/plots/skill/{pipeline}/{n}.png`: the n-th score of a pipeline against lead time."""
    serve = ctx(request)
    name = request.path_params["name"]
    keys = serve.scores.keys(name) if valid_name(name) else []
    index = request.path_params["index"]
    if index >= len(keys):
        return not_found("score plot")
    return Response(serve.scores.plot(name, keys[index]), media_type="image/png")


ROUTES = [
    Route("/files/{root}/{path:path}", serve_file),
    Route("/frames/{id}/{which}.png", frame_image),
    Route("/plots/skill/{name}/{index:int}.png", skill_plot),
    Route("/plots/ensemble/{name}/{which}.png", ensemble_plot),
]
