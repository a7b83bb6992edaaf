"""`nowcast verify`: score stored forecasts, and baselines on the same cases, into the table."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.core import ConfigError, iso, utc
from nowcast.settings import Settings
from nowcast.store import (
    Archive,
    from_rain_rate,
    is_ensemble,
    is_rain,
    list_forecasts,
    open_forecast,
)
from nowcast.verify.accumulate import Accumulator
from nowcast.verify.cases import (
    Case,
    EventDefinition,
    baseline_case,
    default_events,
    observed_frames,
    score_case,
    stored_case,
)
from nowcast.verify.probabilistic import ProbabilisticAccumulator, write_curves
from nowcast.verify.table import ScoreRow, ScoreTable

log = logging.getLogger(__name__)

BASELINE_METHODS = ("persistence", "extrapolation", "sprog")
TABLE_FILE = "scores.sqlite"
CSV_FILE = "scores.csv"
SUMMARY_TABLE = "summary.sqlite"
SUMMARY_CSV = "summary.csv"


@dataclass
class VerifyReport:
    """How many forecasts were scored, per method, and where the table is."""

    table: Path
    cases: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    skipped: int = 0
    found: int = 0
    already: int = 0
    summary: Path | None = None
    in_training: int = 0
    period: str | None = None
    headline: list[ScoreRow] = field(default_factory=list)
    units: str = ""
    cadence: pd.Timedelta | None = None
    probabilistic: list[ScoreRow] = field(default_factory=list)
    curves: Path | None = None

    def count(self, case: Case) -> None:
        """Count one scored case under its method."""
        self.cases[case.method] = self.cases.get(case.method, 0) + 1


def events_for(
    series: xr.DataArray,
    thresholds: Sequence[float | str] | None,
    scales: Sequence[int] | None,
) -> EventDefinition:
    """The pipeline variable's default events, with the user's thresholds or scales if given.

    A threshold given as `5mm/h` is a rain rate, turned into the archive's units (mm per its
    cadence, or dBZ); a bare number is in the archive's units already."""
    default = default_events(str(series.attrs.get("standard_name", "")))
    chosen = tuple(_in_archive_units(t, series) for t in thresholds) if thresholds else None
    return EventDefinition(
        thresholds=chosen or default.thresholds,
        below=default.below,
        scales=tuple(scales) if scales else default.scales,
    )


RATE_SUFFIX = "mm/h"


def _in_archive_units(threshold: float | str, series: xr.DataArray) -> float:
    """One threshold in the archive's units (see `events_for`)."""
    if not isinstance(threshold, str):
        return float(threshold)
    text = threshold.strip()
    if not text.endswith(RATE_SUFFIX):
        return float(text)
    units = str(series.attrs.get("units", ""))
    if not is_rain(units):
        raise ConfigError(f"threshold {text}: this archive holds {units or 'no units'}, not rain")
    cadence = pd.Timedelta(seconds=float(series.attrs.get("cadence_s", 0)))
    rate = float(text[: -len(RATE_SUFFIX)])
    return round(float(from_rain_rate(np.array([rate]), units, cadence)[0]), 6)


def verification_folder(settings: Settings, out: Path | None = None) -> Path:
    """Where the score table, CSV export and reports live."""
    return out or settings.output.verification


def score_cases(
    cases: Sequence[Case | None], events: EventDefinition, table: ScoreTable, report: VerifyReport
) -> None:
    """Score each case that has observations and store its rows."""
    for case in cases:
        if case is None:
            continue
        report.rows += table.upsert(score_case(case, events))
        report.count(case)


def observed_leads(dataset: xr.Dataset, series: xr.DataArray) -> set[int]:
    """Lead times (minutes) of a forecast whose valid times the archive has observed."""
    init = pd.Timestamp(dataset.forecast_reference_time.values)
    leads = pd.TimedeltaIndex(dataset.lead_time.values)
    observed = pd.DatetimeIndex(series.time.values)
    return {int(lead / pd.Timedelta(minutes=1)) for lead in leads if init + lead in observed}


