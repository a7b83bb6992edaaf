"""The forecast-file contract, in one place: a forecast as a CF-1.8 dataset, its file name,
its atomic writes to NetCDF and the Zarr forecast store, and how files are found and read back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from filelock import FileLock

from nowcast.core import ConfigError, DataMissingError, __version__, atomic_path, iso, utc
from nowcast.store.archive_layout import (
    LOCK_SUFFIX,
    STORM_ATTRS,
    ZARR3,
    ZARR_FORMAT,
    accumulation_cell_methods,
    consolidate,
)
from nowcast.store.grid import GRID_MAPPING, cf_attrs, crs_of
from nowcast.store.history import History
from nowcast.store.transform import from_attrs

STAMP = "%Y%m%dT%H%MZ"


@dataclass(frozen=True)
class ForecastIdentity:
    """What made a forecast: pipeline (archive group), method, model name and checkpoint hash."""

    pipeline: str
    method: str
    model: str
    checkpoint_sha256: str = ""


def forecast_dataset(
    history: History, predicted: np.ndarray, cadence: pd.Timedelta, identity: ForecastIdentity
) -> xr.Dataset:
    """The predicted frames (lead, y, x) in physical units -> CF dataset.

    Forecasts are clipped to the transform's physical range, so no stored value lies
    outside what the model scale can express.
    """
    frames = history.frames
    transform = from_attrs(frames.attrs)
    init = history.init_time
    leads = pd.to_timedelta(np.arange(1, predicted.shape[0] + 1) * cadence.value, unit="ns")
    variable_attrs = {
        key: frames.attrs[key]
        for key in ("units", "standard_name", "long_name")
        if key in frames.attrs
    }
    variable_attrs["grid_mapping"] = GRID_MAPPING
    cell_methods = accumulation_cell_methods(str(frames.attrs.get("units", "")), cadence)
    if cell_methods:
        variable_attrs["cell_methods"] = cell_methods
    coords: dict[str, object] = {
        "lead_time": ("lead_time", leads.values, {"standard_name": "forecast_period"}),
        "time": ("lead_time", (init + leads).values, {"standard_name": "time"}),
        "forecast_reference_time": ((), np.datetime64(init, "ns"), _reference_attrs()),
        "x": frames["x"].variable.copy(),
        "y": frames["y"].variable.copy(),
    }
    for name in ("lat", "lon"):
        if name in frames.coords:
            coords[name] = frames[name].variable.copy()
    dataset = xr.Dataset(
        {
            "forecast": (
                ("lead_time", "y", "x"),
                transform.clip(predicted),
                variable_attrs,
            ),
            "observation": (
                ("y", "x"),
                np.asarray(frames.values[-1], dtype=np.float32),
                {**variable_attrs, "long_name": "last observation at forecast_reference_time"},
            ),
        },
        coords=coords,
        attrs=_global_attrs(history, identity),
    )
    crs = crs_of(frames)
    if crs is not None:
        dataset[GRID_MAPPING] = xr.DataArray(np.int32(0), attrs=dict(cf_attrs(crs)))
    return dataset


@dataclass(frozen=True)
class EnsembleFields:
    """An ensemble's members (member, lead, y, x) in the forecast's units and its exceedance
    probabilities (threshold, lead, y, x) at `thresholds` in `threshold_units`."""

    members: np.ndarray
    probability: np.ndarray
    thresholds: tuple[float, ...]
    threshold_units: str
    threshold_standard_name: str
    relation: str
    perturbation: str


def with_ensemble(dataset: xr.Dataset, fields: EnsembleFields) -> xr.Dataset:
    """The forecast dataset with a `realization` dimension: `members` holds every member,
    `forecast` their mean, and `probability` the share of members at or beyond each threshold.

    The `forecast` variable stays (lead_time, y, x), so every reader of deterministic
    forecasts reads an ensemble file as its mean.
    """
    count = fields.members.shape[0]
    out = dataset.copy()
    attrs = dict(dataset["forecast"].attrs)
    out["forecast"].attrs["long_name"] = f"ensemble mean of {count} members"
    out = out.assign_coords(
        realization=(
            "realization",
            np.arange(count, dtype=np.int32),
            {"standard_name": "realization", "units": "1", "long_name": "ensemble member"},
        ),
        threshold=(
            "threshold",
            np.asarray(fields.thresholds, dtype=np.float32),
            {
                "standard_name": fields.threshold_standard_name,
                "units": fields.threshold_units,
                "long_name": "event threshold of the probabilities",
            },
        ),
    )
    out["members"] = (
        ("realization", "lead_time", "y", "x"),
        np.asarray(fields.members, dtype=np.float32),
        {**attrs, "long_name": "ensemble member forecast"},
    )
    out["probability"] = (
        ("threshold", "lead_time", "y", "x"),
        np.asarray(fields.probability, dtype=np.float32),
        {
            "long_name": f"probability of {fields.threshold_standard_name} "
            f"{fields.relation.replace('_', ' ')} threshold",
            "units": "1",
            "relative_to_threshold": fields.relation,
            "grid_mapping": GRID_MAPPING,
        },
    )
    out.attrs["ensemble_members"] = np.int32(count)
    out.attrs["ensemble_perturbation"] = fields.perturbation
    return out


def is_ensemble(ds: xr.Dataset) -> bool:
    """Whether a forecast dataset holds ensemble members and probabilities."""
    return "members" in ds.data_vars and "probability" in ds.data_vars


def probability_label(ds: xr.Dataset, index: int) -> str:
    """`P(R >= 5 mm/h)` (or `P(T <= 220 K)`) for the `index`-th threshold of an ensemble."""
    threshold = ds["threshold"]
    value = float(threshold.values[index])
    below = ds["probability"].attrs.get("relative_to_threshold", "").startswith("less")
    symbol = "T" if below else "R"
    return f"P({symbol} {'<=' if below else '>='} {value:g} {threshold.attrs.get('units', '')})"


def _reference_attrs() -> dict[str, str]:
    """CF attributes of the scalar init-time coordinate."""
    return {"standard_name": "forecast_reference_time", "long_name": "forecast init time"}


def _global_attrs(history: History, identity: ForecastIdentity) -> dict[str, object]:
    """Provenance a meteorologist or a script reads from the file header."""
    frames = history.frames
    attrs: dict[str, object] = {
        "Conventions": "CF-1.8",
        "title": f"nowcast {identity.method} forecast for {identity.pipeline}",
        "institution": "nowcast",
        "source": f"nowcast {__version__}",
        "pipeline": identity.pipeline,
        "method": identity.method,
        "model": identity.model,
        "checkpoint_sha256": identity.checkpoint_sha256,
        "nowcast_version": __version__,
        "transform": frames.attrs.get("transform", ""),
        "history_frames": int(frames.sizes["time"]),
        "filled_times": " ".join(iso(t) for t in history.filled_times),
        "history": (
            f"nowcast {__version__}: {identity.method} forecast of {identity.pipeline} from "
            f"{int(frames.sizes['time'])} archived frames up to {iso(history.init_time)}"
        ),
    }
    for key in STORM_ATTRS:
        if key in frames.attrs:
            attrs[key] = frames.attrs[key]
    for key, name in (("center_lat", "storm_lat"), ("center_lon", "storm_lon")):
        if key in frames.coords:
            attrs[name] = float(frames[key].values[-1])
    return attrs


def pipeline_slug(group: str) -> str:
    """An archive group as a file or folder name: `digital-typhoon/202224` -> `...-202224`."""
    return group.replace("/", "-")


def method_tag(dataset: xr.Dataset) -> str:
    """The method as a name part: `persistence`, `steps`, `model-<model id>`,
    `model-ensemble-<model id>`, or "" for a dataset that names no method (a file from before
    methods were in names)."""
    method, model = str(dataset.attrs.get("method", "")), str(dataset.attrs.get("model", ""))
    tag = f"{method}-{model}" if method.startswith("model") and model else method
    return re.sub(r"[^A-Za-z0-9.-]+", "-", tag)


def forecast_stem(dataset: xr.Dataset) -> str:
    """`<pipeline>_<init>_<method>`: sorts by init time; model and baselines never clash."""
    init = pd.Timestamp(dataset["forecast_reference_time"].values)
    pipeline = pipeline_slug(str(dataset.attrs["pipeline"]))
    tag = method_tag(dataset)
    return f"{pipeline}_{init.strftime(STAMP)}" + (f"_{tag}" if tag else "")


def _encoding(dataset: xr.Dataset) -> dict[str, dict[str, object]]:
    """Times as int32 minutes since 1970 in UTC and lead time in minutes (types CF lists), and
    no `_FillValue` on coordinate variables (CF forbids one there)."""
    since_epoch = {"units": "minutes since 1970-01-01 00:00:00", "dtype": "int32"}
    encoding: dict[str, dict[str, object]] = {
        "time": dict(since_epoch),
        "forecast_reference_time": dict(since_epoch),
        "lead_time": {"units": "minutes", "dtype": "int32"},
    }
    for name in ("x", "y", "threshold", "realization"):
        if name in dataset.variables:
            encoding[name] = {"_FillValue": None}
    return encoding


def write_netcdf(dataset: xr.Dataset, folder: Path) -> Path:
    """Write `<folder>/<stem>.nc` through a temporary name, so readers never see half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{forecast_stem(dataset)}.nc"
    encoding = _encoding(dataset)
    for name in ("forecast", "observation", "members", "probability"):
        if name in dataset.data_vars:
            encoding[name] = {"zlib": True, "complevel": 4}
    with atomic_path(final) as partial:
        dataset.to_netcdf(partial, engine="netcdf4", encoding=encoding)
    return final


