"""Colour scales a forecaster expects for each physical quantity, chosen from CF attributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap, Normalize
from matplotlib.colors import LinearSegmentedColormap as Segmented

IR_NAMES = {"toa_brightness_temperature", "brightness_temperature"}
RATE_UNITS = {"mm/h", "mm h-1", "mm hr-1", "mm/hr", "mm.h-1"}
AMOUNT_UNITS = {"mm", "kg m-2"}
RATE_NAMES = {"rainfall_rate", "lwe_precipitation_rate", "crr_intensity"}
AMOUNT_NAMES = {"precipitation_amount", "lwe_thickness_of_precipitation_amount"}

# Cold-cloud enhancement: warm surfaces in grey (dark = warm), cloud tops below 240 K in colour.
IR_RANGE_K = (180.0, 310.0)
IR_ANCHORS_K: Sequence[tuple[float, str]] = (
    (180.0, "#ffffff"),
    (190.0, "#a000a0"),
    (200.0, "#ff0000"),
    (210.0, "#ffc800"),
    (220.0, "#00c800"),
    (230.0, "#0050ff"),
    (240.0, "#00dcff"),
    (240.0, "#e6e6e6"),
    (310.0, "#141414"),
)
IR_TICKS_K = tuple(range(180, 311, 10))

# BOM-style radar palette; one colour per interval between consecutive levels.
RAIN_COLOURS = (
    "#c8c8ff",
    "#9696ff",
    "#6464ff",
    "#1414ff",
    "#00d8c3",
    "#009690",
    "#006666",
    "#ffff00",
    "#ffc800",
    "#ff9600",
    "#ff6400",
    "#ff0000",
    "#c80000",
)
RAIN_OVER = "#780000"
RATE_LEVELS_MM_H = (0.1, 0.2, 0.5, 1, 2, 4, 6, 10, 15, 20, 30, 50, 75, 100)
AMOUNT_LEVELS_MM = (0.05, 0.1, 0.2, 0.5, 1, 1.5, 2, 3, 4, 5, 7, 10, 15, 20)
REFLECTIVITY_LEVELS_DBZ = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70)
REFLECTIVITY_NAMES = {"equivalent_reflectivity_factor"}
NO_DATA = (0.75, 0.75, 0.75, 0.35)
TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class FieldStyle:
    """How to colour one quantity: colour map, normalisation, colour-bar label, extend and ticks."""

    kind: str
    cmap: Colormap
    norm: Normalize
    label: str
    extend: str
    ticks: tuple[float, ...] | None


def _label(da: xr.DataArray, fallback: str) -> str:
    """Colour-bar label `Long name (units)` from CF attributes."""
    name = str(da.attrs.get("long_name") or da.attrs.get("standard_name") or fallback)
    name = name.replace("_", " ")
    units = da.attrs.get("units")
    return f"{name[:1].upper()}{name[1:]} ({units})" if units else name


def ir_style(da: xr.DataArray) -> FieldStyle:
    """Brightness temperature on a cold-cloud enhancement scale, 180-310 K."""
    low, high = IR_RANGE_K
    anchors = [((kelvin - low) / (high - low), colour) for kelvin, colour in IR_ANCHORS_K]
    cmap = Segmented.from_list("nowcast_ir", anchors, N=512).with_extremes(bad=NO_DATA)
    label = _label(da, "brightness temperature")
    return FieldStyle("ir", cmap, Normalize(low, high), label, "both", IR_TICKS_K)


def rain_style(da: xr.DataArray, levels: Sequence[float]) -> FieldStyle:
    """Rain on discrete radar levels, transparent below the lowest level, grey where no data."""
    cmap = ListedColormap(RAIN_COLOURS[: len(levels) - 1], name="nowcast_rain").with_extremes(
        under=TRANSPARENT, over=RAIN_OVER, bad=NO_DATA
    )
    norm = BoundaryNorm(levels, cmap.N)
    return FieldStyle("rain", cmap, norm, _label(da, "precipitation"), "max", tuple(levels))


def generic_style(da: xr.DataArray) -> FieldStyle:
    """Viridis over the 2nd-98th percentile, for quantities without a known scale."""
    values = np.asarray(da.values, dtype=float)
    finite = values[np.isfinite(values)]
    low, high = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
    cmap = colormaps["viridis"].with_extremes(bad=NO_DATA)
    norm = Normalize(float(low), float(high) if high > low else float(low) + 1.0)
    return FieldStyle("generic", cmap, norm, _label(da, "value"), "both", None)


def field_style(da: xr.DataArray) -> FieldStyle:
    """The style for a data variable, from its `standard_name` and `units`."""
    name = str(da.attrs.get("standard_name", "")).lower()
    units = str(da.attrs.get("units", "")).strip()
    if name in IR_NAMES or units == "K":
        return ir_style(da)
    if units == "dBZ" or name in REFLECTIVITY_NAMES:
        return rain_style(da, REFLECTIVITY_LEVELS_DBZ)
    if units in RATE_UNITS or name in RATE_NAMES:
        return rain_style(da, RATE_LEVELS_MM_H)
    if units in AMOUNT_UNITS or name in AMOUNT_NAMES:
        return rain_style(da, AMOUNT_LEVELS_MM)
    return generic_style(da)
