"""The figures of one forecast and their parts: page geometry, the frames shown (last
observation, then each lead time), one map panel (field in its native projection, coastlines,
borders, gridlines, the storm's track), the panel figure and the looping GIF animation."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cartopy.crs as ccrs
import numpy as np
import pandas as pd
import xarray as xr
from cartopy.mpl.geoaxes import GeoAxes
from matplotlib import patheffects
from matplotlib.animation import PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import FormatStrFormatter

from nowcast.core import iso_minutes, utc
from nowcast.products.maps import GEODETIC, MapFeatures, MapGrid, graticule, map_features, map_grid
from nowcast.products.styles import FieldStyle, field_style
from nowcast.store import init_time, lead_times, pipeline_name, valid_times

log = logging.getLogger(__name__)


Rect = tuple[float, float, float, float]

LEFT_IN = 0.65
RIGHT_IN = 0.35
GAP_IN = 0.25
PANEL_TITLE_IN = 0.45
TICK_LABELS_IN = 0.3
COLORBAR_IN = 0.18
COLORBAR_LABELS_IN = 0.6


@dataclass(frozen=True)
class Layout:
    """Figure size (inches) and axes rectangles (figure fractions), panels in row-major order."""

    size: tuple[float, float]
    panels: tuple[Rect, ...]
    colorbar: Rect
    footer: Rect


def choose_columns(n_panels: int, aspect: float, target: float = 4.0) -> int:
    """Columns giving a figure near `target` width:height (log scale), with few empty slots."""

    def mismatch(ncols: int) -> float:
        nrows = math.ceil(n_panels / ncols)
        empty = nrows * ncols - n_panels
        return abs(math.log(ncols / (nrows * aspect) / target)) + 0.3 * empty

    return min(range(1, n_panels + 1), key=mismatch)


def grid_layout(
    n_panels: int,
    ncols: int,
    aspect: float,
    panel_width: float,
    title_in: float,
    footer_in: float = 0.0,
) -> Layout:
    """Panels on a grid under a title, then a shared colour bar, then an optional footer."""
    nrows = math.ceil(n_panels / ncols)
    panel_height = panel_width * aspect
    row_in = PANEL_TITLE_IN + panel_height + TICK_LABELS_IN
    width = LEFT_IN + ncols * panel_width + (ncols - 1) * GAP_IN + RIGHT_IN
    colorbar_block = COLORBAR_IN + COLORBAR_LABELS_IN
    height = title_in + nrows * row_in + colorbar_block + footer_in
    panels = []
    for index in range(n_panels):
        row, col = divmod(index, ncols)
        left = LEFT_IN + col * (panel_width + GAP_IN)
        top = title_in + row * row_in + PANEL_TITLE_IN
        bottom = height - top - panel_height
        panels.append((left / width, bottom / height, panel_width / width, panel_height / height))
    maps_width = ncols * panel_width + (ncols - 1) * GAP_IN
    bar_width = min(maps_width * 0.8, 9.0)
    bar_left = LEFT_IN + (maps_width - bar_width) / 2
    bar_bottom = footer_in + COLORBAR_LABELS_IN
    colorbar = (bar_left / width, bar_bottom / height, bar_width / width, COLORBAR_IN / height)
    footer = (LEFT_IN / width, 0.0, maps_width / width, footer_in / height)
    return Layout((width, height), tuple(panels), colorbar, footer)


@dataclass(frozen=True)
class Storm:
    """A storm's identity, its position at init time and its track so far."""

    storm_id: str
    name: str
    lat: float
    lon: float
    track: tuple[tuple[pd.Timestamp, float, float], ...]

    @property
    def label(self) -> str:
        """`NAME (id)` or whichever of the two is known."""
        if self.name and self.storm_id:
            return f"{self.name} ({self.storm_id})"
        return self.name or self.storm_id

    @property
    def position(self) -> str:
        """Position as `8.6°N 128.0°E`."""
        lat = f"{abs(self.lat):.1f}°{'N' if self.lat >= 0 else 'S'}"
        lon = f"{abs(self.lon):.1f}°{'E' if self.lon >= 0 else 'W'}"
        return f"{lat} {lon}"


