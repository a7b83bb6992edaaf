"""Which reader reads a file: pysteps' importers and the project's readers, tried in turn.

The file's extension orders the tries (GIF: MeteoSwiss; HDF5: KNMI, ODIM, OPERA, ...); each
reader that fits returns a physical frame, and the first whose frame holds data wins. Options
an importer needs are filled from what the file and its series say (MeteoSwiss' product from
the name, the accumulation period from the cadence; gzip from the suffix).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.ingest.readers import PYSTEPS_FORMATS, get_reader
from nowcast.ingest.readers.base import Payload

log = logging.getLogger(__name__)

# extension -> formats to try first, most likely first
BY_EXTENSION: dict[str, tuple[str, ...]] = {
    ".gif": ("mch_gif",),
    ".h5": ("knmi_hdf5", "odim_hdf5", "opera_hdf5", "mch_hdf5", "dwd_hdf5", "digital_typhoon"),
    ".hdf": ("odim_hdf5", "opera_hdf5", "knmi_hdf5", "mch_hdf5", "dwd_hdf5"),
    ".hdf5": ("odim_hdf5", "opera_hdf5", "knmi_hdf5", "mch_hdf5", "dwd_hdf5"),
    ".nc": ("bom_rf3", "saf_crri", "netcdf"),
    ".nc4": ("netcdf",),
    ".pgm": ("fmi_pgm",),
    ".tif": ("fmi_geotiff",),
    ".tiff": ("fmi_geotiff",),
    ".grib2": ("mrms_grib",),
    ".grb2": ("mrms_grib",),
}
ODIM_QUANTITIES = ("RATE", "ACRR", "DBZH")  # rain rate, accumulation, reflectivity
NETCDF_SKIP = {"time", "x", "y", "lat", "lon", "latitude", "longitude", "crs", "proj"}


@dataclass(frozen=True)
class Probe:
    """The format that read the file, its `[source.reader]` options, and the frame it gave."""

    format: str
    options: dict[str, Any]
    frame: xr.DataArray
    tried: tuple[str, ...] = field(default_factory=tuple)


def extension(name: str) -> str:
    """The data extension of a file name, looking through `.gz` and `.bz2`."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    while suffixes and suffixes[-1] in (".gz", ".bz2"):
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def formats_to_try(name: str) -> list[str]:
    """Every readable format, the ones the extension suggests first."""
    first = list(BY_EXTENSION.get(extension(name), ()))
    others = [f for f in (*PYSTEPS_FORMATS, "netcdf", "image") if f not in first]
    return first + others


def option_sets(format: str, path: Path, cadence: pd.Timedelta | None) -> list[dict[str, Any]]:
    """The reader options worth trying for `format` on this file."""
    gzipped = path.name.lower().endswith(".gz")
    minutes = int(cadence / pd.Timedelta("1min")) if cadence is not None else 5
    if format == "mch_gif":
        product = path.name[:3].upper()
        return [{"importer_kwargs": {"product": product, "unit": "mm", "accutime": minutes}}]
    if format == "fmi_pgm":
        return [{"importer_kwargs": {"gzipped": gzipped}}]
    if format == "netcdf":
        return [{"variable": name} for name in _netcdf_variables(path)]
    if format in ("odim_hdf5", "opera_hdf5"):
        return [{"importer_kwargs": {"qty": qty}} for qty in ODIM_QUANTITIES]
    return [{}]


def _netcdf_variables(path: Path) -> list[str]:
    """Data variables of a NetCDF file with two or more dimensions, largest first."""
    try:
        import netCDF4

        with netCDF4.Dataset(path) as ds:
            found = [
                (int(np.prod(var.shape)), name)
                for name, var in ds.variables.items()
                if var.ndim >= 2 and name.lower() not in NETCDF_SKIP
            ]
    except (OSError, ValueError, RuntimeError):
        return []
    return [name for _size, name in sorted(found, reverse=True)]


def read_with(format: str, path: Path, options: dict[str, Any]) -> xr.DataArray:
    """One frame of `path` read by `format` with these options (any exception: not readable)."""
    reader = get_reader(format)
    validated = reader.options_model.model_validate(options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = reader.read(Payload(path.name, path=path), validated)
    if frame.ndim != 2 or not np.isfinite(frame.values).any():
        raise ValueError("no 2D frame with data")
    return frame


def probe_format(path: Path, cadence: pd.Timedelta | None = None) -> Probe | tuple[str, ...]:
    """The first format that reads `path` into a frame with data, or the formats tried."""
    tried: list[str] = []
    for format in formats_to_try(path.name):
        for options in option_sets(format, path, cadence):
            try:
                frame = read_with(format, path, options)
            except Exception as exc:  # noqa: BLE001 - any failure means: not this format
                log.debug("%s does not read %s: %s", format, path.name, exc)
                continue
            return Probe(format, options, frame, tuple(tried))
        tried.append(format)
    return tuple(tried)
