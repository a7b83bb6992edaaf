"""The map a forecast is drawn on: its CF grid mapping as a cartopy projection, and its extent."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cartopy.crs as ccrs
import numpy as np
import pyproj
import xarray as xr

from nowcast.core.errors import ConfigError

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