def _track(raw: object) -> tuple[tuple[pd.Timestamp, float, float], ...]:
    """Parse the `track` attribute: JSON list of [iso time, lat, lon]; empty when unreadable."""
    if not raw:
        return ()
    try:
        points = json.loads(str(raw))
        return tuple((utc(datetime.fromisoformat(t)), float(a), float(o)) for t, a, o in points)
    except (ValueError, TypeError) as exc:
        log.warning("ignoring unreadable storm track attribute: %s", exc)
        return ()


def storm_from_attrs(ds: xr.Dataset) -> Storm | None:
    """The storm described by the global attributes, or None for non-storm forecasts."""
    attrs = ds.attrs
    if "storm_lat" not in attrs or "storm_lon" not in attrs:
        return None
    return Storm(
        storm_id=str(attrs.get("storm_id", "")),
        name=str(attrs.get("storm_name", "")),
        lat=float(attrs["storm_lat"]),
        lon=float(attrs["storm_lon"]),
        track=_track(attrs.get("track")),
    )


MAX_PANELS = 4


@dataclass(frozen=True)
class Frame:
    """One field to draw and its two-line panel title."""

    values: np.ndarray
    title: str


def lead_label(lead: timedelta) -> str:
    """A lead time as `+1 h`, `+30 min` or `+1 h 30 min`."""
    minutes = round(lead.total_seconds() / 60)
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest or not hours else [])
    return "+" + " ".join(parts)


def panel_leads(leads: list[timedelta]) -> list[int]:
    """Indices of the leads to give panels: whole hours (up to 4) when there are many leads."""
    if len(leads) <= MAX_PANELS:
        return list(range(len(leads)))
    hourly = [i for i, lead in enumerate(leads) if lead.total_seconds() % 3600 == 0]
    return (hourly or list(range(len(leads))))[:MAX_PANELS]


def observation_frame(ds: xr.Dataset) -> Frame:
    """The last observed frame, at init time."""
    values = ds["observation"].transpose("y", "x").values
    return Frame(values, f"Observed\n{iso_minutes(init_time(ds))}")


def forecast_frames(ds: xr.Dataset, indices: list[int] | None = None) -> list[Frame]:
    """The forecast at the given lead indices (all when None), titled with lead and valid time."""
    leads, valid = lead_times(ds), valid_times(ds)
    field = ds["forecast"].transpose("lead_time", "y", "x")
    chosen = range(len(leads)) if indices is None else indices
    return [
        Frame(
            field.isel(lead_time=i).values, f"{lead_label(leads[i])}\nvalid {iso_minutes(valid[i])}"
        )
        for i in chosen
    ]


def figure_title(ds: xr.Dataset, storm: Storm | None) -> str:
    """Pipeline, model, method, init time and valid-time range, plus the storm if any."""
    model = ds.attrs.get("model", "unknown model")
    method = ds.attrs.get("method", "model")
    valid = valid_times(ds)
    lines = [
        f"{pipeline_name(ds)}  ·  {model} ({method})  ·  init {iso_minutes(init_time(ds))}",
        f"valid {iso_minutes(valid[0])} to {iso_minutes(valid[-1])} (UTC)",
    ]
    if storm is not None:
        lines.append(f"storm {storm.label} at {storm.position} at init")
    return "\n".join(lines)


PLATE_CARREE = ccrs.PlateCarree()
# (coastline and border colour, gridline colour) that read on each kind of field.
LINE_COLOURS = {
    "ir": ("#ffe600", "#e8e8e8"),
    "rain": ("#303030", "#707070"),
    "generic": ("#303030", "#707070"),
    "probability": ("#303030", "#707070"),
}
STORM_COLOUR = "#ff2020"
LABEL_CHARS = 7  # a longitude label such as 117.5°E
HALO = [patheffects.withStroke(linewidth=2.2, foreground="white")]


