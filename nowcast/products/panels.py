"""One map panel: the field in its native projection, coastlines, borders, gridlines, storm."""

from __future__ import annotations

import cartopy.crs as ccrs
import numpy as np
from cartopy.mpl.geoaxes import GeoAxes
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from nowcast.products.colormaps import FieldStyle
from nowcast.products.graticule import graticule
from nowcast.products.layout import Rect
from nowcast.products.mapdata import MapFeatures
from nowcast.products.projection import MapGrid
from nowcast.products.storm import Storm

GEODETIC = ccrs.Geodetic()
PLATE_CARREE = ccrs.PlateCarree()
# (coastline and border colour, gridline colour) that read on each kind of field.
LINE_COLOURS = {
    "ir": ("#ffe600", "#e8e8e8"),
    "rain": ("#303030", "#707070"),
    "generic": ("#303030", "#707070"),
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
