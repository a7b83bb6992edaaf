"""Digital Typhoon HDF5 frames: 512x512 storm-centred infrared brightness temperature in K.

Archive layout: `image/<storm id>/<YYYYMMDDHH>-<storm id>-<satellite>-1.h5` (dataset
`Infrared`, float64, gzip) and hourly best-track rows in `metadata/<storm id>.csv`
(`year,month,day,hour,grade,lat,lng,...`). Each frame is centred on the storm, so its x/y are
metres from the centre (`pixel_size_m` apart) and the centre's lat/lon come from the track.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import xarray as xr

from nowcast.ingest.readers.base import Payload, ReaderOptions, check_frame_size
from nowcast.store import frame_array, pixel_centres

NAME = re.compile(r"^(?P<time>\d{10})-(?P<storm>[0-9A-Za-z]+)-(?P<satellite>[0-9A-Za-z]+)-\d+\.h5$")
ATTRS = {
    "units": "K",
    "standard_name": "toa_brightness_temperature",
    "long_name": "Infrared brightness temperature",
}


class DigitalTyphoonOptions(ReaderOptions):
    """Dataset name, pixel spacing and where the storm tracks are (`{storm}` is the id)."""

    dataset: str = "Infrared"
    pixel_size_m: float = 5000.0
    track: str | None = None


def parse_name(name: str) -> tuple[pd.Timestamp, str, str]:
    """(valid time, storm id, satellite) from a Digital Typhoon file name."""
    match = NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not named <YYYYMMDDHH>-<storm>-<satellite>-1.h5")
    time = pd.Timestamp(pd.to_datetime(match["time"], format="%Y%m%d%H"))
    return time, match["storm"], match["satellite"]


@lru_cache(maxsize=64)
def _track(path: str, mtime_ns: int) -> pd.DataFrame:
    """A storm's best track indexed by valid time (cached per file version)."""
    rows = pd.read_csv(path)
    index = pd.to_datetime(rows[["year", "month", "day", "hour"]])
    return rows.set_index(index)[["lat", "lng"]].sort_index()


def storm_centre(track_file: Path, time: pd.Timestamp) -> tuple[float, float]:
    """Storm centre (lat, lon) at `time`, interpolated between track rows; NaN when unknown."""
    if not track_file.is_file():
        return float("nan"), float("nan")
    track = _track(str(track_file), track_file.stat().st_mtime_ns)
    if time in track.index:
        row = track.loc[time]
        return float(row["lat"]), float(row["lng"])
    if track.empty or not track.index[0] <= time <= track.index[-1]:
        return float("nan"), float("nan")
    seconds = (track.index - track.index[0]).total_seconds()
    at = (time - track.index[0]).total_seconds()
    return float(np.interp(at, seconds, track["lat"])), float(np.interp(at, seconds, track["lng"]))


class DigitalTyphoonReader:
    """Storm-centred infrared frames with the storm id, satellite and centre attached."""

    options_model = DigitalTyphoonOptions

    def __init__(self, format: str) -> None:
        self.format = format

    def read(self, payload: Payload, options: DigitalTyphoonOptions) -> xr.DataArray:
        """Read the infrared image and georeference it from the storm's track."""
        time, storm, satellite = parse_name(payload.name)
        source = payload.path if payload.path is not None else io.BytesIO(payload.read_bytes())
        with h5py.File(source, "r") as handle:
            dataset = handle[options.dataset]
            what = f"dataset {options.dataset!r}"
            check_frame_size(what, dataset.shape, options.max_pixels)
            values = dataset[...]
        if values.ndim != 2:
            raise ValueError(f"dataset {options.dataset!r} has shape {values.shape}, not 2D")
        ny, nx = values.shape
        step = options.pixel_size_m
        x = pixel_centres(-nx * step / 2, step, nx)
        y = pixel_centres(ny * step / 2, -step, ny)
        lat = lon = float("nan")
        if options.track:
            lat, lon = storm_centre(Path(options.track.format(storm=storm)), time)
        attrs = {**ATTRS, "satellite": satellite, "storm_id": storm}
        scalars = {
            "time": time.to_datetime64(),
            "center_lat": np.float32(lat),
            "center_lon": np.float32(lon),
        }
        return frame_array(values, x, y, None, attrs, scalars)
