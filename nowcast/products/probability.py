"""Probability maps of an ensemble forecast: P(R >= 1 mm/h), P(R >= 5 mm/h), ... per lead.

One row per threshold (the first `MAP_THRESHOLDS` of the file), one column per panel lead,
on the forecast's projection, with one colour bar of probability in ten steps; below 5 % is
left clear so the map shows through, no data is grey.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from nowcast.core import iso_minutes
from nowcast.products.figures import (
    FIGURE_WIDTH_IN,
    FONT_SIZE,
    TITLE_LINE_IN,
    Frame,
    add_colorbar,
    add_map,
    decorate,
    draw_field,
    grid_layout,
    lead_label,
    panel_leads,
)
from nowcast.products.maps import map_features, map_grid
from nowcast.products.styles import NO_DATA, TRANSPARENT, FieldStyle
from nowcast.store import (
    init_time,
    lead_times,
    pipeline_name,
    probability_label,
    valid_times,
)

MAP_THRESHOLDS = 2  # 1 and 5 mm/h for rain: the warning questions
LEVELS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
COLOURS = (
    "#e0f3f8",
    "#abd9e9",
    "#74add1",
    "#4575b4",
    "#fee090",
    "#fdae61",
    "#f46d43",
    "#d73027",
    "#a50026",
    "#67001f",
)


def probability_style() -> FieldStyle:
    """Probability in ten classes, clear below 5 %, grey where no data."""
    cmap = ListedColormap(COLOURS, name="nowcast_probability").with_extremes(
        under=TRANSPARENT, bad=NO_DATA
    )
    ticks = (0.05, 0.2, 0.4, 0.6, 0.8, 1.0)
    norm = BoundaryNorm(LEVELS, cmap.N)
    return FieldStyle("probability", cmap, norm, "probability", "neither", ticks)


def probability_frames(ds: xr.Dataset, threshold: int, indices: list[int]) -> list[Frame]:
    """The probabilities at one threshold for the given lead indices, titled."""
    field = ds["probability"].transpose("threshold", "lead_time", "y", "x")
    leads, valid = lead_times(ds), valid_times(ds)
    label = probability_label(ds, threshold)
    return [
        Frame(
            np.asarray(field.isel(threshold=threshold, lead_time=i).values),
            f"{label} {lead_label(leads[i])}\nvalid {iso_minutes(valid[i])}",
        )
        for i in indices
    ]


def probability_leads(leads: list[timedelta]) -> list[int]:
    """Lead indices to map: every half hour (up to 4: the warning horizon), else as the
    forecast figure's panels."""
    halves = [i for i, lead in enumerate(leads) if lead.total_seconds() % 1800 == 0]
    return halves[:4] or panel_leads(leads)


def probability_figure(ds: xr.Dataset, width_in: float = FIGURE_WIDTH_IN) -> Figure:
    """Rows of thresholds, columns of leads: the probability maps of one ensemble forecast."""
    grid = map_grid(ds)
    style = probability_style()
    features = map_features(grid.width_km)
    indices = probability_leads(lead_times(ds))
    rows = min(MAP_THRESHOLDS, ds.sizes["threshold"])
    frames = [f for k in range(rows) for f in probability_frames(ds, k, indices)]
    members = ds.sizes.get("realization", 0)
    title = (
        f"{pipeline_name(ds)} · {ds.attrs.get('method', '')} ensemble of {members} members · "
        f"init {iso_minutes(init_time(ds))}\nprobability of the event at each point"
    )
    title_in = 0.15 + TITLE_LINE_IN * 2
    panel_width = min(max(width_in / len(indices), 3.0), 5.0)
    layout = grid_layout(len(frames), len(indices), grid.aspect, panel_width, title_in)
    fig = Figure(figsize=layout.size)
    FigureCanvasAgg(fig)
    font = max(FONT_SIZE * math.sqrt(width_in / FIGURE_WIDTH_IN), 4.0)
    images = []
    for index, (frame, rect) in enumerate(zip(frames, layout.panels, strict=True)):
        ax = add_map(fig, rect, grid)
        images.append(draw_field(ax, grid, frame.values, style))
        left = index % len(indices) == 0
        decorate(ax, grid, features, style, left_labels=left, font_size=font - 1)
        ax.set_title(frame.title, fontsize=font, linespacing=1.3)
    add_colorbar(fig, layout.colorbar, images[0], style)
    fig.suptitle(title, fontsize=font + 2, y=1 - 0.1 / layout.size[1], va="top")
    return fig
