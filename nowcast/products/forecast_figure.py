"""The forecast figure: last observation and each lead time in map panels, one colour bar."""

from __future__ import annotations

import math
from pathlib import Path

import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import FormatStrFormatter

from nowcast.forecasting.files import lead_times
from nowcast.products.colormaps import FieldStyle, field_style
from nowcast.products.frames import figure_title, forecast_frames, observation_frame, panel_leads
from nowcast.products.layout import Rect, choose_columns, grid_layout
from nowcast.products.mapdata import map_features
from nowcast.products.panels import add_map, decorate, draw_field, draw_storm
from nowcast.products.projection import map_grid
from nowcast.products.storm import storm_from_attrs

FIGURE_WIDTH_IN = 15.0
PANEL_WIDTH_IN = (3.0, 5.0)
TITLE_LINE_IN = 0.24
FONT_SIZE = 8.0


def add_colorbar(fig: Figure, rect: Rect, image: AxesImage, style: FieldStyle) -> Colorbar:
    """A horizontal colour bar with the quantity and its units."""
    cax = fig.add_axes(rect)
    bar = fig.colorbar(
        image, cax=cax, orientation="horizontal", extend=style.extend, ticks=style.ticks
    )
    bar.set_label(style.label, fontsize=FONT_SIZE + 1)
    bar.ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    bar.ax.tick_params(labelsize=FONT_SIZE)
    return bar


def forecast_figure(ds: xr.Dataset, width_in: float = FIGURE_WIDTH_IN) -> Figure:
    """Observation then forecast panels on the grid's projection, titled, with one colour bar."""
    grid = map_grid(ds)
    style = field_style(ds["forecast"])
    features = map_features(grid.width_km)
    storm = storm_from_attrs(ds)
    frames = [observation_frame(ds), *forecast_frames(ds, panel_leads(lead_times(ds)))]
    title = figure_title(ds, storm)
    ncols = choose_columns(len(frames), grid.aspect)
    scale = width_in / FIGURE_WIDTH_IN
    low, high = PANEL_WIDTH_IN
    panel_width = min(max(FIGURE_WIDTH_IN / ncols, low), high) * scale
    title_in = (0.15 + TITLE_LINE_IN * (title.count("\n") + 1)) * scale
    layout = grid_layout(len(frames), ncols, grid.aspect, panel_width, title_in)
    fig = Figure(figsize=layout.size)
    FigureCanvasAgg(fig)
    font = max(FONT_SIZE * math.sqrt(scale), 4.0)
    images = []
    for index, (frame, rect) in enumerate(zip(frames, layout.panels, strict=True)):
        ax = add_map(fig, rect, grid)
        images.append(draw_field(ax, grid, frame.values, style))
        decorate(ax, grid, features, style, left_labels=index % ncols == 0, font_size=font - 1)
        if storm is not None:
            draw_storm(ax, storm, font_size=font - 1)
        ax.set_title(frame.title, fontsize=font, linespacing=1.3)
    add_colorbar(fig, layout.colorbar, images[0], style)
    fig.suptitle(title, fontsize=font + 2, y=1 - 0.1 * scale / layout.size[1], va="top")
    return fig


def save_png(fig: Figure, path: Path, dpi: float = 100) -> Path:
    """Write the figure as PNG and free its artists."""
    fig.savefig(path, dpi=dpi, format="png", facecolor="white")
    fig.clear()
    return path
