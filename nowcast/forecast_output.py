"""A forecast as a CF-1.8 dataset, written atomically to NetCDF and to the Zarr forecast store."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nowcast import __version__
from nowcast.grid import GRID_MAPPING, cf_attrs, crs_of
from nowcast.history import History
from nowcast.timeutil import iso
from nowcast.transform import from_attrs

STORM_ATTRS = ("storm_id", "storm_name")
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
    """The predicted frames (lead, y, x) on the model scale -> CF dataset in physical units."""
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
                transform.to_physical(predicted).astype(np.float32),
                variable_attrs,
            ),
            "observation": (
                ("y", "x"),
                transform.to_physical(frames.values[-1]).astype(np.float32),
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


def forecast_stem(dataset: xr.Dataset) -> str:
    """`<pipeline>_<init>`: a file name that sorts by init time and never clashes."""
    init = pd.Timestamp(dataset["forecast_reference_time"].values)
    return f"{pipeline_slug(str(dataset.attrs['pipeline']))}_{init.strftime(STAMP)}"


def _encoding(dataset: xr.Dataset) -> dict[str, dict[str, object]]:
    """Times as int64 since 1970 in UTC, lead time in minutes, compressed fields."""
    since_epoch = {"units": "minutes since 1970-01-01 00:00:00", "dtype": "int64"}
    return {
        "time": dict(since_epoch),
        "forecast_reference_time": dict(since_epoch),
        "lead_time": {"units": "minutes", "dtype": "int32"},
    }


def write_netcdf(dataset: xr.Dataset, folder: Path) -> Path:
    """Write `<folder>/<stem>.nc` through a temporary name, so readers never see half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{forecast_stem(dataset)}.nc"
    partial = folder / f".{final.name}.partial"
    encoding = _encoding(dataset)
    for name in ("forecast", "observation"):
        encoding[name] = {"zlib": True, "complevel": 4}
    try:
        dataset.to_netcdf(partial, engine="netcdf4", encoding=encoding)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final


def write_zarr(dataset: xr.Dataset, store: Path) -> Path:
    """Add the forecast as group `<pipeline>/<init>` of the Zarr forecast store, atomically."""
    group = Path(str(dataset.attrs["pipeline"])) / pd.Timestamp(
        dataset["forecast_reference_time"].values
    ).strftime(STAMP)
    final = store / group
    partial = final.with_name(f".{final.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    _ensure_group_markers(store, group.parent)
    try:
        dataset.to_zarr(partial, mode="w", encoding=_encoding(dataset), consolidated=False)
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def _ensure_group_markers(store: Path, parents: Path) -> None:
    """Mark the store root and each parent folder as Zarr groups so the store opens as a tree."""
    node = store
    for part in ("", *parents.parts):
        node = node / part if part else node
        marker = node / ".zgroup"
        if not marker.exists():
            node.mkdir(parents=True, exist_ok=True)
            marker.write_text('{"zarr_format": 2}')
