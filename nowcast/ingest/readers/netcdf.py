"""Generic NetCDF/CF reader: one 2D variable, its x/y, its grid mapping and its valid time.

Reads with netCDF4 directly (about 4 ms for a 512x512 BOM file, against 400 ms for pysteps'
`bom_rf3`), applies `_FillValue`/`valid_range` and `scale_factor`/`add_offset` in float32.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import netCDF4
import numpy as np
import pandas as pd
import pyproj
import xarray as xr

from nowcast.core import json_safe, utc
from nowcast.ingest.readers.base import Payload, ReaderOptions, check_frame_size, local_path
from nowcast.store import crs_from_string, frame_array

UNIT_TO_METRES = {"m": 1.0, "metre": 1.0, "meter": 1.0, "km": 1000.0, "kilometre": 1000.0}
GLOBAL_CRS_ATTRS = ("crs_wkt", "spatial_ref", "gdal_projection", "proj4", "proj4_string")
GLOBAL_TIME_ATTRS = ("nominal_product_time",)
TIME_UNITS = re.compile(r"^(?P<unit>\w+) since (?P<origin>.+)$")
PANDAS_UNITS = {
    "seconds": "s",
    "second": "s",
    "minutes": "min",
    "minute": "min",
    "hours": "h",
    "hour": "h",
    "days": "D",
    "day": "D",
    "milliseconds": "ms",
}


class NetcdfOptions(ReaderOptions):
    """Which variable to read; optional projection and time-variable overrides."""

    crs: str | None = None
    time_variable: str | None = None
    units: str | None = None
    standard_name: str | None = None
    long_name: str | None = None


@contextmanager
def _open(payload: Payload) -> Iterator[netCDF4.Dataset]:
    """Open a file (under a name netCDF4 can take), or bytes in memory, as a netCDF4 Dataset."""
    if payload.path is None:
        with netCDF4.Dataset(payload.name, memory=payload.data) as ds:
            yield ds
        return
    with local_path(payload) as path, netCDF4.Dataset(path) as ds:
        yield ds


def _values(var: netCDF4.Variable) -> np.ndarray:
    """The variable's data as float32 with fill and out-of-valid-range values set to NaN."""
    attrs = set(var.ncattrs())
    var.set_auto_maskandscale(False)
    raw = np.squeeze(np.asarray(var[...]))
    if raw.ndim != 2:
        raise ValueError(f"variable {var.name!r} has shape {var.shape}, not one 2D frame")
    if getattr(var, "_Unsigned", "false") == "true" and raw.dtype.kind == "i":
        raw = raw.view(raw.dtype.str.replace("i", "u"))
    values = raw.astype(np.float32)
    if "scale_factor" in attrs:
        values *= np.float32(var.scale_factor)
    if "add_offset" in attrs:
        values += np.float32(var.add_offset)
    for attr in ("_FillValue", "missing_value"):
        if attr in attrs:
            values[raw == np.asarray(var.getncattr(attr)).astype(raw.dtype)] = np.nan
    if "valid_range" in attrs:
        low, high = np.asarray(var.valid_range)
        values[(raw < low) | (raw > high)] = np.nan
    return values


def _metres(ds: netCDF4.Dataset, dim: str) -> np.ndarray:
    """The 1D coordinate of a dimension in metres (degrees stay degrees)."""
    if dim not in ds.variables:
        raise ValueError(f"no coordinate variable for dimension {dim!r}")
    var = ds.variables[dim]
    var.set_auto_maskandscale(False)
    factor = UNIT_TO_METRES.get(getattr(var, "units", "m"), 1.0)
    return np.asarray(var[...], dtype=np.float64) * factor


@lru_cache(maxsize=32)
def _time_units(units: str) -> tuple[str, pd.Timestamp] | None:
    """(pandas unit, origin) of CF `<unit> since <origin>` units, None if not parseable."""
    match = TIME_UNITS.match(units.strip())
    if match is None or match["unit"].lower() not in PANDAS_UNITS:
        return None
    return PANDAS_UNITS[match["unit"].lower()], utc(match["origin"].strip())


