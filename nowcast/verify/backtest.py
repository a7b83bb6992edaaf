"""Hindcasts over a past period, model and baselines at every init time, scored like verify."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from nowcast.core import DataMissingError, iso, short_duration
from nowcast.forecasting import (
    MODEL_ENSEMBLE,
    STEPS,
    EnsembleSpec,
    Forecaster,
    ForecastRequest,
    archive_group,
    baseline_forecaster,
    check_members,
    check_memory,
    choose_forecaster,
    ensemble_mean,
    model_members,
    pixel_km,
    steps_in,
    steps_members,
)
from nowcast.ingest import load_pipeline
from nowcast.models import MotionSpace, described_values
from nowcast.settings import Settings
from nowcast.store import Archive
from nowcast.verify.accumulate import Accumulator
from nowcast.verify.cases import baseline_case, make_case
from nowcast.verify.probabilistic import ProbabilisticAccumulator, write_curves
from nowcast.verify.runner import (
    BASELINE_METHODS,
    CSV_FILE,
    SUMMARY_CSV,
    SUMMARY_TABLE,
    TABLE_FILE,
    VerifyReport,
    events_for,
    score_cases,
    verification_folder,
)
from nowcast.verify.table import ScoreTable

log = logging.getLogger(__name__)


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


def in_training(
    forecaster: Forecaster | None, init: pd.Timestamp, history: pd.Timedelta, horizon: pd.Timedelta
) -> bool:
    """Whether the frames an init time uses (history and horizon) overlap any frames the model
    was trained or validated on."""
    if forecaster is None:
        return False
    return any(init - history < last and init + horizon > first for first, last in forecaster.seen)


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
    include_training: bool = False,
    ensemble: int | None = None,
) -> VerifyReport:
    """Forecast every init in [start, end] with the model (when trained) and the baselines.

    Init times whose history or horizon overlaps the model's training windows are left out
    (`include_training` scores them under the method `model (in training period)`). With
    `ensemble` members, STEPS and the model's ensemble are forecast too: their means scored as
    forecasts, their members with CRPS, reliability, ROC and rank histograms.
    """
    config = load_pipeline(settings, pipeline, source=False)
    archive = Archive.require(settings.archive)
    group = archive_group(archive, config.name)
    series = archive.read(group).load()
    forecaster: Forecaster | None = None
    if with_model:
        forecaster = choose_forecaster(settings, config, ForecastRequest(model=model))
    native = archive.cadence(group)
    history, horizon = config.forecast.history, config.forecast.horizon
    frames_in = steps_in(history, (forecaster.step if forecaster else None) or native, "history")
    if forecaster is not None:
        forecaster.check_window(frames_in, horizon, native)
    reader = forecaster or baseline_forecaster("sprog")
    native_frames = reader.native_frames(frames_in, native)
    span = native_frames * native
    inits = backtest_inits(archive, group, span, horizon, start, end, native)
    # the frames a forecast really reads: with retiming, more than the configured history
    seen = [t for t in inits if in_training(forecaster, t, span, horizon)]
    if seen and not include_training:
        log.warning(
            "%d init time(s) in %s overlap the model's training period; left out "
            "(--include-training scores them, marked)",
            len(seen),
            group,
        )
        inits = [t for t in inits if t not in set(seen)]
    if not inits:
        raise DataMissingError(
            f"no init time between {iso(start)} and {iso(end)} has {short_duration(history)} of"
            f" history and {short_duration(horizon)} of observations in {group} outside the"
            " model's training period"
        )
    steps = steps_in(horizon, native, "horizon")
    leads = pd.timedelta_range(start=native, periods=steps, freq=native)
    stored = described_values(series.attrs, native)
    folder = verification_folder(settings, out)
    table = ScoreTable(folder / TABLE_FILE)
    period = f"{iso(inits[0])}/{iso(inits[-1])}"
    report = VerifyReport(table=table.path, in_training=len(seen), period=period)
    events = events_for(series, thresholds, scales)
    accumulator = Accumulator(group, events, period)
    spec = _ensemble_spec(settings, ensemble, steps, series.shape[1:])
    probable = ProbabilisticAccumulator(
        group, stored.units, stored.cadence, str(series.attrs.get("standard_name", ""))
    )
    space = MotionSpace(stored.units, stored.cadence)
    km = pixel_km(series)
    minutes = [int(lead / pd.Timedelta("1min")) for lead in leads]
    for index, init in enumerate(inits):
        cases = [baseline_case(m, group, init, leads, series, native) for m in BASELINE_METHODS]
        times = pd.date_range(end=init, periods=native_frames, freq=native)
        window = series.sel(time=times).values
        marked = " (in training period)" if init in seen else ""
        predicted = None
        if forecaster is not None:
            predicted = forecaster.forecast(window, times, frames_in, leads, stored, native)
            method = f"model{marked}"
            cases.append(make_case(group, init, method, leads, predicted, series, stored.transform))
        if spec is not None:
            observed = series.sel(time=init + leads).values
            ensembles = {STEPS: steps_members(window, steps, space, spec, km)}
            if predicted is not None:
                ensembles[f"{MODEL_ENSEMBLE}{marked}"] = model_members(
                    predicted, window, space, spec
                )
            for name, members in ensembles.items():
                probable.add(name, minutes, members, observed)
                mean = ensemble_mean(members, stored.units, stored.cadence)
                cases.append(make_case(group, init, name, leads, mean, series, stored.transform))
        score_cases(cases, events, table, report)
        for case in cases:
            accumulator.add(case)
        if progress:
            progress(index + 1, len(inits))
    table.export_csv(folder / CSV_FILE)
    summary = ScoreTable(folder / SUMMARY_TABLE)
    report.units = str(series.attrs.get("units", ""))
    # what one stored value accumulates over: the archive's cadence, not the forecast step
    report.cadence = pd.Timedelta(seconds=float(series.attrs.get("cadence_s", 0))) or native
    report.headline = accumulator.rows(report.units)
    if spec is not None:
        report.probabilistic = probable.rows(period)
        report.curves = write_curves(folder, [probable.curves()], period)
        report.headline += report.probabilistic
    summary.upsert(report.headline)
    report.summary = summary.export_csv(folder / SUMMARY_CSV)
    return report


def _ensemble_spec(
    settings: Settings, members: int | None, steps: int, shape: tuple[int, ...]
) -> EnsembleSpec | None:
    """The backtest's ensembles (None without `--ensemble`), refused before any forecast when
    too small or over the memory bound."""
    if members is None:
        return None
    check_members(members)
    spec = EnsembleSpec(
        members=members, seed=settings.ensemble.seed, max_memory_mb=settings.ensemble.max_memory_mb
    )
    check_memory(spec, steps, int(shape[0]), int(shape[1]))
    return spec
