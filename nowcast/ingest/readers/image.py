"""PNG and GeoTIFF frames: pixels -> physical values by a configured mapping and georeference.

Grey or palette-index images map linearly (`offset + scale * pixel`, `nodata` pixels -> NaN);
colour images map through `palette` ([r, g, b, value] rows; colours not listed -> NaN).
The georeference is `crs` + `extent` from the pipeline, or a GeoTIFF's own tags.
"""

from __future__ import annotations

import io

import numpy as np
import pyproj
import tifffile
import xarray as xr
from PIL import Image

from nowcast.ingest.readers.base import Payload, ReaderOptions
from nowcast.store import crs_from_string, frame_array, pixel_centres

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
MODEL_PIXEL_SCALE, MODEL_TIEPOINT, GEO_KEYS = 33550, 33922, 34735
PROJECTED_CRS_KEY, GEOGRAPHIC_CRS_KEY, USER_DEFINED = 3072, 2048, 32767


class ImageOptions(ReaderOptions):
    """Georeference and value mapping of an image product."""

    crs: str | None = None
    extent: tuple[float, float, float, float] | None = None
    band: int = 0
    scale: float = 1.0
    offset: float = 0.0
    nodata: list[float] = []
    palette: list[tuple[int, int, int, float]] | None = None
    units: str = ""
    standard_name: str = ""
    long_name: str = ""


def _geotiff_georeference(
    tif: tifffile.TiffFile, shape: tuple[int, int]
) -> tuple[tuple[float, float, float, float] | None, pyproj.CRS | None]:
    """(extent, crs) from a GeoTIFF's pixel-scale, tie-point and geo-key tags, when present."""
    tags = tif.pages[0].tags
    extent = crs = None
    if MODEL_PIXEL_SCALE in tags and MODEL_TIEPOINT in tags:
        sx, sy = tags[MODEL_PIXEL_SCALE].value[:2]
        i, j, _, x0, y0, _ = tags[MODEL_TIEPOINT].value[:6]
        left, top = x0 - i * sx, y0 + j * sy
        extent = (left, top - shape[0] * sy, left + shape[1] * sx, top)
    if GEO_KEYS in tags:
        keys = np.asarray(tags[GEO_KEYS].value).reshape(-1, 4)[1:]
        for key_id, location, _count, value in keys:
            code = int(value)
            if key_id in (PROJECTED_CRS_KEY, GEOGRAPHIC_CRS_KEY) and location == 0:
                if code != USER_DEFINED:
                    crs = crs_from_string(f"EPSG:{code}")
    return extent, crs


def _pixels(payload: Payload) -> tuple[np.ndarray, tuple | None, pyproj.CRS | None]:
    """Pixel array of the image, plus a GeoTIFF's own georeference when it has one."""
    data = payload.read_bytes()
    if data[:4] in TIFF_MAGIC:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            pixels = tif.pages[0].asarray()
            extent, crs = _geotiff_georeference(tif, pixels.shape[:2])
        return pixels, extent, crs
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode in ("RGB", "RGBA"):
            return np.asarray(image.convert("RGB")), None, None
        return np.asarray(image), None, None


def _apply_palette(rgb: np.ndarray, palette: list[tuple[int, int, int, float]]) -> np.ndarray:
    """Physical values of RGB pixels by exact colour match; unlisted colours are NaN."""
    packed = (
        (rgb[..., 0].astype(np.int64) << 16)
        | (rgb[..., 1].astype(np.int64) << 8)
        | rgb[..., 2].astype(np.int64)
    )
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b, _ in palette], dtype=np.int64)
    values = np.array([v for *_, v in palette], dtype=np.float32)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    where = np.clip(np.searchsorted(keys, packed), 0, len(keys) - 1)
    return np.where(keys[where] == packed, values[where], np.nan).astype(np.float32)


class ImageReader:
    """PNG/GeoTIFF products with a configured georeference and value mapping."""

    options_model = ImageOptions

    def __init__(self, format: str) -> None:
        self.format = format

    def read(self, payload: Payload, options: ImageOptions) -> xr.DataArray:
        """Decode the image and map its pixels to physical values on its grid."""
        pixels, extent, crs = _pixels(payload)
        extent = options.extent or extent
        crs = crs_from_string(options.crs) if options.crs else crs
        if extent is None:
            raise ValueError("image has no georeference: set source.reader.extent and crs")
        if options.palette is not None:
            if pixels.ndim != 3 or pixels.shape[2] < 3:
                raise ValueError("palette mapping needs an RGB image")
            values = _apply_palette(pixels[..., :3], options.palette)
        else:
            band = pixels[..., options.band] if pixels.ndim == 3 else pixels
            values = options.offset + options.scale * band.astype(np.float32)
            for nodata in options.nodata:
                values[band == nodata] = np.nan
        ny, nx = values.shape
        x_min, y_min, x_max, y_max = extent
        x = pixel_centres(x_min, (x_max - x_min) / nx, nx)
        y = pixel_centres(y_max, -(y_max - y_min) / ny, ny)
        attrs = {
            "units": options.units,
            "standard_name": options.standard_name,
            "long_name": options.long_name or payload.name,
        }
        return frame_array(values, x, y, crs, attrs)