def _decode_time(var: netCDF4.Variable) -> pd.Timestamp:
    """A scalar CF time variable as a UTC Timestamp (cftime only for unusual calendars)."""
    var.set_auto_maskandscale(False)
    value = np.asarray(var[...]).ravel()[0]
    calendar = getattr(var, "calendar", "standard")
    parsed = _time_units(var.units) if calendar in ("standard", "gregorian") else None
    if parsed is not None:
        unit, origin = parsed
        return origin + pd.Timedelta(value.item(), unit=unit)
    stamp = netCDF4.num2date(
        value, var.units, calendar, only_use_cftime_datetimes=False, only_use_python_datetimes=True
    )
    return utc(stamp)


@lru_cache(maxsize=32)
def _crs_from_cf(attrs_json: str) -> pyproj.CRS:
    """A CRS from CF grid-mapping attributes, parsed once per distinct mapping."""
    return pyproj.CRS.from_cf(json.loads(attrs_json))


def _json_attrs(var: netCDF4.Variable) -> str:
    """A variable's attributes as canonical JSON (cache key for the CRS parse)."""
    return json.dumps(json_safe({k: var.getncattr(k) for k in var.ncattrs()}))


def _crs(ds: netCDF4.Dataset, var: netCDF4.Variable, override: str | None) -> pyproj.CRS | None:
    """The projection: override, CF grid mapping, or a global WKT/PROJ attribute."""
    if override:
        return crs_from_string(override)
    mapping = getattr(var, "grid_mapping", None)
    if mapping and mapping in ds.variables:
        return _crs_from_cf(_json_attrs(ds.variables[mapping]))
    for attr in GLOBAL_CRS_ATTRS:
        if attr in ds.ncattrs():
            return crs_from_string(str(ds.getncattr(attr)))
    return None


def _time(ds: netCDF4.Dataset, name: str | None) -> pd.Timestamp | None:
    """The valid time the file states: a time variable or a global product-time attribute."""
    candidates = [name] if name else []
    candidates += [
        key
        for key, var in ds.variables.items()
        if var.ndim <= 1 and var.size == 1 and getattr(var, "standard_name", None) == "time"
    ]
    for key in candidates:
        if key in ds.variables:
            return _decode_time(ds.variables[key])
    for attr in GLOBAL_TIME_ATTRS:
        if attr in ds.ncattrs():
            return utc(str(ds.getncattr(attr)))
    return None


class NetcdfReader:
    """CF NetCDF frames (BOM Rainfields, NWC SAF, most gridded products)."""

    options_model = NetcdfOptions

    def __init__(self, format: str) -> None:
        self.format = format

    def read(self, payload: Payload, options: NetcdfOptions) -> xr.DataArray:
        """Read `options.variable` from the payload into a physical frame."""
        if not options.variable:
            raise ValueError("the netcdf format needs source.variable")
        with _open(payload) as ds:
            if options.variable not in ds.variables:
                names = ", ".join(ds.variables)
                raise ValueError(f"no variable {options.variable!r} (has: {names})")
            var = ds.variables[options.variable]
            check_frame_size(f"variable {var.name!r}", var.shape, options.max_pixels)
            values = _values(var)
            ydim, xdim = [d for d in var.dimensions if ds.dimensions[d].size > 1][-2:]
            x, y = _metres(ds, xdim), _metres(ds, ydim)
            crs = _crs(ds, var, options.crs)
            attrs = {
                "units": options.units or getattr(var, "units", ""),
                "standard_name": options.standard_name or getattr(var, "standard_name", ""),
                "long_name": options.long_name or getattr(var, "long_name", options.variable),
            }
            time = _time(ds, options.time_variable)
        scalars = {"time": time.to_datetime64()} if time is not None else None
        return frame_array(values, x, y, crs, attrs, scalars)
