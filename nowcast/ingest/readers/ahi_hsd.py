"""Himawari AHI L1b HSD segments -> brightness temperature on a lon/lat box, via satpy.

The payload is one segment (`.DAT` or `.DAT.bz2`) or a tar of segments (what the `himawari`
source downloads). Each segment is bz2-decompressed with a size cap into a temporary folder,
decoded by satpy's `ahi_hsd` reader (counts -> radiance -> brightness temperature from the
header's calibration), and resampled with pyresample onto a regular grid over `bbox` in `crs`.
satpy and pyresample are the optional extra `nowcast[satellite]`.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from nowcast.core import ConfigError
from nowcast.ingest.readers.base import Payload, ReaderOptions
from nowcast.ingest.readers.bundle import BUNDLE_SUFFIX, unpack
from nowcast.ingest.readers.bunzip import bunzip2
from nowcast.store import bbox_extent, crs_from_string, frame_array

INSTALL = "pip install 'nowcast[satellite]'"
SEGMENT_NAME = re.compile(r"^HS_\w+?_\d{8}_\d{4}_B(?P<band>\d{2})_\w+?_S\d{4}\.DAT$")
KM_PER_DEGREE = 111.32
BASIC_BLOCK = 282  # HSD header block 1; total header and data lengths sit at bytes 70-77


class AhiHsdOptions(ReaderOptions):
    """Target box (default: `grid.bbox`), its projection and spacing, resampler, size cap."""

    bbox: tuple[float, float, float, float] = Field(
        description="lon_min, lat_min, lon_max, lat_max of the resampled grid"
    )
    crs: str = "EPSG:4326"
    resolution_km: float = Field(2.0, gt=0, description="grid spacing (degrees: km / 111.32)")
    resampler: Literal["gradient_search", "nearest", "bilinear"] = "gradient_search"
    max_segment_bytes: int = Field(120_000_000, gt=0, description="cap per decompressed segment")


def satpy_modules() -> tuple[ModuleType, ModuleType]:
    """satpy and pyresample; ConfigError naming the install command when they are missing."""
    try:
        satpy = importlib.import_module("satpy")  # first: without the extra, name satpy
        pyresample = importlib.import_module("pyresample")
    except ImportError as exc:
        raise ConfigError(
            f"the ahi_hsd format needs the satellite extra ({exc.name or exc} is missing): "
            f"{INSTALL}"
        ) from None
    return satpy, pyresample


def infrared_band(names: list[str]) -> str:
    """The satpy name (`B13`) of the one infrared band that HSD segment files hold."""
    bands = {match["band"] for name in names if (match := SEGMENT_NAME.match(name))}
    if len(bands) != 1:
        raise ValueError(f"expected segments of one band, got bands {sorted(bands)}")
    band = bands.pop()
    if not 7 <= int(band) <= 16:
        raise ValueError(f"band {band} is not an infrared band (7-16)")
    return f"B{band}"


def check_segment(name: str, content: bytes) -> None:
    """Refuse a file that is not one whole HSD segment (block 1 and the stated lengths)."""
    if len(content) < BASIC_BLOCK or content[0] != 1:
        raise ValueError(f"{name}: not an HSD segment (no basic information block)")
    length = int.from_bytes(content[1:3], "little")
    header = int.from_bytes(content[70:74], "little")
    data = int.from_bytes(content[74:78], "little")
    if length != BASIC_BLOCK or header + data != len(content):
        raise ValueError(
            f"{name}: {len(content)} bytes, but its header states {header} + {data} bytes"
        )


def segment_files(payload: Payload, folder: Path, max_bytes: int) -> list[str]:
    """Write the payload's segments, decompressed, into `folder`; return their paths."""
    data = payload.read_bytes()
    parts = unpack(data) if payload.name.endswith(BUNDLE_SUFFIX) else {payload.name: data}
    paths = []
    for name, content in parts.items():
        plain = name.removesuffix(".bz2")
        if not SEGMENT_NAME.match(plain):
            raise ValueError(f"{name!r} is not named like an HSD segment (HS_*_Bnn_*.DAT[.bz2])")
        if name != plain:
            try:
                content = bunzip2(content, max_bytes)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        check_segment(name, content)
        path = folder / plain
        path.write_bytes(content)
        paths.append(str(path))
    return paths


def target_area(options: AhiHsdOptions, pyresample: ModuleType):  # noqa: ANN201 - AreaDefinition
    """The pyresample area over the box: in `crs`, pixels about `resolution_km` apart."""
    crs = crs_from_string(options.crs)
    extent = bbox_extent(options.bbox, crs)
    km = options.resolution_km
    step = km / KM_PER_DEGREE if crs.is_geographic else km * 1000.0
    width = max(1, round((extent[2] - extent[0]) / step))
    height = max(1, round((extent[3] - extent[1]) / step))
    return pyresample.geometry.AreaDefinition(
        "nowcast_box", "nowcast target box", "nowcast_box", crs, width, height, extent
    )


class AhiHsdReader:
    """AHI HSD segments decoded by satpy and resampled by pyresample onto the pipeline's box."""

    options_model = AhiHsdOptions

    def __init__(self, format: str) -> None:
        self.format = format

    def read(self, payload: Payload, options: AhiHsdOptions) -> xr.DataArray:
        """Decode the segments to brightness temperature (K) on the target box."""
        satpy, pyresample = satpy_modules()
        area = target_area(options, pyresample)
        with tempfile.TemporaryDirectory(prefix="nowcast-hsd-") as folder:
            files = segment_files(payload, Path(folder), options.max_segment_bytes)
            band = infrared_band([Path(file).name for file in files])
            scene = satpy.Scene(filenames=files, reader="ahi_hsd")
            scene.load([band], calibration="brightness_temperature", pad_data=False)
            if band not in scene:
                raise ValueError(f"no {band} brightness temperature in {payload.name}")
            native = scene[band]
            resampled = scene.resample(area, resampler=options.resampler)[band]
            values = np.asarray(resampled.values, dtype=np.float32)
        x, y = area.get_proj_vectors()
        attrs = {
            "units": "K",
            "standard_name": "toa_brightness_temperature",
            "long_name": f"Himawari AHI band {band[1:]} brightness temperature",
            "satellite": str(native.attrs.get("platform_name", "")),
        }
        time = pd.Timestamp(native.attrs["start_time"]).to_datetime64()
        return frame_array(values, x, y, area.crs, attrs, {"time": time})
