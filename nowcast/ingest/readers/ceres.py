"""CEReS gridded Himawari (Chiba University): headerless big-endian uint16 counts on lon/lat.

`YYYYMMDDhhmm.tir.01.fld.geoss.bz2` holds a 6000x6000 grid at 0.02 degrees covering 85E-205E
and 60N-60S, rows from the north and columns from the west (pixel centres 0.01 degrees in
from the edges). Counts become brightness temperature through CEReS' count -> Tbb table (a
text file of `count value` rows). The bz2 stream is decompressed in pieces and only the rows
of the box are kept, so a frame costs the box's memory, not the 72 MB of the whole grid.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr
from pydantic import Field

from nowcast.core import ConfigError
from nowcast.ingest.readers.base import Payload, ReaderOptions
from nowcast.ingest.readers.bunzip import bunzip2_pieces
from nowcast.store import crs_from_string, frame_array, pixel_centres

LONLAT = "EPSG:4326"


class CeresOptions(ReaderOptions):
    """The count -> Tbb table, an optional crop box (default: `grid.bbox`) and the grid."""

    lut: Path = Field(description="CEReS count -> Tbb table (e.g. count2tbb/tir.01)")
    bbox: tuple[float, float, float, float] | None = None
    shape: tuple[int, int] = (6000, 6000)
    step_deg: float = Field(0.02, gt=0)
    west: float = 85.0
    north: float = 60.0
    units: str = "K"
    standard_name: str = "toa_brightness_temperature"
    long_name: str = "Himawari infrared brightness temperature (CEReS gridded)"


@lru_cache(maxsize=8)
def _table(path: str, mtime_ns: int) -> np.ndarray:
    """The table as an array indexed by count (NaN where a count is not listed), cached."""
    try:
        rows = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a `count value` table ({exc})") from None
    if rows.shape[1] < 2 or rows.shape[0] == 0 or (rows[:, 0] < 0).any():
        raise ConfigError(f"{path}: expected rows of `count value` with counts >= 0")
    counts = rows[:, 0].astype(np.int64)
    table = np.full(int(counts.max()) + 2, np.nan, dtype=np.float32)
    table[counts] = rows[:, 1]
    return table


def count_table(path: Path) -> np.ndarray:
    """The count -> value lookup array of a table file; ConfigError when it is missing."""
    if not path.is_file():
        raise ConfigError(f"CEReS count table not found: {path} (set source.reader.lut)")
    return _table(str(path), path.stat().st_mtime_ns)


def crop_window(options: CeresOptions) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """Rows and columns of the box, and their lon/lat pixel centres."""
    ny, nx = options.shape
    lon = pixel_centres(options.west, options.step_deg, nx)
    lat = pixel_centres(options.north, -options.step_deg, ny)
    if options.bbox is None:
        return slice(0, ny), slice(0, nx), lon, lat
    lon0, lat0, lon1, lat1 = options.bbox
    shift = 360.0 if lon0 < options.west else 0.0
    cols = np.flatnonzero((lon >= lon0 + shift) & (lon <= lon1 + shift))
    rows = np.flatnonzero((lat >= lat0) & (lat <= lat1))
    if cols.size == 0 or rows.size == 0:
        raise ConfigError(f"bbox {options.bbox} lies outside the CEReS grid")
    rows_cut = slice(int(rows[0]), int(rows[-1]) + 1)
    cols_cut = slice(int(cols[0]), int(cols[-1]) + 1)
    return rows_cut, cols_cut, lon[cols_cut], lat[rows_cut]


def read_rows(data: bytes, shape: tuple[int, int], rows: slice) -> np.ndarray:
    """The counts of some rows of a bz2 grid, checking that it holds exactly `shape` counts."""
    ny, nx = shape
    row_bytes = nx * 2
    start, stop, total = rows.start * row_bytes, rows.stop * row_bytes, ny * row_bytes
    kept = bytearray()
    offset = 0
    for piece in bunzip2_pieces(data, total):
        low, high = max(start - offset, 0), min(stop - offset, len(piece))
        if low < high:
            kept += piece[low:high]
        offset += len(piece)
    if offset != total:
        raise ValueError(f"{offset} bytes decompressed, expected {total} ({ny}x{nx} uint16)")
    return np.frombuffer(bytes(kept), dtype=">u2").reshape(rows.stop - rows.start, nx)


class CeresReader:
    """CEReS gridded TIR/SIR counts -> brightness temperature on the lon/lat grid (cropped)."""

    options_model = CeresOptions

    def __init__(self, format: str) -> None:
        self.format = format

    def read(self, payload: Payload, options: CeresOptions) -> xr.DataArray:
        """Decompress the box's rows, convert counts through the table, georeference."""
        table = count_table(options.lut)
        rows, cols, lon, lat = crop_window(options)
        counts = read_rows(payload.read_bytes(), options.shape, rows)[:, cols]
        values = table[np.minimum(counts, table.size - 1)]
        attrs = {
            "units": options.units,
            "standard_name": options.standard_name,
            "long_name": options.long_name,
        }
        return frame_array(values, lon, lat, crs_from_string(LONLAT), attrs)
