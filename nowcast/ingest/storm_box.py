"""A storm-centred box cut from a frame on any fixed projection, like a Digital Typhoon image.

The box is a square of `size_km` sampled by `pixels` x `pixels` on the Lambert azimuthal
equal-area plane around the storm centre (`grid.storm_crs`), x/y in metres from the centre;
each box pixel takes the bilinear value of the source frame at its position (NaN off the
frame). The centre travels with the frame as `center_lat`/`center_lon`, which is how
storm-centred frames are georeferenced everywhere downstream.
"""

from __future__ import annotations

import numpy as np
import pyproj
import xarray as xr
from scipy import ndimage

from nowcast.core import ConfigError
from nowcast.store import crs_of, frame_array, pixel_centres, storm_crs

OUTSIDE = -10.0  # a fractional index far enough off the array to read the fill value


def fractional_index(coord: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where `values` fall along a monotonic 1D coordinate, in (fractional) array indices."""
    positions = np.arange(coord.size, dtype=np.float64)
    if coord.size > 1 and coord[0] > coord[-1]:
        coord, positions = coord[::-1], positions[::-1]
    index = np.interp(values, coord, positions, left=OUTSIDE, right=OUTSIDE)
    return np.where(np.isfinite(values), index, OUTSIDE)


def storm_box(
    frame: xr.DataArray, lat: float, lon: float, size_km: float, pixels: int
) -> xr.DataArray:
    """The frame resampled onto the storm-centred box around (lat, lon)."""
    source_crs = crs_of(frame)
    if source_crs is None or "center_lat" in frame.coords:
        raise ConfigError("storm following needs frames on a fixed projection (a grid mapping)")
    step = size_km * 1000.0 / pixels
    x = pixel_centres(-size_km * 500.0, step, pixels)
    y = pixel_centres(size_km * 500.0, -step, pixels)
    xx, yy = np.meshgrid(x, y)
    to_source = pyproj.Transformer.from_crs(storm_crs(lat, lon), source_crs, always_xy=True)
    sx, sy = (np.asarray(v) for v in to_source.transform(xx, yy, errcheck=False))
    source_x = frame.coords.variables["x"].values
    source_y = frame.coords.variables["y"].values
    if source_crs.is_geographic:
        west = float(source_x.min())
        sx = west + np.mod(sx - west, 360.0)
    rows = fractional_index(source_y, sy)
    cols = fractional_index(source_x, sx)
    values = ndimage.map_coordinates(
        np.asarray(frame.values, dtype=np.float32),
        [rows, cols],
        output=np.float32,
        order=1,
        mode="constant",
        cval=np.nan,
    )
    attrs = {key: value for key, value in frame.attrs.items() if key != "grid_mapping"}
    scalars: dict[str, object] = {"center_lat": np.float32(lat), "center_lon": np.float32(lon)}
    if "time" in frame.coords:
        scalars["time"] = frame.coords.variables["time"].values
    return frame_array(values, x, y, None, attrs, scalars)
