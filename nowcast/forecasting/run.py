"""`nowcast forecast` as a function: archive window -> model or baseline -> stored forecast."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from nowcast.core import (
    ConfigError,
    DataMissingError,
    iso,
    parse_duration,
    short_duration,
    use_free_cpus,
    whole_steps,
)
from nowcast.forecasting.ensemble import STEPS, EnsembleSpec, check_members, run_ensemble
from nowcast.forecasting.predict import (
    Forecaster,
    baseline_forecaster,
    model_forecaster,
    run_forecaster,
)
from nowcast.ingest import PipelineConfig, load_pipeline
from nowcast.models import (
    CorruptCheckpointError,
    checkpoint_folder,
    list_presets,
    pretrained_checkpoint,
)
from nowcast.settings import Settings
from nowcast.store import Archive, pipeline_slug, select_history, write_netcdf, write_zarr

log = logging.getLogger(__name__)

FORECAST_STORE = "forecasts.zarr"


@dataclass(frozen=True)
class ForecastRequest:
    """What the user asked for; None means the configured default."""

    pipeline: str | None = None
    since: str | None = None
    at: pd.Timestamp | None = None
    model: str | None = None
    baseline: str | None = None
    device: str | None = None
    fill: str | None = None
    out: Path | None = None
    storm: str | None = None
    ensemble: int | None = None


@dataclass
class ForecastResult:
    """The stored forecast, where it went, and how long the model and the I/O took."""

    dataset: xr.Dataset
    netcdf: Path
    zarr: Path
    model_seconds: float
    io_seconds: float
    products: list[Path] = field(default_factory=list)


def forecasts_folder(settings: Settings, request_out: Path | None = None) -> Path:
    """The folder that holds the NetCDF files and the Zarr forecast store."""
    return request_out or settings.output.forecasts


def archive_group(archive: Archive, pipeline: str, storm: str | None = None) -> str:
    """The archive group to forecast: the pipeline's, or its newest (or named) storm's."""
    groups = archive.groups()
    if storm is not None:
        wanted = f"{pipeline}/{storm}"
        if wanted not in groups:
            raise DataMissingError(f"no storm {storm} in the archive for pipeline {pipeline}")
        return wanted
    if pipeline in groups:
        return pipeline
    storms = [g for g in groups if g.startswith(f"{pipeline}/")]
    if not storms:
        raise DataMissingError(
            f"the archive at {archive.path} holds nothing for pipeline {pipeline} "
            f"(run `nowcast ingest --pipeline {pipeline}` first)"
        )
    return max(storms, key=lambda g: archive.times(g)[-1])


def choose_forecaster(
    settings: Settings, config: PipelineConfig, request: ForecastRequest
) -> Forecaster:
    """The baseline, or the model named by --model or the `model` setting, else the pipeline's.

    A model is a checkpoint folder or a preset name; a preset name means the pipeline's
    trained checkpoint, which must be of that preset. Anything else stops with one line.
    Named by nobody, the pipeline's trained checkpoint is used whatever its preset; without
    one, the shipped checkpoint the pipeline names in `[model] pretrained` (a fresh install).
    """
    if request.baseline == STEPS:
        return baseline_forecaster("sprog")  # STEPS is S-PROG with noise: the same frames
    if request.baseline:
        return baseline_forecaster(request.baseline)
    device = request.device or settings.device
    named = request.model or settings.model
    wanted = named or config.model.preset
    if named and wanted not in list_presets():
        if Path(wanted).exists():
            return model_forecaster(wanted, device, settings.max_model_parameters)
        if "/" in wanted or wanted.startswith("."):
            raise DataMissingError(f"model {wanted}: no checkpoint folder at {wanted}")
        raise ConfigError(
            f"model {wanted!r} is neither a checkpoint folder nor a preset "
            f"(presets: {', '.join(list_presets())})"
        )
    folder = checkpoint_folder(settings, config.name)
    try:
        forecaster = model_forecaster(folder, device, settings.max_model_parameters)
    except CorruptCheckpointError:
        raise
    except DataMissingError:
        if config.model.pretrained and not named:
            log.info("no checkpoint at %s: using shipped %s", folder, config.model.pretrained)
            return model_forecaster(pretrained_checkpoint(config.model.pretrained), device)
        raise DataMissingError(
            f"no trained {wanted} model for pipeline {config.name} at {folder}: train one with "
            f"`nowcast train --pipeline {config.name}`, copy a checkpoint folder there, or "
            "forecast with --baseline persistence|extrapolation|sprog"
        ) from None
    if named and forecaster.name != wanted:
        raise DataMissingError(
            f"model {wanted}: the checkpoint for pipeline {config.name} at {folder} is "
            f"{forecaster.name}; pass --model {forecaster.name} or a checkpoint folder"
        )
    return forecaster


def steps_in(span: pd.Timedelta, step: pd.Timedelta, what: str) -> int:
    """How many `step`s fill `span`; refused unless a whole number, at least one."""
    count = whole_steps(span, step)
    if count is None:
        raise ConfigError(
            f"the {what} of {short_duration(span)} is not a whole number of the "
            f"{short_duration(step)} steps the forecaster works in"
        )
    return count


def ensemble_spec(settings: Settings, request: ForecastRequest) -> EnsembleSpec | None:
    """The ensemble asked for (`--ensemble N`, or STEPS with the configured member count), or
    None for a single forecast; an ensemble of a deterministic baseline is refused."""
    if request.baseline not in (None, STEPS) and request.ensemble is not None:
        raise ConfigError(
            f"--ensemble with --baseline {request.baseline}: ensembles come from the model or "
            "from --baseline steps (pysteps STEPS)"
        )
    if request.ensemble is None and request.baseline != STEPS:
        return None
    members = settings.ensemble.members if request.ensemble is None else request.ensemble
    check_members(members)
    return EnsembleSpec(
        members=members,
        seed=settings.ensemble.seed,
        max_memory_mb=settings.ensemble.max_memory_mb,
        workers=use_free_cpus(),
    )


def run_forecast(settings: Settings, request: ForecastRequest) -> ForecastResult:
    """Read the newest history window, forecast the pipeline's horizon, write NetCDF and Zarr.

    The forecast comes at the archive's cadence; a model reads its history at its own training
    step, brought there from the archive's frames along the motion when the two differ. With
    an ensemble asked for, the file also holds its members and exceedance probabilities.
    """
    spec = ensemble_spec(settings, request)
    config = load_pipeline(settings, request.pipeline or settings.pipelines[0], source=False)
    archive = Archive.require(settings.archive)
    group = archive_group(archive, config.name, request.storm)
    forecaster = choose_forecaster(settings, config, request)
    cadence = archive.cadence(group)
    since = parse_duration(request.since) if request.since else config.forecast.history
    history_frames = steps_in(since, forecaster.step or cadence, "history (--since)")
    steps = steps_in(config.forecast.horizon, cadence, "horizon")
    forecaster.check_window(history_frames, config.forecast.horizon, cadence)
    started = time.perf_counter()
    history = select_history(
        archive.read(group),
        forecaster.native_frames(history_frames, cadence),
        cadence,
        request.at,
        request.fill,
    )
    loaded = time.perf_counter()
    use_free_cpus()
    if spec is None:
        dataset = run_forecaster(forecaster, history, history_frames, steps, cadence, group)
    else:
        dataset = run_ensemble(forecaster, history, history_frames, steps, cadence, group, spec)
    predicted = time.perf_counter()
    folder = forecasts_folder(settings, request.out)
    netcdf = write_netcdf(dataset, folder / pipeline_slug(group))
    zarr_group = write_zarr(dataset, folder / FORECAST_STORE)
    written = time.perf_counter()
    log.info(
        "forecast %s from %s: %d frames of history, %d lead times -> %s",
        group,
        iso(history.init_time),
        history_frames,
        steps,
        netcdf,
    )
    return ForecastResult(
        dataset=dataset,
        netcdf=netcdf,
        zarr=zarr_group,
        model_seconds=predicted - loaded,
        io_seconds=(loaded - started) + (written - predicted),
    )
