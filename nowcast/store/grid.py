"""Georeference helpers and the regrid step: crop and block-mean each frame to the target grid.

Frames carry their projection as a scalar `crs` coordinate whose attributes are the CF grid
mapping (`pyproj.CRS.to_cf()`, which includes `crs_wkt`), named by the `grid_mapping`
attribute. Storm-centred frames instead carry `center_lat`/`center_lon` and x/y in metres
from the storm centre on a Lambert azimuthal equal-area plane around it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pyproj
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nowcast.core import ConfigError

GRID_MAPPING = "crs"
STORM_PROJ = "+proj=laea +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"


class GridSpec(BaseModel):
    """The pipeline's target grid: an optional crop, then a block mean down to `shape`.

    `bbox` crops to a lon/lat box (lon_min, lat_min, lon_max, lat_max) in the source's own
    projection; `extent` crops to (x_min, y_min, x_max, y_max) in source metres (for
    storm-centred frames, metres from the centre). The crop is then trimmed evenly at its edges
    to a whole multiple of `shape` and averaged in blocks, ignoring missing pixels.
    `average` says in which space: `linear` (rates, accumulations, temperatures) or
    `decibel` (dBZ, dBR: averaged as 10^(v/10), then back to dB); by default `decibel` for
    units starting with "dB", else `linear`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: tuple[int, int] = Field((64, 64), description="(ny, nx) of the stored frames")
    bbox: tuple[float, float, float, float] | None = None
    extent: tuple[float, float, float, float] | None = None
    latlon: bool = Field(True, description="store 2D lat/lon coordinates")
    average: Literal["linear", "decibel"] | None = Field(
        None, description="block-average space; default from the units (dB* -> decibel)"
    )

    @model_validator(mode="after")
    def _one_crop(self) -> GridSpec:
        """Allow at most one way of cropping, and only positive sizes."""
        if self.bbox is not None and self.extent is not None:
            raise ValueError("give either bbox or extent, not both")
        if min(self.shape) < 1:
            raise ValueError(f"shape must be positive, got {self.shape}")
        return self


@lru_cache(maxsize=64)
def crs_from_wkt(wkt: str) -> pyproj.CRS:
    """A CRS parsed once per WKT string (parsing costs about a millisecond)."""
    return pyproj.CRS.from_wkt(wkt)


@lru_cache(maxsize=64)
def crs_from_string(text: str) -> pyproj.CRS:
    """A CRS parsed once per user string: EPSG code, PROJ string or WKT."""
    try:
        return pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise ConfigError(f"not a usable projection {text!r}: {exc}") from None


KM_LENGTHS = ("+a", "+b", "+R", "+x_0", "+y_0")
EARTH_IN_KM = 1.0e5  # an ellipsoid axis below this many units is in km, not metres


def metres_projection(text: str) -> tuple[str, float]:
    """A PROJ string in metres, and the factor that turns its source x/y into metres.

    Strings in kilometres (`+units=km`, or an ellipsoid such as `+a=6378.137` as pysteps'
    `knmi_hdf5` gives) get lengths x 1000 and `+units=m`; others pass with factor 1.
    """
    tokens = text.split()
    keyed = dict(token.split("=", 1) for token in tokens if "=" in token)
    axes = [float(keyed[key]) for key in ("+a", "+b", "+R") if key in keyed]
    in_km = keyed.get("+units") == "km" or bool(axes and max(axes) < EARTH_IN_KM)
    if not in_km:
        return text, 1.0
    out = []
    for token in tokens:
        key, _, value = token.partition("=")
        if key in KM_LENGTHS:
            token = f"{key}={float(value) * 1000.0:.10g}"
        elif key == "+units":
            token = "+units=m"
        out.append(token)
    if "+units" not in keyed:
        out.append("+units=m")
    return " ".join(out), 1000.0


_CF_ATTRS: dict[int, tuple[pyproj.CRS, dict]] = {}


