"""PNG images the pages show, drawn in memory: map frames, the colour bar, thumbnails."""

from __future__ import annotations

import io
import threading

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from nowcast.core.timeutil import iso_minutes
from nowcast.products.figures import add_colorbar, add_map, decorate, draw_field, lead_label
from nowcast.products.maps import map_features, map_grid
from nowcast.products.styles import field_style
from nowcast.store.forecast_files import lead_times, valid_times

FRAME_WIDTH_IN = 5.0
FRAME_DPI = 90
THUMB_PX = 200
# Matplotlib and cartopy are not thread-safe; the app draws one image at a time.
DRAW_LOCK = threading.Lock()


def _png(fig: Figure, dpi: float, tight: bool = True) -> bytes:
    """The figure as PNG bytes (cropped to what is drawn unless `tight` is False)."""
    buffer = io.BytesIO()
    crop = {"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}
    fig.savefig(buffer, dpi=dpi, format="png", facecolor="white", **crop)
    fig.clear()
    return buffer.getvalue()


def frame_values(ds: xr.Dataset, which: str) -> tuple[np.ndarray, str]:
    """`observation` or `lead-<i>`: the field and its title; KeyError for anything else."""
    if which == "observation":
        return ds["observation"].transpose("y", "x").values, "observed"
    if which.startswith("lead-") and which[5:].isdigit():
        index = int(which[5:])
        leads = lead_times(ds)
        if index < len(leads):
            field = ds["forecast"].transpose("lead_time", "y", "x").isel(lead_time=index).values
            return field, f"{lead_label(leads[index])} valid {iso_minutes(valid_times(ds)[index])}"
    raise KeyError(which)


def frame_png(ds: xr.Dataset, which: str, style_ds: xr.Dataset | None = None) -> bytes:
    """One frame on its map (native projection, coastlines), titled, no colour bar.

    `style_ds` picks the colour scale (the forecast being shown, so history frames match it).
    """
    values, title = frame_values(ds, which)
    grid = map_grid(ds)
    style = field_style((style_ds or ds)["forecast"])
    with DRAW_LOCK:
        features = map_features(grid.width_km)
        height = FRAME_WIDTH_IN / grid.aspect if grid.aspect else FRAME_WIDTH_IN
        fig = Figure(figsize=(FRAME_WIDTH_IN, min(max(height, 2.0), 8.0) + 0.4))
        FigureCanvasAgg(fig)
        ax = add_map(fig, (0.08, 0.06, 0.86, 0.86), grid)
        draw_field(ax, grid, values, style)
        decorate(ax, grid, features, style, font_size=7)
        ax.set_title(title, fontsize=9)
        return _png(fig, FRAME_DPI)


def colorbar_png(ds: xr.Dataset) -> bytes:
    """The forecast's colour scale with its quantity and units."""
    style = field_style(ds["forecast"])
    with DRAW_LOCK:
        fig = Figure(figsize=(FRAME_WIDTH_IN, 0.75))
        FigureCanvasAgg(fig)
        mappable = ScalarMappable(norm=style.norm, cmap=style.cmap)
        add_colorbar(fig, (0.05, 0.55, 0.9, 0.3), mappable, style)  # type: ignore[arg-type]
        return _png(fig, FRAME_DPI)


def thumbnail_png(ds: xr.Dataset) -> bytes:
    """A small picture of the last forecast lead for a card (plain image, no map)."""
    field = ds["forecast"].transpose("lead_time", "y", "x")
    values = field.isel(lead_time=field.sizes["lead_time"] - 1).values
    style = field_style(ds["forecast"])
    ny, nx = values.shape
    with DRAW_LOCK:
        fig = Figure(figsize=(THUMB_PX / 100, THUMB_PX / 100 * ny / max(nx, 1)))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(np.ma.masked_invalid(values), cmap=style.cmap, norm=style.norm)
        ax.set_axis_off()
        return _png(fig, 100, tight=False)


def style_label(ds: xr.Dataset) -> str:
    """The colour-bar label, e.g. `10-minute rainfall accumulation (mm)`."""
    return field_style(ds["forecast"]).label