# Each forecast group is written unconsolidated; `consolidate` then covers the whole store.
ZARR_WRITE: dict[str, Any] = {"consolidated": False} | (
    {"zarr_format": ZARR_FORMAT} if ZARR3 else {}
)


def write_zarr(dataset: xr.Dataset, store: Path) -> Path:
    """Add the forecast as group `<pipeline>/<init>_<method>` of the Zarr store, atomically.

    One writer at a time (`<store>.lock` beside it); the store stays Zarr format 2 throughout
    and its consolidated metadata is rewritten after each forecast.
    """
    init = pd.Timestamp(dataset["forecast_reference_time"].values).strftime(STAMP)
    group = Path(str(dataset.attrs["pipeline"])) / "_".join(
        filter(None, (init, method_tag(dataset)))
    )
    final = store / group
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(store.with_name(store.name + LOCK_SUFFIX)):
        _ensure_group_markers(store, group.parent)
        with atomic_path(final) as partial:
            dataset.to_zarr(partial, mode="w", encoding=_encoding(dataset), **ZARR_WRITE)
        consolidate(store)
    return final


def _ensure_group_markers(store: Path, parents: Path) -> None:
    """Mark the store root and each parent folder as Zarr groups so the store opens as a tree."""
    node = store
    for part in ("", *parents.parts):
        node = node / part if part else node
        marker = node / ".zgroup"
        if not marker.exists():
            node.mkdir(parents=True, exist_ok=True)
            marker.write_text(f'{{"zarr_format": {ZARR_FORMAT}}}')


