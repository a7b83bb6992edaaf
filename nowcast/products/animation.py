"""The forecast animation: observation, then each lead time, as a looping GIF."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.animation import PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nowcast.forecasting.files import init_time, iso_minutes, pipeline_name
from nowcast.products.colormaps import field_style
from nowcast.products.forecast_figure import add_colorbar
from nowcast.products.frames import forecast_frames, observation_frame
from nowcast.products.layout import LEFT_IN, RIGHT_IN, grid_layout
from nowcast.products.mapdata import map_features
from nowcast.products.panels import add_map, decorate, draw_field, draw_storm
from nowcast.products.projection import map_grid
from nowcast.products.storm import storm_from_attrs

GIF_WIDTH_IN = 5.5
GIF_DPI = 90
FRAMES_PER_SECOND = 1.25
FONT_SIZE = 8.0


def write_gif(
    ds: xr.Dataset,
    path: Path,
    width_in: float = GIF_WIDTH_IN,
    dpi: float = GIF_DPI,
    fps: float = FRAMES_PER_SECOND,
) -> Path:
    """Animate the last observation then every lead time on one map, with the Pillow writer."""
    grid = map_grid(ds)
    style = field_style(ds["forecast"])
    storm = storm_from_attrs(ds)
    frames = [observation_frame(ds), *forecast_frames(ds)]
    map_width = max(width_in - LEFT_IN - RIGHT_IN, 1.0)
    scale = width_in / GIF_WIDTH_IN
    font = max(FONT_SIZE * math.sqrt(scale), 4.0)
    heading = f"{pipeline_name(ds)}  ·  {ds.attrs.get('model', 'unknown model')}"
    heading += f"  ·  init {iso_minutes(init_time(ds))}"
    if storm is not None:
        heading += f"\nstorm {storm.label} at {storm.position} at init"
    title_in = (0.1 + 0.2 * (heading.count("\n") + 1)) * scale
    layout = grid_layout(1, 1, grid.aspect, map_width, title_in)
    fig = Figure(figsize=layout.size)
    FigureCanvasAgg(fig)
    ax = add_map(fig, layout.panels[0], grid)
    image = draw_field(ax, grid, frames[0].values, style)
    decorate(ax, grid, map_features(grid.width_km), style, font_size=font - 1)
    if storm is not None:
        draw_storm(ax, storm, font_size=font - 1)
    add_colorbar(fig, layout.colorbar, image, style)
    fig.suptitle(heading, fontsize=font + 1, y=1 - 0.08 * scale / layout.size[1], va="top")
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi):
        for frame in frames:
            image.set_data(np.ma.masked_invalid(frame.values))
            ax.set_title(frame.title.replace("\n", "  "), fontsize=font)
            writer.grab_frame(facecolor="white")
    fig.clear()
    return path
