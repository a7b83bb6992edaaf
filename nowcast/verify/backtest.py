"""Hindcasts over a past period, model and baselines at every init time, scored like verify."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from nowcast.core.errors import DataMissingError
from nowcast.core.timeutil import iso
from nowcast.data.archive import Archive
from nowcast.data.pipeline import load_pipeline
from nowcast.data.transform import from_attrs
from nowcast.forecasting.predict import Forecaster, check_fit
from nowcast.forecasting.run import ForecastRequest, archive_group, choose_forecaster
from nowcast.settings.config import Settings
from nowcast.verify.accumulate import Accumulator
from nowcast.verify.cases import baseline_case, make_case
from nowcast.verify.runner import (
    BASELINE_METHODS,
    CSV_FILE,
    TABLE_FILE,
    VerifyReport,
    events_for,
    score_cases,
    verification_folder,
)
from nowcast.verify.table import ScoreTable

SUMMARY_TABLE = "summary.sqlite"
SUMMARY_CSV = "summary.csv"


def backtest_inits(
    archive: Archive,
    group: str,
    history: pd.Timedelta,
    horizon: pd.Timedelta,
    start: pd.Timestamp,
    end: pd.Timestamp,
    cadence: pd.Timedelta,
) -> list[pd.Timestamp]:
    """Init times in [start, end] with a gap-free history and a fully observed horizon."""
    offset = history - cadence
    inits = [t + offset for t in archive.windows(group, history, horizon, cadence)]
    return [t for t in inits if start <= t <= end]


def run_backtest(
    settings: Settings,
    pipeline: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    model: str | None = None,
    with_model: bool = True,
    thresholds: Sequence[float] | None = None,
    scales: Sequence[int] | None = None,
    out: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Forecast every init in [start, end] with the model (when trained) and the baselines."""
    config = load_pipeline(settings, pipeline)
    archive = Archive(settings.archive)
    if not archive.exists():
        raise DataMissingError(f"no archive yet at {settings.archive} (run `nowcast ingest`)")
    group = archive_group(archive, config.name)
    series = archive.read(group).load()
    forecaster: Forecaster | None = None
    if with_model:
        forecaster = choose_forecaster(settings, config, ForecastRequest(model=model))
    native = archive.cadence(group)
    cadence = (forecaster.step if forecaster else None) or native
    history, horizon = config.forecast.history, config.forecast.horizon
    inits = backtest_inits(archive, group, history, horizon, start, end, cadence)
    if not inits:
        raise DataMissingError(
            f"no init time between {start} and {end} has {history} of history and "
            f"{horizon} of observations in {group}"
        )
    steps = round(horizon / cadence)
    leads = pd.timedelta_range(start=cadence, periods=steps, freq=cadence)
    frames_in = round(history / cadence)
    transform = from_attrs(series.attrs)
    folder = verification_folder(settings, out)
    table = ScoreTable(folder / TABLE_FILE)
    report = VerifyReport(table=table.path)
    events = events_for(series, thresholds, scales)
    period = f"{iso(inits[0])}/{iso(inits[-1])}"
    accumulator = Accumulator(group, events, period)
    for index, init in enumerate(inits):
        cases = [baseline_case(m, group, init, leads, series, native) for m in BASELINE_METHODS]
        if forecaster is not None:
            window = series.sel(time=pd.date_range(end=init, periods=frames_in, freq=cadence))
            check_fit(forecaster, frames_in, steps)
            predicted = forecaster.predict(window.values, steps, transform)
            cases.append(make_case(group, init, "model", leads, predicted, series, transform))
        score_cases(cases, events, table, report)
        for case in cases:
            accumulator.add(case)
        if progress:
            progress(index + 1, len(inits))
    table.export_csv(folder / CSV_FILE)
    summary = ScoreTable(folder / SUMMARY_TABLE)
    summary.upsert(accumulator.rows(str(series.attrs.get("units", ""))))
    report.summary = summary.export_csv(folder / SUMMARY_CSV)
    return report
