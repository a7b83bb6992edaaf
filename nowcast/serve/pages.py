"""The HTML pages: overview cards, a forecast with its slider, skill plots, daily sheets."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from nowcast.core import __version__, iso_minutes
from nowcast.serve.api import ctx, daily_data, forecast_data, pipelines_data, scores_data
from nowcast.serve.catalog import UnreadableForecast
from nowcast.serve.context import ServeContext

BASE = Template((Path(__file__).parent / "templates" / "base.html").read_text(encoding="utf-8"))
STATE_CLASS = {"running": "ok", "stopped": "warn", "silent": "bad", "absent": "muted"}


def page(serve: ServeContext, title: str, body: str, status: int = 200) -> HTMLResponse:
    """A whole page around `body` (already escaped HTML)."""
    html = BASE.substitute(
        title=escape(title),
        body=body,
        revision=escape(serve.catalog.revision()),
        now=escape(iso_minutes(serve.clock())),
        version=escape(__version__),
    )
    return HTMLResponse(html, status_code=status)


def missing(serve: ServeContext, what: str) -> HTMLResponse:
    """A 404 page."""
    return page(serve, "not found", f"<p>No {escape(what)} here.</p>", status=404)


def _age(minutes: int) -> str:
    """`35 min` or `3 h 5 min` or `2 d 4 h`."""
    if minutes < 0:
        return f"in {_age(-minutes)}"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def card_html(card: dict[str, Any]) -> str:
    """One pipeline's card."""
    name = escape(card["name"])
    newest = card["newest"]
    state = card["scheduler"]["state"]
    rows = [("forecasts", str(card["forecasts"]))]
    thumb = ""
    unreadable = ""
    if newest and newest["error"]:
        unreadable = f'<p class="error">newest forecast: {escape(newest["error"])}</p>'
    elif newest:
        rows = [
            (
                "newest init",
                f'<a href="{escape(newest["page"])}">{escape(newest["init_time"])}</a>',
            ),
            ("age", escape(_age(newest["age_minutes"]))),
            ("method", escape(newest["method"] or "-")),
            ("model", escape(newest["model"] or "-")),
            *rows,
        ]
        thumb = (
            f'<a href="{escape(newest["page"])}"><img class="thumb" '
            f'src="{escape(card["thumbnail"])}" alt="{name} newest forecast"></a>'
        )
    jobs = card["scheduler"]["jobs"]
    beats = [j["last_success"]["at"] for j in jobs.values() if j.get("last_success")]
    rows.append(
        (
            "scheduler",
            f'<span class="{STATE_CLASS.get(state, "")}">{escape(state)}</span>'
            + (f", last ok {escape(max(beats))}" if beats else ""),
        )
    )
    error = card["last_error"]
    error_html = (
        f'<p class="error">last error: {escape(error["job"])} {escape(error["at"])}: '
        f"{escape(error['summary'])}</p>"
        if error
        else ""
    )
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    links = f'<a href="{escape(card["skill"])}">skill</a>'
    if newest:
        links += f' · <a href="{escape(newest["netcdf"])}">NetCDF</a>'
    return (
        f'<section class="card" data-pipeline="{name}"><h2>{name}</h2>{thumb}'
        f"<dl>{dl}</dl>{unreadable}{error_html}<p>{links}</p></section>"
    )


def overview(request: Request) -> HTMLResponse:
    """`/`: one card per pipeline and the scheduler's state."""
    serve = ctx(request)
    data = pipelines_data(serve)
    sched = data["scheduler"]
    state = sched["state"]
    line = f'scheduler: <span class="{STATE_CLASS.get(state, "")}">{escape(state)}</span>'
    if sched.get("alive_at"):
        line += f", last beat {escape(sched['alive_at'])}"
    if sched.get("last_error"):
        err = sched["last_error"]
        line += (
            f'<span class="error">last error: {escape(err["job"])} {escape(err["at"])}: '
            f"{escape(err['message'])}</span>"
        )
    cards = "".join(card_html(card) for card in data["pipelines"])
    if not cards:
        cards = "<p>No forecasts yet (run <code>nowcast forecast</code>).</p>"
    return page(serve, "pipelines", f'<p id="scheduler">{line}</p><div class="cards">{cards}</div>')


