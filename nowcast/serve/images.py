"""PNG images the pages show, drawn in memory: map frames, the colour bar, thumbnails."""

from __future__ import annotations

import io
import threading

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from nowcast.core import iso_minutes
from nowcast.products import (
    FieldStyle,
    add_colorbar,
    add_map,
    decorate,
    draw_field,
    field_style,
    lead_label,
    map_features,
    map_grid,
    probability_style,
)
from nowcast.store import lead_times, probability_label, valid_times

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


def _index(text: str, size: int) -> int:
    """A non-negative index below `size` written as digits; KeyError otherwise."""
    if not text.isdigit() or int(text) >= size:
        raise KeyError(text)
    return int(text)


def frame_values(ds: xr.Dataset, which: str) -> tuple[np.ndarray, str]:
    """`observation`, `lead-<i>` (the forecast, an ensemble's mean), `member-<m>-lead-<i>` or
    `probability-<k>-lead-<i>` (an ensemble's): the field and its title; KeyError otherwise."""
    if which == "observation":
        return ds["observation"].transpose("y", "x").values, "observed"
    view, _, lead = which.rpartition("lead-")
    index = _index(lead, len(lead_times(ds)))
    when = f"{lead_label(lead_times(ds)[index])} valid {iso_minutes(valid_times(ds)[index])}"
    if view == "":
        field = ds["forecast"].transpose("lead_time", "y", "x")
        return field.isel(lead_time=index).values, when
    kind, _, number = view.rstrip("-").partition("-")
    if kind == "member" and "members" in ds:
        field = ds["members"].transpose("realization", "lead_time", "y", "x")
        member = _index(number, field.sizes["realization"])
        return field.isel(realization=member, lead_time=index).values, f"member {member} {when}"
    if kind == "probability" and "probability" in ds:
        field = ds["probability"].transpose("threshold", "lead_time", "y", "x")
        threshold = _index(number, field.sizes["threshold"])
        values = field.isel(threshold=threshold, lead_time=index).values
        return values, f"{probability_label(ds, threshold)} {when}"
    raise KeyError(which)


def frame_style(ds: xr.Dataset, which: str) -> FieldStyle:
    """The colour scale of a frame: probability for probabilities, else the forecast's."""
    return probability_style() if which.startswith("probability") else field_style(ds["forecast"])


def frame_png(ds: xr.Dataset, which: str, style_ds: xr.Dataset | None = None) -> bytes:
    """One frame on its map (native projection, coastlines), titled, no colour bar.

    `style_ds` picks the colour scale (the forecast being shown, so history frames match it).
    """
    values, title = frame_values(ds, which)
    grid = map_grid(ds)
    style = frame_style(style_ds or ds, which)
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


def colorbar_png(ds: xr.Dataset, probability: bool = False) -> bytes:
    """The forecast's colour scale with its quantity and units (or the probability scale)."""
    style = probability_style() if probability else field_style(ds["forecast"])
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
