"""`render_daily`: each pipeline's summary sheet for one day, and the day's index.html."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from nowcast.core.errors import DataMissingError
from nowcast.core.files import atomic_path
from nowcast.forecasting.files import ForecastFile, iso_minutes, list_forecasts
from nowcast.products.daily_index import SheetEntry, index_html
from nowcast.products.daily_plan import daily_cases
from nowcast.products.daily_sheet import daily_sheet
from nowcast.products.forecast_figure import save_png
from nowcast.products.scores import day_scores
from nowcast.settings.config import Settings

log = logging.getLogger(__name__)

SHEET_DPI = 80


def _by_pipeline(files: list[ForecastFile]) -> dict[str, list[ForecastFile]]:
    """Forecast files grouped by pipeline, each group oldest first."""
    groups: dict[str, list[ForecastFile]] = defaultdict(list)
    for forecast in files:
        groups[forecast.pipeline].append(forecast)
    return dict(sorted(groups.items()))


def render_daily(settings: Settings, day: date, pipelines: Sequence[str] | None = None) -> Path:
    """Write `<products>/daily/<day>/<pipeline>_<day>.png` per pipeline and an index.html."""
    groups = _by_pipeline(list_forecasts(settings.output.forecasts))
    if pipelines is not None:
        groups = {name: files for name, files in groups.items() if name in pipelines}
    out_dir = settings.output.products / "daily" / day.isoformat()
    entries = []
    for pipeline, files in groups.items():
        cases = daily_cases(files, day)
        if not cases:
            continue
        scores = day_scores(settings.output.verification, pipeline, day)
        out_dir.mkdir(parents=True, exist_ok=True)
        sheet = out_dir / f"{pipeline}_{day.isoformat()}.png"
        with atomic_path(sheet) as tmp:
            save_png(daily_sheet(pipeline, day, cases, scores), tmp, dpi=SHEET_DPI)
        log.info("wrote %s", sheet)
        inits = [iso_minutes(case.forecast.init_time) for case in cases]
        entries.append(SheetEntry(pipeline, sheet.name, inits, scores.note))
    if not entries:
        where = settings.output.forecasts
        raise DataMissingError(f"no forecasts initialised on {day.isoformat()} in {where}")
    index = out_dir / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(index_html(day, entries), encoding="utf-8")
    return index
