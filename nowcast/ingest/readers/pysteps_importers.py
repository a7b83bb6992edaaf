"""pysteps importers (`bom_rf3`, `mch_gif`, `saf_crri`, `odim_hdf5`, ...) as nowcast readers.

Each importer returns pysteps' `(data, quality, metadata)` triple; this wraps it into the same
frame every reader returns, with x/y in metres from the metadata's corners and pixel sizes
(km-based projections, such as KNMI's, are normalised to metres).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from nowcast.core import silenced_stdout
from nowcast.ingest.readers.base import Payload, ReaderOptions, local_path
from nowcast.store import crs_from_string, frame_array, metres_projection, pixel_centres

# pysteps unit -> (CF standard name, CF units)
UNITS = {
    "mm": ("precipitation_amount", "mm"),
    "mm/h": ("lwe_precipitation_rate", "mm h-1"),
    "dBZ": ("equivalent_reflectivity_factor", "dBZ"),
}


class PystepsOptions(ReaderOptions):
    """Keyword arguments for the pysteps importer (e.g. product, unit, accutime), and an
    optional rain-rate view of reflectivity (`rain_rate`: Z = a R^b with the importer's
    `zr_a`/`zr_b`, else Marshall-Palmer 200/1.6, through `pysteps.utils.conversion`)."""

    importer_kwargs: dict[str, Any] = {}
    rain_rate: bool = False
    zr_a: float | None = None
    zr_b: float | None = None


def importer(name: str):  # noqa: ANN201 - a pysteps importer function
    """The pysteps importer `name`, loaded quietly (pysteps prints its config path on import)."""
    with silenced_stdout():
        from pysteps.io import get_method

    return get_method(name, "importer")


def rain_rate(data: Any, meta: dict, options: PystepsOptions) -> tuple[Any, dict]:
    """Reflectivity or accumulation -> rain rate in mm/h with pysteps' own conversion."""
    with silenced_stdout():
        from pysteps.utils.conversion import to_rainrate

    return to_rainrate(np.ma.filled(data, np.nan), meta, options.zr_a, options.zr_b)


class PystepsReader:
    """Any pysteps importer by name, returning a physical frame in its native projection."""

    options_model = PystepsOptions

    def __init__(self, format: str) -> None:
        self.format = format

    @cached_property
    def _import(self):  # noqa: ANN202 - a pysteps importer function
        """The importer, loaded on first read (importing pysteps takes a second or two)."""
        return importer(self.format)

    def read(self, payload: Payload, options: PystepsOptions) -> xr.DataArray:
        """Run the importer on the payload (written to a temporary file when in memory)."""
        with local_path(payload) as path:
            data, _quality, meta = self._import(str(path), **options.importer_kwargs)
        if options.rain_rate:
            data, meta = rain_rate(data, meta, options)
        values = np.ma.filled(np.ma.asarray(data, dtype=np.float32), np.nan)
        if values.ndim != 2:
            raise ValueError(f"{self.format} returned shape {values.shape}, not one 2D frame")
        ny, nx = values.shape
        projection, scale = metres_projection(str(meta.get("projection") or ""))
        if meta.get("cartesian_unit") == "km":
            scale = 1000.0
        x = scale * pixel_centres(float(meta["x1"]), float(meta["xpixelsize"]), nx)
        if meta.get("yorigin", "upper") == "upper":
            y = scale * pixel_centres(float(meta["y2"]), -float(meta["ypixelsize"]), ny)
        else:
            y = scale * pixel_centres(float(meta["y1"]), float(meta["ypixelsize"]), ny)
        crs = crs_from_string(projection) if projection else None
        unit = str(meta.get("unit", ""))
        standard_name, units = UNITS.get(unit, ("", unit))
        attrs = {
            "units": units,
            "standard_name": standard_name,
            "long_name": f"{meta.get('institution', '')} {self.format}".strip(),
        }
        if meta.get("accutime"):
            attrs["accumulation_minutes"] = float(meta["accutime"])
        return frame_array(values, x, y, crs, attrs)