def forecast_page(request: Request) -> HTMLResponse:
    """`/forecasts/{id}`: history and forecast frames on the map, slider, play, colour scale."""
    serve = ctx(request)
    entry = serve.catalog.find(request.path_params["id"])
    if entry is None:
        return missing(serve, "forecast " + request.path_params["id"])
    try:
        data = forecast_data(serve, entry)
    except UnreadableForecast as exc:
        body = f'<p class="error">{escape(str(exc))}</p>'
        return page(serve, f"forecast {entry.id}", body, status=422)
    frames = json.dumps(data["frames"]).replace("</", "<\\/")
    start = next(i for i, f in enumerate(data["frames"]) if f["kind"] == "forecast")
    links = [f'<a href="{escape(data["netcdf"])}">NetCDF</a>']
    for fmt in ("png", "gif"):
        if data["products"][fmt]:
            links.append(f'<a href="{escape(data["products"][fmt])}">{fmt.upper()} product</a>')
    if data["products"]["probability"]:
        links.append(f'<a href="{escape(data["products"]["probability"])}">probability maps</a>')
    links.append(f'<a href="/skill/{escape(entry.pipeline)}">skill</a>')
    links.append(f'<a href="/api/forecasts/{escape(entry.id)}">JSON</a>')
    for key, text in (("previous", "← older"), ("next", "newer →")):
        if data[key]:
            links.append(f'<a href="/forecasts/{escape(data[key])}">{text}</a>')
    body = (
        f"<p>{escape(entry.pipeline)} · init {escape(data['init_time'])} · "
        f"{escape(data['method'] or '-')} · {escape(data['model'] or '-')} · "
        f"{len(data['frames']) - start} leads</p>"
        '<div class="viewer">'
        f'<div class="controls">{_view_switch(data)}<button id="play" type="button">▶ play</button>'
        f'<input id="slider" type="range" min="0" max="{len(data["frames"]) - 1}" '
        f'value="{start}" data-start="{start}" aria-label="lead time">'
        '<span id="frame-label"></span></div>'
        f'<img id="frame" src="{escape(data["frames"][start]["url"])}" alt="forecast frame">'
        f'<img id="colorbar" src="{escape(data["colour_scale"]["image"])}" '
        f'data-forecast="{escape(data["colour_scale"]["image"])}" '
        f'data-probability="{escape(data["probability_scale"] or "")}" '
        f'alt="colour scale: {escape(data["colour_scale"]["label"])}">'
        f'<p id="units">{escape(data["colour_scale"]["label"])}</p></div>'
        f"<p>{' · '.join(links)}</p>"
        f'<script type="application/json" id="frames">{frames}</script>'
    )
    return page(serve, f"forecast {entry.id}", body)


def _view_switch(data: dict[str, Any]) -> str:
    """The ensemble's view menu (mean, probabilities, members); empty for one forecast."""
    if not data["views"]:
        return ""
    options = "".join(
        f'<option value="{escape(v["key"])}" data-scale="{escape(v["scale"])}">'
        f"{escape(v['label'])}</option>"
        for v in data["views"]
    )
    return f'<select id="view" aria-label="ensemble view">{options}</select>'


def skill_page(request: Request) -> HTMLResponse:
    """`/skill/{pipeline}`: each stored score against lead time, model vs baselines."""
    serve = ctx(request)
    name = request.path_params["name"]
    if serve.catalog.forecasts(name) is None and not serve.scores.keys(name):
        return missing(serve, "pipeline " + name)
    data = scores_data(serve, name)
    ensemble = "".join(
        f'<section class="ensemble"><h2>{escape(plot["key"])}</h2>'
        f'<img src="{escape(plot["url"])}" alt="ensemble {escape(plot["key"])}"></section>'
        for plot in data["ensemble_plots"]
    )
    if not data["plots"]:
        body = "<p>No scores yet: run <code>nowcast verify</code> or <code>--backtest</code>.</p>"
        return page(serve, f"skill: {name}", body)
    sections = []
    for plot in data["plots"]:
        methods = data["scores"][plot["key"]]
        leads = sorted({row["lead_minutes"] for rows in methods.values() for row in rows})
        head = "".join(f"<th>{escape(m)}</th>" for m in methods)
        lines = []
        for lead in leads:
            cells = []
            for rows in methods.values():
                value = next((r["mean"] for r in rows if r["lead_minutes"] == lead), None)
                cells.append(f"<td>{value:.4g}</td>" if value is not None else "<td>-</td>")
            lines.append(f"<tr><td>{lead}</td>{''.join(cells)}</tr>")
        sections.append(
            f"<section><h2>{escape(plot['key'])}</h2>"
            f'<img src="{escape(plot["url"])}" alt="{escape(plot["key"])} by lead time">'
            f"<table><tr><th>lead (min)</th>{head}</tr>{''.join(lines)}</table></section>"
        )
    body = f'<div class="plots">{"".join(sections)}{ensemble}</div>'
    return page(serve, f"skill: {name}", body)


def daily_page(request: Request) -> HTMLResponse:
    """`/daily`: the daily sheets, newest day first."""
    serve = ctx(request)
    days = daily_data(serve)["days"]
    if not days:
        return page(serve, "daily sheets", "<p>No daily sheets yet (`nowcast render --daily`).</p>")
    items = "".join(
        f'<section><h2><a href="{escape(d["index"])}">{escape(d["day"])}</a></h2>'
        + "".join(
            f'<a href="{escape(s)}"><img src="{escape(s)}" width="420" alt=""></a>'
            for s in d["sheets"]
        )
        + "</section>"
        for d in days
    )
    return page(serve, "daily sheets", items)


ROUTES = [
    Route("/", overview),
    Route("/forecasts/{id}", forecast_page),
    Route("/skill/{name}", skill_page),
    Route("/daily", daily_page),
]
