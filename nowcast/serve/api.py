"""The JSON API behind the pages: status, pipelines, forecasts, scores, daily sheets."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nowcast.core import __version__, iso_minutes
from nowcast.serve.catalog import Entry
from nowcast.serve.context import ServeContext
from nowcast.serve.images import style_label
from nowcast.store import is_ensemble, lead_times, probability_label, valid_times


def ctx(request: Request) -> ServeContext:
    """The app's shared state."""
    return request.app.state.serve


def not_found(what: str) -> JSONResponse:
    """A 404 with a JSON error naming what was not found."""
    return JSONResponse({"error": f"unknown {what}"}, status_code=404)


def status_data(serve: ServeContext) -> dict[str, Any]:
    """Version, time, revision, pipelines and the scheduler's state."""
    names = serve.catalog.pipelines()
    return {
        "version": __version__,
        "now": iso_minutes(serve.clock()),
        "revision": serve.catalog.revision(),
        "pipelines": names,
        "forecasts": sum(len(serve.catalog.forecasts(n) or []) for n in names),
        "scheduler": serve.scheduler(),
    }


def pipelines_data(serve: ServeContext) -> dict[str, Any]:
    """One card per pipeline, plus the revision the page polls."""
    scheduler = serve.scheduler()
    cards = [serve.card(name, scheduler) for name in serve.catalog.pipelines()]
    return {
        "now": iso_minutes(serve.clock()),
        "revision": serve.catalog.revision(),
        "scheduler": {k: scheduler.get(k) for k in ("state", "alive_at", "last_error")},
        "pipelines": [card for card in cards if card is not None],
    }


def forecast_data(serve: ServeContext, entry: Entry) -> dict[str, Any]:
    """A forecast with its observed history and forecast frames, colour scale and files."""
    ds = serve.catalog.dataset(entry)
    frames = [
        {
            "kind": "observed",
            "time": iso_minutes(past.init_time),
            "label": f"observed {iso_minutes(past.init_time)}",
            "url": f"/frames/{past.id}/observation.png",
        }
        for past in serve.history(entry)
    ]
    frames.append(
        {
            "kind": "observed",
            "time": iso_minutes(entry.init_time),
            "label": f"observed {iso_minutes(entry.init_time)} (init)",
            "url": f"/frames/{entry.id}/observation.png",
        }
    )
    views = ensemble_views(ds)
    for index, (lead, valid) in enumerate(zip(lead_times(ds), valid_times(ds), strict=True)):
        minutes = round(lead.total_seconds() / 60)
        frame = {
            "kind": "forecast",
            "lead_minutes": minutes,
            "time": iso_minutes(valid),
            "label": f"+{minutes} min, valid {iso_minutes(valid)}",
            "url": f"/frames/{entry.id}/lead-{index}.png",
        }
        if views:
            frame["views"] = {
                view["key"]: f"/frames/{entry.id}/{view['prefix']}lead-{index}.png"
                for view in views
            }
        frames.append(frame)
    entries = serve.catalog.forecasts(entry.pipeline) or []
    position = entries.index(entry)
    return {
        **serve.summary(entry, serve.clock()),
        "colour_scale": {"label": style_label(ds), "image": f"/frames/{entry.id}/colorbar.png"},
        "frames": frames,
        "products": {
            "png": serve.product(entry, "png"),
            "gif": serve.product(entry, "gif"),
            "probability": serve.product(entry, "png", "_probability"),
        },
        "views": [{k: v for k, v in view.items() if k != "prefix"} for view in views],
        "probability_scale": f"/frames/{entry.id}/colorbar-probability.png" if views else None,
        "previous": entries[position - 1].id if position > 0 else None,
        "next": entries[position + 1].id if position + 1 < len(entries) else None,
    }


def ensemble_views(ds: Any) -> list[dict[str, str]]:
    """What an ensemble's page can show at each lead: the mean, each probability, each member
    (key, label, whether it is a probability, and the frame-name prefix); none otherwise."""
    if not is_ensemble(ds):
        return []
    views = [{"key": "mean", "label": "ensemble mean", "scale": "forecast", "prefix": ""}]
    views += [
        {
            "key": f"probability-{k}",
            "label": probability_label(ds, k),
            "scale": "probability",
            "prefix": f"probability-{k}-",
        }
        for k in range(ds.sizes["threshold"])
    ]
    views += [
        {"key": f"member-{m}", "label": f"member {m}", "scale": "forecast"}
        | {"prefix": f"member-{m}-"}
        for m in range(ds.sizes["realization"])
    ]
    return views


