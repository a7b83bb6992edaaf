"""The scheduler's jobs: plain module-level functions with picklable arguments.

Each job reloads the settings from the config path (and archive override) it was stored with,
does its work, and returns `Outcome`s for the heartbeat. The forecast runs inside the ingest
job, right after frames arrive: a job never adds jobs, so stopping the daemon cannot strand a
forecast between two jobs nor deadlock on the scheduler's locks.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pandas as pd

from nowcast.core import (
    ConfigError,
    DataMissingError,
    error_with_code,
    iso,
    last_complete_day,
    parse_when,
)
from nowcast.forecasting import ForecastRequest, run_forecast
from nowcast.ingest import load_pipeline, run_ingest
from nowcast.models import checkpoint_folder, resolve_checkpoint
from nowcast.products import render_daily, render_forecast
from nowcast.settings import Settings, load_settings
from nowcast.store import Outcome

log = logging.getLogger(__name__)

# Pipeline `model.products` names -> the files `render_forecast` writes for them.
PRODUCT_FORMATS = {"maps": "png", "animation": "gif"}
VERIFY_SINCE = "2d"
SUMMARY_WIDTH = 240


def job_settings(config: str | None, archive: str | None) -> Settings:
    """The settings as the daemon was started with them (re-read, so edits apply next run)."""
    return load_settings(
        Path(config) if config else None, archive=Path(archive) if archive else None
    )


def describe(exc: BaseException) -> str:
    """An exception as one short line for logs and the heartbeat."""
    return textwrap.shorten(f"{type(exc).__name__}: {exc}", SUMMARY_WIDTH)


def product_formats(products: list[str]) -> list[str]:
    """The file formats for a pipeline's products; an unknown name is a ConfigError."""
    unknown = [name for name in products if name not in PRODUCT_FORMATS]
    if unknown:
        raise ConfigError(
            f"unknown product(s) {unknown} in model.products; choose from "
            + ", ".join(PRODUCT_FORMATS)
        )
    return [PRODUCT_FORMATS[name] for name in products]


def forecast_step(settings: Settings, pipeline: str) -> Outcome:
    """Forecast and render one pipeline with its trained model; skip (warning) without one.

    Never falls back to a baseline: a persistence forecast must not pass for model output.
    With `ensemble.scheduled`, the model's ensemble and its probability maps follow.
    """
    job = f"forecast:{pipeline}"
    folder = checkpoint_folder(settings, pipeline)
    try:
        resolve_checkpoint(folder)
    except DataMissingError:
        message = (
            f"no trained model for {pipeline} at {folder}, forecast skipped: train one with "
            f"`nowcast train --pipeline {pipeline}` or copy a checkpoint folder there"
        )
        log.warning(message)
        return Outcome(job, "skipped", message)
    try:
        config = load_pipeline(settings, pipeline, source=False)
        history = f"{int(config.forecast.history.total_seconds())}s"
        result = run_forecast(settings, ForecastRequest(pipeline=pipeline, since=history))
        out = settings.output.products / str(result.dataset.attrs["pipeline"]).replace("/", "-")
        products = render_forecast(result.netcdf, out, product_formats(config.model.products))
        if settings.ensemble.scheduled:
            members = settings.ensemble.members
            request = ForecastRequest(pipeline=pipeline, since=history, ensemble=members)
            ensemble = run_forecast(settings, request)
            products += render_forecast(ensemble.netcdf, out, ["png"])
    except Exception as exc:  # the ingest's outcome must survive a failed forecast
        log.error("forecast %s failed: %s", pipeline, describe(exc))
        log.debug("forecast %s failed", pipeline, exc_info=True)
        return Outcome(job, "error", describe(exc))
    init = iso(pd.Timestamp(result.dataset.forecast_reference_time.values))
    return Outcome(job, "ok", f"init {init}: {result.netcdf.name} and {len(products)} product(s)")


def ingest_job(config: str | None, archive: str | None, pipeline: str) -> list[Outcome]:
    """Ingest one pipeline; when frames were added, forecast and render it."""
    settings = job_settings(config, archive)
    report = run_ingest(settings, [pipeline]).pipelines[0]
    if report.crash_code:  # a broken pipeline is a job error, retried by the scheduler
        raise error_with_code(report.crash_code, report.errors[-1])
    summary = (
        f"fetched {report.fetched}, skipped {report.skipped}, pending {report.pending}, "
        f"rejected {report.rejected}; {report.frames} frames archived"
    )
    if report.errors:
        summary = textwrap.shorten(f"{report.errors[-1]} ({summary})", SUMMARY_WIDTH)
    outcomes = [Outcome(f"ingest:{pipeline}", "error" if report.errors else "ok", summary)]
    if report.fetched:
        outcomes.append(forecast_step(settings, pipeline))
    return outcomes


def verify_job(config: str | None, archive: str | None) -> list[Outcome]:
    """Score the last two days' forecasts not yet scored at every observed lead."""
    # Imported when run: scoring loads its own stack, which the other jobs do not need.
    from nowcast.verify import run_verify

    settings = job_settings(config, archive)
    since = parse_when(VERIFY_SINCE)
    report = run_verify(settings, pipelines=settings.pipelines, since=since, only_new=True)
    return [Outcome("verify", "ok", textwrap.shorten(str(report), SUMMARY_WIDTH))]


def daily_job(config: str | None, archive: str | None) -> list[Outcome]:
    """Render yesterday's (UTC) daily product for the configured pipelines."""
    settings = job_settings(config, archive)
    day = last_complete_day()
    index = render_daily(settings, day, pipelines=settings.pipelines)
    return [Outcome("daily", "ok", f"{day.isoformat()}: {index}")]