REQUIRED_VARIABLES = ("forecast", "observation")
REQUIRED_COORDS = ("lead_time", "time", "forecast_reference_time", "x", "y")


@dataclass(frozen=True)
class ForecastFile:
    """One forecast file found on disk, with what its name says about it."""

    path: Path
    pipeline: str
    init_time: pd.Timestamp
    method: str = ""


NAME = re.compile(r"^(?P<pipeline>.+)_(?P<stamp>\d{8}T\d{4}Z)(?:_(?P<method>[A-Za-z0-9.-]+))?$")


def parse_forecast_name(path: Path) -> ForecastFile | None:
    """Read `<pipeline>_<init %Y%m%dT%H%MZ>[_<method>].nc`; None for any other name."""
    match = NAME.match(path.stem)
    if path.suffix != ".nc" or match is None:
        return None
    try:
        init = utc(datetime.strptime(match["stamp"], STAMP))
    except ValueError:
        return None
    return ForecastFile(path, match["pipeline"], init, match["method"] or "")


def list_forecasts(forecasts_dir: Path, pipeline: str | None = None) -> list[ForecastFile]:
    """Forecast files under `<forecasts>/<pipeline>/`, oldest first (all pipelines when None)."""
    pattern = f"{pipeline}/{pipeline}_*.nc" if pipeline else "*/*_*.nc"
    found = (parse_forecast_name(path) for path in forecasts_dir.glob(pattern))
    files = [f for f in found if f is not None and f.path.parent.name == f.pipeline]
    return sorted(files, key=lambda f: (f.init_time, f.pipeline, f.method))


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


def init_time(ds: xr.Dataset) -> pd.Timestamp:
    """The forecast's init (reference) time, UTC."""
    return utc(pd.Timestamp(ds["forecast_reference_time"].values))


def valid_times(ds: xr.Dataset) -> list[pd.Timestamp]:
    """The valid time of each lead time, UTC."""
    return [utc(pd.Timestamp(value)) for value in ds["time"].values]


def lead_times(ds: xr.Dataset) -> list[timedelta]:
    """Each lead time as a timedelta."""
    return [pd.Timedelta(value).to_pytimedelta() for value in ds["lead_time"].values]


def pipeline_name(ds: xr.Dataset) -> str:
    """The pipeline that made the forecast (global attribute `pipeline`)."""
    return str(ds.attrs.get("pipeline") or "forecast")


def product_stem(ds: xr.Dataset) -> str:
    """Deterministic product file stem: the forecast file's, `<pipeline>_<init>_<method>`."""
    return forecast_stem(ds)


def read_observation(path: Path) -> xr.Dataset:
    """Only the `observation` of a forecast file, with its grid mapping and global attributes."""
    with xr.open_dataset(path, engine="netcdf4", decode_timedelta=True) as opened:
        names = ["observation", *(["crs"] if "crs" in opened.variables else [])]
        return opened[names].load()
