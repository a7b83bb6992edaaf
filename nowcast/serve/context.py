"""What every request handler shares: settings, the forecast catalog, scores, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NotRequired, TypedDict

import pandas as pd

from nowcast.core import iso_minutes, now_utc
from nowcast.serve.catalog import Catalog, Details, Entry, UnreadableForecast
from nowcast.serve.health import pipeline_jobs, scheduler_state
from nowcast.serve.scores import Scores
from nowcast.settings import Settings

HISTORY = timedelta(hours=8)
HISTORY_FRAMES = 8


class PipelineCard(TypedDict):
    """One pipeline as the overview page and `/api/pipelines/<name>` show it."""

    name: str
    forecasts: int
    newest: dict[str, Any] | None  # the newest forecast's summary
    thumbnail: str | None
    skill: str  # the skill page's path
    scheduler: dict[str, Any]  # state and this pipeline's jobs
    last_error: dict[str, Any] | None
    forecast_list: NotRequired[list[dict[str, Any]]]  # on the pipeline's own page only


@dataclass
class ServeContext:
    """The state of one running app."""

    settings: Settings
    clock: Callable[[], pd.Timestamp] = now_utc
    catalog: Catalog = field(init=False)
    scores: Scores = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = Catalog(
            self.settings.output.forecasts, self.settings.serve.max_forecast_mb * 2**20
        )
        self.scores = Scores(self.settings.output.verification)

    def product(self, entry: Entry, suffix: str, part: str = "") -> str | None:
        """The URL of the rendered product (`png`/`gif`, or a `part` of it such as
        `_probability`) of a forecast, when there is one."""
        name = f"{entry.id}{part}.{suffix}"
        if (self.settings.output.products / entry.pipeline / name).is_file():
            return f"/files/products/{entry.pipeline}/{name}"
        return None

    def summary(self, entry: Entry, now: pd.Timestamp) -> dict[str, Any]:
        """A forecast as cards and lists show it; a file that cannot be read says why in
        `error` and stays in its own card."""
        try:
            details, error = self.catalog.details(entry), None
        except UnreadableForecast as exc:
            details, error = Details("", "", "", "", 0), str(exc)
        return {
            "id": entry.id,
            "pipeline": entry.pipeline,
            "init_time": iso_minutes(entry.init_time),
            "age_minutes": round((now - entry.init_time).total_seconds() / 60),
            "method": details.method,
            "model": details.model,
            "units": details.units,
            "leads": details.leads,
            "error": error,
            "page": f"/forecasts/{entry.id}",
            "api": f"/api/forecasts/{entry.id}",
            "netcdf": f"/files/forecasts/{entry.relative}",
        }

    def card(self, pipeline: str, scheduler: dict[str, Any]) -> PipelineCard | None:
        """One pipeline's overview card; None when the pipeline has no folder."""
        entries = self.catalog.forecasts(pipeline)
        if entries is None:
            return None
        now = self.clock()
        newest = entries[-1] if entries else None
        jobs = pipeline_jobs(scheduler, pipeline)
        errors = [j["last_error"] | {"job": name} for name, j in jobs.items() if j["last_error"]]
        return {
            "name": pipeline,
            "forecasts": len(entries),
            "newest": self.summary(newest, now) if newest else None,
            "thumbnail": (
                (self.product(newest, "png") or f"/frames/{newest.id}/thumbnail.png")
                if newest
                else None
            ),
            "skill": f"/skill/{pipeline}",
            "scheduler": {"state": scheduler["state"], "jobs": jobs},
            "last_error": max(errors, key=lambda e: e["at"]) if errors else None,
        }

    def history(self, entry: Entry) -> list[Entry]:
        """Earlier forecasts of the pipeline within HISTORY of this init (their observations)."""
        entries = self.catalog.forecasts(entry.pipeline) or []
        earlier = [e for e in entries if entry.init_time - HISTORY <= e.init_time < entry.init_time]
        return earlier[-HISTORY_FRAMES:]

    def scheduler(self) -> dict[str, Any]:
        """The scheduler's heartbeat as the API shows it."""
        return scheduler_state(self.settings, self.clock())
