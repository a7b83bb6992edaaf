"""The forecast file contract as the products read it: names, discovery, loading, times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.errors import ConfigError, DataMissingError
from nowcast.forecast_output import pipeline_slug

FILE_TIME_FORMAT = "%Y%m%dT%H%MZ"
REQUIRED_VARIABLES = ("forecast", "observation")
REQUIRED_COORDS = ("lead_time", "time", "forecast_reference_time", "x", "y")


@dataclass(frozen=True)
class ForecastFile:
    """One forecast file found on disk, with what its name says about it."""

    path: Path
    pipeline: str
    init_time: datetime


def parse_forecast_name(path: Path) -> ForecastFile | None:
    """Read `<pipeline>_<init %Y%m%dT%H%MZ>.nc`; None for any other name."""
    pipeline, _, stamp = path.stem.rpartition("_")
    if path.suffix != ".nc" or not pipeline:
        return None
    try:
        init = datetime.strptime(stamp, FILE_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return ForecastFile(path, pipeline, init)


def list_forecasts(forecasts_dir: Path, pipeline: str | None = None) -> list[ForecastFile]:
    """Forecast files under `<forecasts>/<pipeline>/`, oldest first (all pipelines when None)."""
    pattern = f"{pipeline}/{pipeline}_*.nc" if pipeline else "*/*_*.nc"
    found = (parse_forecast_name(path) for path in forecasts_dir.glob(pattern))
    files = [f for f in found if f is not None and f.path.parent.name == f.pipeline]
    return sorted(files, key=lambda f: (f.init_time, f.pipeline))


def latest_forecast(forecasts_dir: Path, pipeline: str | None = None) -> ForecastFile:
    """The newest forecast by init time, or DataMissingError naming where it looked."""
    files = list_forecasts(forecasts_dir, pipeline)
    if not files:
        where = forecasts_dir / pipeline if pipeline else forecasts_dir
        raise DataMissingError(f"no forecast files in {where} (run `nowcast forecast` first)")
    return files[-1]


def check_forecast(ds: xr.Dataset, source: str) -> None:
    """Raise ConfigError naming what a dataset lacks to be a nowcast forecast."""
    missing = [name for name in REQUIRED_VARIABLES if name not in ds.data_vars]
    missing += [name for name in REQUIRED_COORDS if name not in ds.variables]
    if missing:
        raise ConfigError(f"{source}: not a nowcast forecast (missing {', '.join(missing)})")
    if ds["forecast"].dims != ("lead_time", "y", "x"):
        raise ConfigError(f"{source}: forecast dims {ds['forecast'].dims}, not (lead_time, y, x)")


def open_forecast(path: Path) -> xr.Dataset:
    """Load a forecast file fully into memory and close it, so no file handle stays open."""
    if not path.is_file():
        raise DataMissingError(f"forecast file not found: {path}")
    try:
        with xr.open_dataset(path, engine="netcdf4", decode_timedelta=True) as opened:
            ds = opened.load()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable NetCDF forecast ({exc})") from None
    check_forecast(ds, str(path))
    return ds


def utc(value: np.datetime64 | datetime | pd.Timestamp) -> datetime:
    """A timezone-aware UTC datetime from a numpy, pandas or naive (UTC) datetime."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def init_time(ds: xr.Dataset) -> datetime:
    """The forecast's init (reference) time, UTC."""
    return utc(ds["forecast_reference_time"].values)


def valid_times(ds: xr.Dataset) -> list[datetime]:
    """The valid time of each lead time, UTC."""
    return [utc(value) for value in ds["time"].values]


def lead_times(ds: xr.Dataset) -> list[timedelta]:
    """Each lead time as a timedelta."""
    return [pd.Timedelta(value).to_pytimedelta() for value in ds["lead_time"].values]


def pipeline_name(ds: xr.Dataset) -> str:
    """The pipeline that made the forecast (global attribute `pipeline`)."""
    return str(ds.attrs.get("pipeline") or "forecast")


def product_stem(ds: xr.Dataset) -> str:
    """Deterministic product file stem, `<pipeline>_<init %Y%m%dT%H%MZ>`, as the forecast's."""
    return f"{pipeline_slug(pipeline_name(ds))}_{init_time(ds).strftime(FILE_TIME_FORMAT)}"


def iso_minutes(moment: datetime) -> str:
    """ISO 8601 UTC to the minute, e.g. `2020-10-31T10:00Z`."""
    return utc(moment).strftime("%Y-%m-%dT%H:%MZ")


def read_observation(path: Path) -> xr.Dataset:
    """Only the `observation` of a forecast file, with its grid mapping and global attributes."""
    with xr.open_dataset(path, engine="netcdf4", decode_timedelta=True) as opened:
        names = ["observation", *(["crs"] if "crs" in opened.variables else [])]
        return opened[names].load()