def _add_ensemble(
    boards: dict[str, ProbabilisticAccumulator],
    dataset: xr.Dataset,
    series: xr.DataArray,
    native: pd.Timedelta,
) -> None:
    """Accumulate a stored ensemble's members at the lead times observed so far."""
    group = str(dataset.attrs["pipeline"])
    init = pd.Timestamp(dataset.forecast_reference_time.values)
    leads = pd.TimedeltaIndex(dataset.lead_time.values)
    observed, present = observed_frames(series, init + leads)
    if not present:
        return
    cadence = pd.Timedelta(seconds=float(series.attrs.get("cadence_s", 0))) or native
    board = boards.setdefault(
        group,
        ProbabilisticAccumulator(
            group,
            str(series.attrs.get("units", "")),
            cadence,
            str(series.attrs.get("standard_name", "")),
        ),
    )
    minutes = [int(leads[i] / pd.Timedelta("1min")) for i in present]
    members = dataset["members"].transpose("realization", "lead_time", "y", "x").values
    board.add(str(dataset.attrs.get("method", "")), minutes, members[:, present], observed)


def run_verify(
    settings: Settings,
    pipelines: list[str] | None = None,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
    thresholds: Sequence[float] | None = None,
    scales: Sequence[int] | None = None,
    out: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    only_new: bool = False,
) -> VerifyReport:
    """Score the stored forecasts initialised in [since, until] (default: every one in the
    store) whose valid times have observations now. Ensemble files are also scored with
    CRPS, reliability, ROC and rank histograms over all of them in the period (`only_new`
    leaves none out there: those scores are of the period, not per case).

    With `only_new`, a forecast already scored at every observed lead is skipped. Per-case
    rows go to the score table; scores accumulated over all those cases per lead
    (pysteps-style, as the backtest's) go to the summary table.
    """
    archive = Archive.require(settings.archive)
    folder = verification_folder(settings, out)
    table = ScoreTable(folder / TABLE_FILE)
    report = VerifyReport(table=table.path)
    since, until = (utc(t) if t is not None else None for t in (since, until))
    files = [
        f
        for f in list_forecasts(settings.output.forecasts)
        if (since is None or f.init_time >= since) and (until is None or f.init_time <= until)
    ]
    report.found = len(files)
    groups = set(archive.groups())
    series_cache: dict[str, xr.DataArray] = {}
    boards: dict[str, Accumulator] = {}
    ensembles: dict[str, ProbabilisticAccumulator] = {}
    inits: list[pd.Timestamp] = []
    for index, found in enumerate(files):
        dataset = open_forecast(found.path)
        group = str(dataset.attrs["pipeline"])
        pipeline = group.split("/")[0]
        if (pipelines and pipeline not in pipelines) or group not in groups:
            report.skipped += 1
            continue
        series = series_cache.setdefault(group, archive.read(group))
        init = pd.Timestamp(dataset.forecast_reference_time.values)
        method = str(dataset.attrs.get("method", "model"))
        if is_ensemble(dataset):
            _add_ensemble(ensembles, dataset, series, archive.cadence(group))
            inits.append(init)
        if only_new and observed_leads(dataset, series) <= table.scored_leads(
            group, iso(init), method
        ):
            report.already += 1
            continue
        events = events_for(series, thresholds, scales)
        leads = pd.TimedeltaIndex(dataset.lead_time.values)
        case = stored_case(dataset, series)
        # an ensemble's init has its baselines scored with its deterministic forecast
        baselines = [] if is_ensemble(dataset) else [m for m in BASELINE_METHODS if m != method]
        native = archive.cadence(group)
        others = (baseline_case(m, group, init, leads, series, native) for m in baselines)
        cases = [case, *others]
        score_cases(cases, events, table, report)
        board = boards.setdefault(group, Accumulator(group, events, ""))
        for scored in cases:
            board.add(scored)
        if not is_ensemble(dataset):
            inits.append(init)
        if progress:
            progress(index + 1, len(files))
    table.export_csv(folder / CSV_FILE)
    if inits:
        period = report.period = f"{iso(min(inits))}/{iso(max(inits))}"
        summary = ScoreTable(folder / SUMMARY_TABLE)
        for group, board in boards.items():
            board.period = period
            summary.upsert(board.rows(str(series_cache[group].attrs.get("units", ""))))
        for probable in ensembles.values():
            rows = probable.rows(period)
            report.probabilistic += rows
            summary.upsert(rows)
        if ensembles:
            curves = [probable.curves() for probable in ensembles.values()]
            report.curves = write_curves(folder, curves, period)
        report.summary = summary.export_csv(folder / SUMMARY_CSV)
    log.info("verified %d forecast(s): %s", len(files) - report.skipped, report.cases)
    return report
