"""Leave-one-day-out cross-validation: train on every day but one, backtest that one, in turn.

A day is a run of an archive group's frames with no gap longer than `DAY_GAP` (two MeteoSwiss
days in one group are two days). Each fold trains the same recipe with that day's frames
excluded, then backtests the whole day against persistence, extrapolation and S-PROG; the
table gives RMSE (mm/h) and CSI at 1 and 5 mm/h per day and lead, and the mean over days.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from nowcast.core import DataMissingError, iso, write_text_atomic
from nowcast.ingest import load_pipeline
from nowcast.settings import Settings
from nowcast.store import Archive
from nowcast.training import TrainRequest, run_train
from nowcast.verify.backtest import run_backtest
from nowcast.verify.headlines import rate_factor

log = logging.getLogger(__name__)

DAY_GAP = pd.Timedelta("6h")
THRESHOLDS = ("1mm/h", "5mm/h")
LEADS_SHOWN = (30, 60)
METHODS = ("model", "persistence", "extrapolation", "sprog")
CSV_FILE = "crossval.csv"
CROSSVAL_TABLE_FILE = "crossval.md"


@dataclass(frozen=True)
class Day:
    """One held-out unit: a pipeline's frames from `first` to `last`."""

    pipeline: str
    first: pd.Timestamp
    last: pd.Timestamp

    @property
    def label(self) -> str:
        """`pipeline first-day`, e.g. `mch-radar 2015-05-15`."""
        return f"{self.pipeline} {self.first:%Y-%m-%d}"


def archive_days(archive: Archive, pipeline: str) -> list[Day]:
    """The pipeline group's runs of frames separated by more than `DAY_GAP`."""
    if pipeline not in archive.groups():
        raise DataMissingError(f"the archive holds nothing for pipeline {pipeline}")
    times = archive.times(pipeline)
    breaks = [0, *[i for i in range(1, len(times)) if times[i] - times[i - 1] > DAY_GAP]]
    ends = [*breaks[1:], len(times)]
    return [Day(pipeline, times[a], times[b - 1]) for a, b in zip(breaks, ends, strict=True)]


def run_crossval(
    settings: Settings,
    pipelines: Sequence[str],
    template: TrainRequest,
    out: Path,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Every fold trained and scored; returns (and writes) the per-day, per-lead table."""
    archive = Archive.require(settings.archive)
    days = [day for pipeline in pipelines for day in archive_days(archive, pipeline)]
    if len(days) < 2:
        raise DataMissingError("cross-validation needs at least two days in the archive")
    rows = []
    for number, day in enumerate(days, start=1):
        if progress:
            progress(f"fold {number}/{len(days)}: {day.label} held out")
        rows += _fold(settings, archive, pipelines, days, day, template, out)
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / CSV_FILE, index=False)
    write_text_atomic(out / CROSSVAL_TABLE_FILE, markdown_table(table))
    return table


def _fold(
    settings: Settings,
    archive: Archive,
    pipelines: Sequence[str],
    days: Sequence[Day],
    held: Day,
    template: TrainRequest,
    out: Path,
) -> list[dict[str, object]]:
    """Train without `held`, backtest `held`; rows of (day, method, lead, score, value)."""
    folder = out / f"{held.pipeline}-{held.first:%Y%m%d}"
    trained_on = [p for p in pipelines if any(d.pipeline == p and d != held for d in days)]
    request = replace(
        template,
        pipeline=trained_on[0],
        also=tuple(trained_on[1:]),
        out=folder / "train",
        exclude=((held.first, held.last),),
        progress=False,
    )
    result = run_train(settings, request)
    config = load_pipeline(settings, held.pipeline, source=False)
    start = held.first + config.forecast.history
    report = run_backtest(
        settings,
        held.pipeline,
        start,
        held.last,
        model=str(result.checkpoint),
        thresholds=list(THRESHOLDS),
        scales=[1],
        out=folder / "backtest",
    )
    factor, _ = rate_factor(report.units, report.cadence)
    thresholds = sorted({r.threshold for r in report.headline if r.threshold is not None})
    labels = dict(zip(thresholds, THRESHOLDS, strict=True))
    rows = []
    for row in report.headline:
        if row.value is None or (row.score, row.threshold is None) not in (
            ("RMSE", True),
            ("CSI", False),
        ):
            continue
        name = "RMSE" if row.score == "RMSE" else f"CSI {labels.get(row.threshold, row.threshold)}"
        value = row.value * factor if row.score == "RMSE" else row.value
        rows.append(
            {
                "day": held.label,
                "period": f"{iso(start)}/{iso(held.last)}",
                "method": row.method,
                "lead": row.lead_time,
                "score": name,
                "value": value,
            }
        )
    return rows


def markdown_table(table: pd.DataFrame) -> str:
    """Per day and the mean over days: RMSE (mm/h) / CSI 1 mm/h / CSI 5 mm/h per method, at
    the leads shown."""
    scores = ("RMSE", *(f"CSI {t}" for t in THRESHOLDS))
    lines = [
        "| day | lead | " + " | ".join(METHODS) + " |",
        "|---|---|" + "---|" * len(METHODS),
    ]
    days = [*dict.fromkeys(table["day"]), "mean"]
    for day in days:
        chosen = table if day == "mean" else table[table["day"] == day]
        for lead in LEADS_SHOWN:
            at = chosen[chosen["lead"] == lead]
            cells = []
            for method in METHODS:
                values = [
                    at[(at["method"] == method) & (at["score"] == score)]["value"].mean()
                    for score in scores
                ]
                cells.append(" / ".join("-" if pd.isna(v) else f"{v:.3f}" for v in values))
            lines.append(f"| {day} | +{lead} min | " + " | ".join(cells) + " |")
    legend = "RMSE (mm/h) / CSI 1 mm/h / CSI 5 mm/h; the mean is over days (each day weighs one)."
    return "\n".join([*lines, "", legend]) + "\n"