def cf_attrs(crs: pyproj.CRS) -> dict:
    """The CF grid-mapping attributes of a CRS, always including `crs_wkt` (cached per object)."""
    cached = _CF_ATTRS.get(id(crs))
    if cached is None or cached[0] is not crs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            attrs = {key: _plain(value) for key, value in crs.to_cf().items()}
        attrs.setdefault("crs_wkt", crs.to_wkt())
        cached = _CF_ATTRS[id(crs)] = (crs, attrs)
    return cached[1]


def _plain(value: object) -> object:
    """JSON-friendly attribute values (tuples and numpy scalars become lists and floats)."""
    if isinstance(value, tuple | list | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def crs_coord(crs: pyproj.CRS) -> xr.Variable:
    """The scalar `crs` coordinate that holds a frame's CF grid mapping."""
    return xr.Variable((), np.int32(0), attrs=dict(cf_attrs(crs)))


def storm_crs(lat: float, lon: float) -> pyproj.CRS:
    """The storm-centred plane: Lambert azimuthal equal-area around (lat, lon)."""
    return crs_from_string(STORM_PROJ.format(lat=round(lat, 4), lon=round(lon, 4)))


def crs_of(da: xr.DataArray | xr.Dataset) -> pyproj.CRS | None:
    """The projection of x/y: the `crs` grid mapping, or the newest storm centre's plane."""
    if GRID_MAPPING in da.coords or (isinstance(da, xr.Dataset) and GRID_MAPPING in da):
        attrs = da[GRID_MAPPING].attrs
        if "crs_wkt" in attrs:
            return crs_from_wkt(attrs["crs_wkt"])
        return pyproj.CRS.from_cf(attrs)
    if "crs_wkt" in da.attrs:
        return crs_from_wkt(da.attrs["crs_wkt"])
    if "center_lat" in da.coords and "center_lon" in da.coords:
        lats = np.atleast_1d(da["center_lat"].values)
        lons = np.atleast_1d(da["center_lon"].values)
        known = np.flatnonzero(np.isfinite(lats) & np.isfinite(lons))
        if known.size:
            return storm_crs(float(lats[known[-1]]), float(lons[known[-1]]))
    return None


def lonlat_of(x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """2D longitude and latitude (float32) of the grid with 1D coordinates x, y."""
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    xx, yy = np.meshgrid(x, y)
    lon, lat = transformer.transform(xx, yy)
    return np.asarray(lon, dtype=np.float32), np.asarray(lat, dtype=np.float32)


@dataclass(frozen=True)
class GridPlan:
    """Where to cut a source grid and how to average it, with the output coordinates."""

    rows: slice
    cols: slice
    factor: tuple[int, int]
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray | None
    lat: np.ndarray | None
    average: str = "linear"

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Cut and block-average one physical frame's values (float32 out) in `average` space."""
        cut = np.asarray(values)[self.rows, self.cols]
        if self.average == "decibel":
            return decibel_block_mean(cut, self.factor)
        return block_mean(cut, self.factor)

    def coords(self, x_attrs: dict, y_attrs: dict) -> dict[str, object]:
        """The target grid's coordinates (x, y, and lat/lon when known)."""
        coords: dict[str, object] = {"y": ("y", self.y, y_attrs), "x": ("x", self.x, x_attrs)}
        if self.lon is not None:
            coords["lon"] = (("y", "x"), self.lon, LON_ATTRS)
            coords["lat"] = (("y", "x"), self.lat, LAT_ATTRS)
        return coords


def _window(coord: np.ndarray, low: float, high: float) -> slice:
    """The contiguous index range of pixel centres within [low, high]."""
    inside = np.flatnonzero((coord >= low) & (coord <= high))
    if inside.size == 0:
        raise ConfigError(f"crop [{low:.0f}, {high:.0f}] lies outside the source grid")
    return slice(int(inside[0]), int(inside[-1]) + 1)


def bbox_outline(
    bbox: tuple[float, float, float, float], count: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of `count` points along each edge of a lon/lat box."""
    lon0, lat0, lon1, lat1 = bbox
    edge = np.linspace(0.0, 1.0, count)
    lons = np.concatenate([lon0 + (lon1 - lon0) * edge, np.full(count, lon1)])
    lons = np.concatenate([lons, lon1 - (lon1 - lon0) * edge, np.full(count, lon0)])
    lats = np.concatenate([np.full(count, lat0), lat0 + (lat1 - lat0) * edge])
    lats = np.concatenate([lats, np.full(count, lat1), lat1 - (lat1 - lat0) * edge])
    return lons, lats


def bbox_extent(bbox: tuple[float, float, float, float], crs: pyproj.CRS) -> tuple[float, ...]:
    """The source-projection rectangle that encloses a lon/lat box (edges sampled densely)."""
    lons, lats = bbox_outline(bbox)
    transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    xs, ys = transformer.transform(lons, lats)
    finite = np.isfinite(xs) & np.isfinite(ys)
    if not finite.any():
        raise ConfigError(f"bbox {bbox} is not visible in the source projection")
    return (
        float(xs[finite].min()),
        float(ys[finite].min()),
        float(xs[finite].max()),
        float(ys[finite].max()),
    )


def _trimmed(span: slice, target: int) -> tuple[slice, int]:
    """Trim a window evenly at both ends to a whole multiple of `target`; return the factor."""
    length = span.stop - span.start
    factor = length // target
    if factor < 1:
        raise ConfigError(f"target grid ({target}) is finer than the source crop ({length})")
    extra = length - factor * target
    start = span.start + extra // 2
    return slice(start, start + factor * target), factor


def _block_centres(coord: np.ndarray, span: slice, factor: int) -> np.ndarray:
    """Coordinate of each block's centre: the mean of its pixel centres."""
    return coord[span].reshape(-1, factor).mean(axis=1)


def _block_sums(values: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """Sums over fy x fx blocks: along x as a matrix-vector product (BLAS), then along y."""
    h, w = values.shape
    along_x = np.ascontiguousarray(values).reshape(-1, fx) @ np.ones(fx, dtype=np.float32)
    return along_x.reshape(h // fy, fy, w // fx).sum(axis=1)


def block_mean(values: np.ndarray, factor: tuple[int, int]) -> np.ndarray:
    """Average `values` (2D) in factor-sized blocks, ignoring NaN; NaN where a block is empty."""
    fy, fx = factor
    values = np.asarray(values, dtype=np.float32)
    if fy == 1 and fx == 1:
        return values
    missing = np.isnan(values)
    if not missing.any():
        return _block_sums(values, fy, fx) * np.float32(1.0 / (fy * fx))
    total = _block_sums(np.where(missing, np.float32(0), values), fy, fx)
    count = _block_sums((~missing).astype(np.float32), fy, fx)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.float32(np.nan)).astype(np.float32)


def decibel_block_mean(values: np.ndarray, factor: tuple[int, int]) -> np.ndarray:
    """Block mean of a log quantity (dBZ) in linear space: 10 log10(mean(10^(v/10)))."""
    if factor == (1, 1):
        return np.asarray(values, dtype=np.float32)
    linear = np.power(10.0, np.asarray(values, dtype=np.float64) / 10.0)
    mean = block_mean(linear.astype(np.float32), factor).astype(np.float64)
    with np.errstate(divide="ignore"):
        return (10.0 * np.log10(mean)).astype(np.float32)


def average_space(spec: GridSpec, units: str | None) -> str:
    """The block-average space: the grid's `average`, else `decibel` for dB units."""
    if spec.average is not None:
        return spec.average
    return "decibel" if str(units or "").startswith("dB") else "linear"


class Regridder:
    """Crop and block-mean frames to a GridSpec; the plan is computed once per source grid."""

    def __init__(self, spec: GridSpec) -> None:
        self.spec = spec
        self._plans: dict[tuple, GridPlan] = {}

    def plan(self, frame: xr.DataArray) -> GridPlan:
        """The cut-and-average plan for this frame's source grid (built once per grid)."""
        variables = frame.coords.variables
        x, y = variables["x"].values, variables["y"].values
        mapping = variables.get(GRID_MAPPING)
        wkt = mapping.attrs.get("crs_wkt") if mapping is not None else None
        key = (x.size, y.size, x[0], x[-1], y[0], y[-1], wkt)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        crs = crs_of(frame) if wkt else None
        rows, cols = slice(0, y.size), slice(0, x.size)
        extent = self.spec.extent
        if self.spec.bbox is not None:
            if crs is None or "center_lat" in frame.coords:
                raise ConfigError("grid.bbox needs frames on a fixed projection; use grid.extent")
            extent = bbox_extent(self.spec.bbox, crs)
        if extent is not None:
            cols, rows = _window(x, extent[0], extent[2]), _window(y, extent[1], extent[3])
        ny, nx = self.spec.shape
        rows, fy = _trimmed(rows, ny)
        cols, fx = _trimmed(cols, nx)
        out_x, out_y = _block_centres(x, cols, fx), _block_centres(y, rows, fy)
        lon = lat = None
        if self.spec.latlon and crs is not None and "center_lat" not in frame.coords:
            lon, lat = lonlat_of(out_x, out_y, crs)
        space = average_space(self.spec, frame.attrs.get("units"))
        plan = GridPlan(rows, cols, (fy, fx), out_x, out_y, lon, lat, space)
        self._plans[key] = plan
        return plan

    def __call__(self, frame: xr.DataArray) -> xr.DataArray:
        """The frame (y, x) on the target grid, with its georeference and attributes kept."""
        plan = self.plan(frame)
        variables = frame.coords.variables
        coords = plan.coords(variables["x"].attrs, variables["y"].attrs)
        coords.update({name: var for name, var in variables.items() if var.ndim == 0})
        return xr.DataArray(
            plan.apply(frame.values), dims=("y", "x"), coords=coords, attrs=frame.attrs
        )


LON_ATTRS = {"standard_name": "longitude", "units": "degrees_east"}
LAT_ATTRS = {"standard_name": "latitude", "units": "degrees_north"}
X_ATTRS = {"standard_name": "projection_x_coordinate", "units": "m", "axis": "X"}
Y_ATTRS = {"standard_name": "projection_y_coordinate", "units": "m", "axis": "Y"}


def pixel_centres(start: float, step: float, count: int) -> np.ndarray:
    """`count` pixel-centre coordinates from the outer edge `start` in steps of `step`."""
    return start + step * (np.arange(count, dtype=np.float64) + 0.5)


def frame_array(
    values: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    crs: pyproj.CRS | None,
    attrs: dict,
    scalars: dict[str, object] | None = None,
) -> xr.DataArray:
    """A physical frame (y, x) in the shape every reader returns: float32, x/y in metres.

    `scalars` become scalar coordinates, e.g. the `time` the file states or a storm centre.
    """
    coords: dict[str, xr.Variable] = {
        "y": xr.Variable("y", y, Y_ATTRS),
        "x": xr.Variable("x", x, X_ATTRS),
    }
    coords.update({name: xr.Variable((), value) for name, value in (scalars or {}).items()})
    frame_attrs = dict(attrs)
    if crs is not None:
        coords[GRID_MAPPING] = crs_coord(crs)
        frame_attrs["grid_mapping"] = GRID_MAPPING
    data = np.asarray(values, dtype=np.float32)
    # no pandas indexes on x/y: building them costs more than the rest of a frame's metadata
    unindexed = xr.Coordinates(coords, indexes={})
    return xr.DataArray(data, dims=("y", "x"), coords=unindexed, attrs=frame_attrs)
