"""Forecast datasets in the forecast-file contract, built from the real files in shared/data.

The "forecast" at each lead time is the observation shifted a few pixels (persistence-like),
which is enough to exercise every product on each real grid. The builders are cached: treat
the datasets they return as read-only.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from functools import cache
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr
from conftest import shared_data_path, shared_data_root

from nowcast.core.timeutil import utc

DATA = shared_data_root()
BOM_DIR = DATA / "radar" / "bom-prcp-c10-66-20201031"
SAF_DIR = DATA / "satellite" / "saf-crr-20180601"
TYPHOON_DIR = DATA / "typhoon" / "digital-typhoon"
TYPHOON_FILE = TYPHOON_DIR / "2022111112-202224-HMW8-1.h5"
TRACK_STORM = "200801"
TYPHOON_PIXEL_M = 5000.0
LEAD_MINUTES = (60, 120, 180, 240)


def requires(path: Path) -> pytest.MarkDecorator:
    """Skip a test with a clear reason when a real data file or folder is absent."""
    return pytest.mark.skipif(
        not path.exists(), reason=f"test data not found at {path} (set NOWCAST_TEST_DATA)"
    )


def coarsen(values: np.ndarray, factor: int) -> np.ndarray:
    """Block-mean a 2D field by `factor`, trimming edge rows/columns that do not fill a block."""
    if factor == 1:
        return values
    rows, cols = (n // factor * factor for n in values.shape)
    blocks = values[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks (space) stay NaN
        return np.nanmean(blocks, axis=(1, 3))


def centres(first_edge: float, step: float, count: int) -> np.ndarray:
    """Pixel-centre coordinates from the first edge and a (signed) step."""
    return first_edge + step * (np.arange(count) + 0.5)


def shift_east(values: np.ndarray, pixels: int) -> np.ndarray:
    """The field moved `pixels` columns east, the western edge column repeated to fill the gap."""
    pixels = min(pixels, values.shape[1] - 1)
    edge = np.repeat(values[:, :1], pixels, axis=1)
    return np.concatenate([edge, values[:, :-pixels]], axis=1)


def forecast_dataset(
    observation: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    crs: pyproj.CRS,
    init: pd.Timestamp,
    field_attrs: dict[str, str],
    attrs: dict[str, object],
    shift_px: int = 2,
    lead_minutes: tuple[int, ...] = LEAD_MINUTES,
) -> xr.Dataset:
    """A dataset in the forecast-file contract: shifted copies of `observation` as the forecast.

    The field moves `shift_px` pixels east per hour of lead time.
    """
    init64 = utc(init).to_datetime64()
    leads = [np.timedelta64(m, "m").astype("timedelta64[ns]") for m in lead_minutes]
    shifts = [max(1, round(shift_px * m / 60)) for m in lead_minutes]
    frames = np.stack([shift_east(observation, pixels) for pixels in shifts])
    units = "degrees_east" if crs.is_geographic else "m"
    x_name = "longitude" if crs.is_geographic else "projection_x_coordinate"
    y_name = "latitude" if crs.is_geographic else "projection_y_coordinate"
    return xr.Dataset(
        {
            "forecast": (
                ("lead_time", "y", "x"),
                frames.astype("float32"),
                {**field_attrs, "grid_mapping": "crs"},
            ),
            "observation": (("y", "x"), observation.astype("float32"), {**field_attrs}),
            "crs": ((), np.int32(0), crs.to_cf()),
        },
        coords={
            "lead_time": ("lead_time", leads),
            "time": ("lead_time", [init64 + lead for lead in leads]),
            "forecast_reference_time": init64,
            "x": ("x", x, {"standard_name": x_name, "units": units}),
            "y": ("y", y, {"standard_name": y_name, "units": units.replace("east", "north")}),
        },
        attrs={
            "Conventions": "CF-1.8",
            "method": "persistence",
            "nowcast_version": "test",
            **attrs,
        },
    )


def bom_files() -> list[Path]:
    """The BOM radar day, one file per 10 minutes."""
    return sorted(shared_data_path(*BOM_DIR.relative_to(DATA).parts).glob("*.prcp-c10.nc"))


@cache
def bom_forecast(index: int = 60, factor: int = 1, pipeline: str = "bom-radar") -> xr.Dataset:
    """BOM 10-min accumulation (mm) on its Albers grid, init at the `index`-th file's time."""
    from pysteps.io.importers import import_bom_rf3

    path = bom_files()[index]
    data, _, meta = import_bom_rf3(str(path))
    values = coarsen(np.asarray(data, dtype=float), factor)
    step = float(meta["xpixelsize"]) * factor
    ny, nx = values.shape
    x = centres(float(meta["x1"]), step, nx)
    y = centres(float(meta["y2"]), -step, ny)
    init = utc(datetime.strptime(path.name[3:18], "%Y%m%d_%H%M%S"))
    attrs = {
        "units": "mm",
        "standard_name": "precipitation_amount",
        "long_name": "10-minute rainfall accumulation",
    }
    info = {"pipeline": pipeline, "model": "modernn-bom"}
    crs = pyproj.CRS(meta["projection"])
    return forecast_dataset(values, x, y, crs, init, attrs, info, shift_px=max(1, 4 // factor))


@cache
def saf_forecast(index: int = 20, factor: int = 4) -> xr.Dataset:
    """NWC SAF CRR (mm/h) on its geostationary grid, block-averaged by `factor`."""
    from pysteps.io.importers import import_saf_crri

    path = sorted(shared_data_path(*SAF_DIR.relative_to(DATA).parts).glob("S_NWC_CRR_*.nc"))[index]
    data, _, meta = import_saf_crri(str(path))
    values = coarsen(np.asarray(data, dtype=float), factor)
    step = float(meta["xpixelsize"]) * factor
    ny, nx = values.shape
    x = centres(float(meta["x1"]), step, nx)
    y = centres(float(meta["y2"]), -step, ny)
    init = utc(datetime.strptime(path.stem.split("_")[-1], "%Y%m%dT%H%M%SZ"))
    attrs = {
        "units": "mm/h",
        "standard_name": "rainfall_rate",
        "long_name": "convective rainfall rate (NWC SAF CRR)",
    }
    info = {"pipeline": "saf-crr", "model": "modernn-crr"}
    return forecast_dataset(values, x, y, pyproj.CRS(meta["projection"]), init, attrs, info)


def storm_track(storm_id: str = TRACK_STORM) -> tuple[str, pd.DataFrame]:
    """Name and hourly track of a storm in the Digital Typhoon metadata fixture."""
    fixture = TYPHOON_DIR / "metadata-fixture"
    names = json.loads((fixture / "metadata.json").read_text())
    track = pd.read_csv(fixture / "track" / f"{storm_id}.csv")
    track["time"] = pd.to_datetime(track[["year", "month", "day", "hour"]], utc=True)
    return names[storm_id]["name"], track


@cache
def typhoon_forecast(factor: int = 1) -> xr.Dataset:
    """The Digital Typhoon IR frame (K) on a storm-centred azimuthal-equidistant ~5 km grid."""
    with h5py.File(TYPHOON_FILE, "r") as handle:
        kelvin = coarsen(np.asarray(handle["Infrared"][...], dtype=float), factor)
    name, track = storm_track()
    centre = track.iloc[-1]
    step = TYPHOON_PIXEL_M * factor
    ny, nx = kelvin.shape
    x = centres(-step * nx / 2, step, nx)
    y = centres(step * ny / 2, -step, ny)
    crs = pyproj.CRS(proj="aeqd", lat_0=float(centre.lat), lon_0=float(centre.lng), datum="WGS84")
    points = [
        [t.isoformat(), float(a), float(o)] for t, a, o in track[["time", "lat", "lng"]].values
    ]
    attrs = {
        "units": "K",
        "standard_name": "toa_brightness_temperature",
        "long_name": "brightness temperature",
    }
    info = {
        "pipeline": "typhoon-ir",
        "model": "modernn-typhoon",
        "storm_id": TRACK_STORM,
        "storm_name": name,
        "storm_lat": float(centre.lat),
        "storm_lon": float(centre.lng),
        "track": json.dumps(points),
    }
    init = utc(centre.time)
    return forecast_dataset(kelvin, x, y, crs, init, attrs, info, shift_px=max(1, 3 // factor))


def write_forecast(ds: xr.Dataset, forecasts_dir: Path) -> Path:
    """Write as the forecast command does: `<dir>/<pipeline>/<pipeline>_<init>.nc`, int minutes."""
    pipeline = ds.attrs["pipeline"]
    init = pd.Timestamp(ds["forecast_reference_time"].values)
    path = forecasts_dir / pipeline / f"{pipeline}_{init:%Y%m%dT%H%MZ}.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    since_epoch = {"units": "minutes since 1970-01-01 00:00:00", "dtype": "int64"}
    encoding = {
        "time": since_epoch,
        "forecast_reference_time": since_epoch,
        "lead_time": {"units": "minutes", "dtype": "int32"},
        "forecast": {"zlib": True},
        "observation": {"zlib": True},
    }
    ds.to_netcdf(path, engine="netcdf4", encoding=encoding)
    return path


def shifted_init(ds: xr.Dataset, init: pd.Timestamp) -> xr.Dataset:
    """The same fields re-labelled with another init time (and valid times to match)."""
    init64 = utc(init).to_datetime64()
    return ds.assign_coords(
        forecast_reference_time=init64,
        time=("lead_time", init64 + ds["lead_time"].values),
    )