def add_map(fig: Figure, rect: Rect, grid: MapGrid) -> GeoAxes:
    """A map axes on the grid's own projection, showing the grid's visible view."""
    ax = fig.add_axes(rect, projection=grid.projection)
    x0, x1, y0, y1 = grid.view
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return ax


def draw_field(ax: GeoAxes, grid: MapGrid, values: np.ndarray, style: FieldStyle) -> AxesImage:
    """The field as an image in its native projection (no warping); NaN shows as no-data."""
    return ax.imshow(
        np.ma.masked_invalid(values),
        extent=grid.extent,
        origin=grid.origin,
        transform=grid.projection,
        cmap=style.cmap,
        norm=style.norm,
    )


def decorate(
    ax: GeoAxes,
    grid: MapGrid,
    features: MapFeatures,
    style: FieldStyle,
    left_labels: bool = True,
    bottom_labels: bool = True,
    font_size: float = 7.0,
) -> None:
    """Coastlines, borders (when available) and lat/lon gridlines labelled on the edges."""
    colour, grid_colour = LINE_COLOURS[style.kind]
    if features.coastline is not None:
        ax.add_feature(features.coastline, edgecolor=colour, linewidth=0.7, zorder=3)
    if features.borders is not None:
        ax.add_feature(features.borders, edgecolor=colour, linewidth=0.5, linestyle=":", zorder=3)
    layers = (("coastline", features.coastline), ("border", features.borders))
    missing = [name for name, feature in layers if feature is None]
    if missing:
        note = f"no {' or '.join(missing)} data offline (pip install nowcast[maps])"
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=font_size - 1.5, color=colour)
    box = ax.get_position()
    width_in, height_in = (
        box.width * ax.figure.get_figwidth(),
        box.height * ax.figure.get_figheight(),
    )
    label_in = LABEL_CHARS * 0.6 * font_size / 72
    lon_lines = int(np.clip(width_in / (1.4 * label_in), 2, 6))
    lat_lines = int(np.clip(height_in / (4 * font_size / 72), 2, 6))
    lines = graticule(grid.projection, grid.view, lon_lines, lat_lines)
    ax.plot(*lines.lines, color=grid_colour, linewidth=0.4, linestyle="--", alpha=0.7, zorder=4)
    bottom = lines.bottom if bottom_labels else ()
    left = lines.left if left_labels else ()
    ax.set_xticks([x for x, _ in bottom])
    ax.set_xticklabels([label for _, label in bottom])
    ax.set_yticks([y for y, _ in left])
    ax.set_yticklabels([label for _, label in left])
    ax.tick_params(labelsize=font_size, length=2, pad=1.5)


def draw_storm(ax: GeoAxes, storm: Storm, font_size: float = 7.0) -> None:
    """The storm's track so far and its position at init time, labelled with its name."""
    if storm.track:
        lats = [lat for _, lat, _ in storm.track]
        lons = [lon for _, _, lon in storm.track]
        ax.plot(lons, lats, transform=GEODETIC, color=STORM_COLOUR, linewidth=1.2, zorder=5)
        ax.plot(lons, lats, "o", transform=PLATE_CARREE, color=STORM_COLOUR, ms=2.5, zorder=5)
    ax.plot(
        storm.lon,
        storm.lat,
        marker="o",
        markersize=10,
        markerfacecolor="none",
        markeredgecolor=STORM_COLOUR,
        markeredgewidth=1.8,
        transform=PLATE_CARREE,
        zorder=6,
    )
    ax.plot(storm.lon, storm.lat, "+", color=STORM_COLOUR, ms=10, mew=1.5, transform=PLATE_CARREE)
    if storm.name:
        ax.annotate(
            storm.name,
            xy=ax.projection.transform_point(storm.lon, storm.lat, PLATE_CARREE),
            xytext=(8, 8),
            textcoords="offset points",
            color=STORM_COLOUR,
            fontsize=font_size + 1,
            fontweight="bold",
            path_effects=HALO,
            zorder=6,
        )


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


GIF_WIDTH_IN = 5.5
GIF_DPI = 90
FRAMES_PER_SECOND = 1.25


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
