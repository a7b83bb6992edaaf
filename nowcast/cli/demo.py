"""`nowcast demo`: the whole chain on the built-in synthetic typhoon (or the real BOM day)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nowcast.core import DataMissingError, NowcastError
from nowcast.forecasting import ForecastRequest, ForecastResult, run_forecast
from nowcast.ingest import IngestReport, run_ingest
from nowcast.models import checkpoint_folder
from nowcast.products import render_forecast
from nowcast.settings import Settings
from nowcast.training import TrainRequest, TrainResult, run_train
from nowcast.verify import run_backtest, write_report

BOM_DAY = (pd.Timestamp("2020-10-31T00:00"), pd.Timestamp("2020-10-31T23:50"))
BOM_DIR_VARIABLE = "NOWCAST_BOM_DIR"
# The synthetic storm's fixed demo period: four days ending while a storm is near its peak,
# so every run, on any date, ingests, trains, forecasts and scores the same frames.
SYNTHETIC_PERIOD = (pd.Timestamp("2024-09-01T06:00"), pd.Timestamp("2024-09-05T06:00"))


@dataclass(frozen=True)
class DemoPlan:
    """What one demo run does: which pipeline, how long to train, which period to backtest."""

    pipeline: str
    iterations: int
    batch_size: int
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    backtest_hours: int = 12


@dataclass
class DemoResult:
    """Every artefact the demo leaves, for the summary."""

    settings: Settings
    ingest: IngestReport
    train: TrainResult | None
    forecast: ForecastResult
    products: list[Path] = field(default_factory=list)
    report: Path | None = None
    table: Path | None = None
    summary: Path | None = None


def demo_plan(real: str | None, quick: bool, up_to_now: bool = False) -> DemoPlan:
    """The synthetic typhoon by default; `bom` for the real radar day (30 min in, 1 h out).

    The synthetic demo covers `SYNTHETIC_PERIOD`; `up_to_now` takes the pipeline's usual
    "since the last run, up to now" instead, the only part of the demo that reads the clock.
    """
    if real is None:
        since, until = (None, None) if up_to_now else SYNTHETIC_PERIOD
        return DemoPlan(
            "demo",
            iterations=8 if quick else 200,
            batch_size=2 if quick else 8,
            since=since,
            until=until,
        )
    if real == "bom":
        return DemoPlan(
            "bom-radar",
            iterations=8 if quick else 200,
            batch_size=2 if quick else 8,
            since=BOM_DAY[0],
            until=BOM_DAY[1],
        )
    raise NowcastError(f"--real accepts bom only, not {real!r}")


def demo_settings(base: Settings, out: Path) -> Settings:
    """Settings whose archive and outputs all live under the demo folder."""
    output = base.output.model_copy(
        update={
            "forecasts": out / "forecasts",
            "products": out / "products",
            "verification": out / "verification",
            "checkpoints": out / "checkpoints",
        }
    )
    return base.model_copy(update={"archive": out / "archive.zarr", "output": output})


@contextmanager
def _source_folder(data: Path | None) -> Iterator[None]:
    """`--data` as the BOM pipeline's folder for the ingest alone, then the caller's value back."""
    if data is None:
        yield
        return
    before = os.environ.get(BOM_DIR_VARIABLE)
    os.environ[BOM_DIR_VARIABLE] = str(data)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(BOM_DIR_VARIABLE, None)
        else:
            os.environ[BOM_DIR_VARIABLE] = before


def run_demo(
    base: Settings,
    out: Path,
    quick: bool = False,
    real: str | None = None,
    data: Path | None = None,
    retrain: bool = False,
    up_to_now: bool = False,
) -> DemoResult:
    """Ingest, train (unless a checkpoint is there), forecast, render and backtest, under `out`."""
    plan = demo_plan(real, quick, up_to_now)
    settings = demo_settings(base, out)
    with _source_folder(data):
        ingest = run_ingest(settings, [plan.pipeline], since=plan.since, until=plan.until)
    if ingest.exit_code:
        raise DataMissingError(f"demo ingest of {plan.pipeline} failed; see the log above")
    trained: TrainResult | None = None
    if retrain or not (checkpoint_folder(settings, plan.pipeline) / "best").exists():
        request = TrainRequest(
            pipeline=plan.pipeline,
            iterations=plan.iterations,
            batch_size=plan.batch_size,
            every=max(plan.iterations // 4, 1),
            patience=None,
        )
        trained = run_train(settings, request)
    forecast = run_forecast(settings, ForecastRequest(pipeline=plan.pipeline))
    folder = settings.output.products / plan.pipeline
    products = render_forecast(forecast.netcdf, folder, ("png", "gif"))
    end = pd.Timestamp(forecast.dataset.forecast_reference_time.values)
    horizon_end = end - pd.Timedelta(forecast.dataset.lead_time.values[-1])
    start = horizon_end - pd.Timedelta(hours=2 if quick else plan.backtest_hours)
    # one real day leaves no init outside the training windows: score them, marked as such
    in_training = real is not None
    scores = run_backtest(settings, plan.pipeline, start, horizon_end, include_training=in_training)
    report = write_report(scores.table.parent, plan.pipeline, scores.period)
    return DemoResult(
        settings, ingest, trained, forecast, products, report, scores.table, scores.summary
    )