def scores_data(serve: ServeContext, pipeline: str) -> dict[str, Any]:
    """Mean scores per lead for model, persistence and extrapolation, with plot URLs."""
    keys = serve.scores.keys(pipeline)
    return {
        "pipeline": pipeline,
        "scores": serve.scores.table(pipeline),
        "plots": [
            {"key": key, "url": f"/plots/skill/{pipeline}/{index}.png"}
            for index, key in enumerate(keys)
        ],
        "ensemble_plots": ensemble_plots(serve, pipeline),
    }


def ensemble_plots(serve: ServeContext, pipeline: str) -> list[dict[str, str]]:
    """The rank histogram and each threshold's reliability diagram and ROC curve of the
    pipeline's ensembles, as verify last accumulated them."""
    curves = serve.scores.curves(pipeline)
    if curves is None:
        return []
    units = curves.get("units", "")
    plots = [{"key": "rank histogram", "url": f"/plots/ensemble/{pipeline}/rank.png"}]
    for threshold in (f"{t:g}" for t in curves["thresholds"]):
        for kind, name in (("reliability", "reliability"), ("roc", "ROC")):
            plots.append(
                {
                    "key": f"{name} @ {threshold} {units}",
                    "url": f"/plots/ensemble/{pipeline}/{kind}-{threshold}.png",
                }
            )
    return plots


def daily_data(serve: ServeContext) -> dict[str, Any]:
    """The daily sheets: one entry per day folder with an index.html, newest first."""
    root = serve.settings.output.products / "daily"
    days = []
    if root.is_dir():
        for folder in sorted(root.iterdir(), reverse=True):
            if folder.is_dir() and (folder / "index.html").is_file():
                sheets = sorted(p.name for p in folder.glob("*.png"))
                days.append(
                    {
                        "day": folder.name,
                        "index": f"/files/products/daily/{folder.name}/index.html",
                        "sheets": [f"/files/products/daily/{folder.name}/{s}" for s in sheets],
                    }
                )
    return {"days": days}


def api_status(request: Request) -> JSONResponse:
    return JSONResponse(status_data(ctx(request)))


async def api_revision(request: Request) -> JSONResponse:
    return JSONResponse({"revision": ctx(request).catalog.revision()})


def api_pipelines(request: Request) -> JSONResponse:
    return JSONResponse(pipelines_data(ctx(request)))


def api_pipeline(request: Request) -> JSONResponse:
    serve = ctx(request)
    name = request.path_params["name"]
    card = serve.card(name, serve.scheduler())
    if card is None:
        return not_found(f"pipeline {name!r}")
    entries = serve.catalog.forecasts(name) or []
    card["forecast_list"] = [
        {"id": e.id, "init_time": iso_minutes(e.init_time), "page": f"/forecasts/{e.id}"}
        for e in reversed(entries)
    ]
    return JSONResponse(card)


def api_forecast(request: Request) -> JSONResponse:
    serve = ctx(request)
    entry = serve.catalog.find(request.path_params["id"])
    if entry is None:
        return not_found(f"forecast {request.path_params['id']!r}")
    return JSONResponse(forecast_data(serve, entry))


def api_scores(request: Request) -> JSONResponse:
    serve = ctx(request)
    name = request.path_params["name"]
    if serve.catalog.forecasts(name) is None and not serve.scores.keys(name):
        return not_found(f"pipeline {name!r}")
    return JSONResponse(scores_data(serve, name))


def api_daily(request: Request) -> JSONResponse:
    return JSONResponse(daily_data(ctx(request)))


ROUTES = [
    Route("/api/status", api_status),
    Route("/api/revision", api_revision),
    Route("/api/pipelines", api_pipelines),
    Route("/api/pipelines/{name}", api_pipeline),
    Route("/api/forecasts/{id}", api_forecast),
    Route("/api/scores/{name}", api_scores),
    Route("/api/daily", api_daily),
]
