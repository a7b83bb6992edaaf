"""Lat/lon gridlines with edge labels, projected in one vectorised call per map.

Cartopy's Gridliner re-traces every line point by point on each draw, which made it most of
a render's time; here each map's lines are projected once, as arrays, cached, and labelled
where they cross the map's left and bottom edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cartopy.crs as ccrs
import numpy as np
from matplotlib.ticker import MaxNLocator

GEODETIC = ccrs.Geodetic()
EDGE_SAMPLES = 60
LINE_SAMPLES = 240
TARGET_LINES = 5
MIN_LABEL_GAP = 0.06


@dataclass(frozen=True)
class Graticule:
    """Projected gridlines (NaN-separated x, y) and their labelled edge crossings."""

    lines: tuple[np.ndarray, np.ndarray]
    bottom: tuple[tuple[float, str], ...]
    left: tuple[tuple[float, str], ...]


def lon_label(lon: float) -> str:
    """`152.5°E`, `20°W`, `0°` or `180°`."""
    lon = (lon + 180.0) % 360.0 - 180.0
    if np.isclose(abs(lon), 180.0) or np.isclose(lon, 0.0):
        return f"{abs(lon):g}°"
    return f"{abs(lon):g}°{'E' if lon > 0 else 'W'}"


def lat_label(lat: float) -> str:
    """`27.5°S`, `60°N` or `0°`."""
    return "0°" if np.isclose(lat, 0.0) else f"{abs(lat):g}°{'N' if lat > 0 else 'S'}"


def _lonlat_range(
    projection: ccrs.Projection, view: tuple[float, float, float, float]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Longitude and latitude span of the view, from its edges and interior (dateline-safe)."""
    x0, x1, y0, y1 = view
    xs, ys = np.meshgrid(np.linspace(x0, x1, EDGE_SAMPLES), np.linspace(y0, y1, EDGE_SAMPLES))
    points = GEODETIC.transform_points(projection, xs.ravel(), ys.ravel())
    lon, lat = points[:, 0], points[:, 1]
    finite = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[finite], lat[finite]
    shifted = np.where(lon < 0, lon + 360.0, lon)
    if np.ptp(shifted) < np.ptp(lon):
        lon = shifted
    return (float(lon.min()), float(lon.max())), (float(lat.min()), float(lat.max()))


def _ticks(span: tuple[float, float], inner: tuple[float, float], count: int) -> np.ndarray:
    """Round values across `span`, about `count` over the map judged by its central half.

    The central half sets the spacing because near a geostationary limb the full span is huge.
    """
    locator = MaxNLocator(nbins=count, steps=[1, 2, 2.5, 5, 10])
    step = float(np.diff(locator.tick_values(0.0, 2.0 * (inner[1] - inner[0]))[:2])[0])
    low, high = span
    return np.arange(np.ceil(low / step) * step, high + step * 1e-6, step)


def _project(projection: ccrs.Projection, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Project lon/lat points; points outside the projection's domain become NaN."""
    points = projection.transform_points(GEODETIC, lon, lat)[:, :2]
    points[~np.isfinite(points).all(axis=1)] = np.nan
    return points


def _crossing(points: np.ndarray, axis: int, edge: float, limits: tuple[float, float]) -> float:
    """Where a projected line first crosses `coordinate[axis] == edge` within limits, or NaN."""
    along = points[:, axis] - edge
    other = points[:, 1 - axis]
    for i in np.flatnonzero(np.sign(along[:-1]) * np.sign(along[1:]) < 0):
        t = along[i] / (along[i] - along[i + 1])
        value = other[i] + t * (other[i + 1] - other[i])
        if limits[0] <= value <= limits[1]:
            return float(value)
    return float("nan")


def _spaced(labels: list[tuple[float, str]], span: float) -> tuple[tuple[float, str], ...]:
    """Labels in edge order, dropping any closer than MIN_LABEL_GAP of the edge to the last kept."""
    kept: list[tuple[float, str]] = []
    for position, text in sorted(labels):
        if not kept or position - kept[-1][0] >= MIN_LABEL_GAP * span:
            kept.append((position, text))
    return tuple(kept)


@lru_cache(maxsize=64)
def graticule(
    projection: ccrs.Projection,
    view: tuple[float, float, float, float],
    lon_lines: int = TARGET_LINES,
    lat_lines: int = TARGET_LINES,
) -> Graticule:
    """Meridians and parallels over the view, with label positions on its bottom and left edges."""
    x0, x1, y0, y1 = view
    (lon_min, lon_max), (lat_min, lat_max) = _lonlat_range(projection, view)
    dx, dy = (x1 - x0) / 4, (y1 - y0) / 4
    inner_lon, inner_lat = _lonlat_range(projection, (x0 + dx, x1 - dx, y0 + dy, y1 - dy))
    lons = _ticks((lon_min, lon_max), inner_lon, lon_lines)
    lats = _ticks((lat_min, lat_max), inner_lat, lat_lines)
    # Lines run a little past the view so that they cross its edges.
    lon_pad, lat_pad = 0.05 * (lon_max - lon_min), 0.05 * (lat_max - lat_min)
    along_lat = np.linspace(max(lat_min - lat_pad, -90), min(lat_max + lat_pad, 90), LINE_SAMPLES)
    along_lon = np.linspace(lon_min - lon_pad, lon_max + lon_pad, LINE_SAMPLES)
    pieces, bottom, left = [], [], []
    for lon in lons:
        line = _project(projection, np.full_like(along_lat, lon), along_lat)
        pieces.append(line)
        x = _crossing(line, 1, y0, (x0, x1))
        if np.isfinite(x):
            bottom.append((x, lon_label(lon)))
    for lat in lats:
        line = _project(projection, along_lon, np.full_like(along_lon, lat))
        pieces.append(line)
        y = _crossing(line, 0, x0, (y0, y1))
        if np.isfinite(y):
            left.append((y, lat_label(lat)))
    gap = np.full((1, 2), np.nan)
    joined = np.concatenate([part for line in pieces for part in (line, gap)]) if pieces else gap
    lines = (joined[:, 0], joined[:, 1])
    return Graticule(lines, _spaced(bottom, x1 - x0), _spaced(left, y1 - y0))
