"""The parts of a product: colour scales, map projections, gridlines, frames, file discovery."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cartopy.crs as ccrs
import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr
from forecast_fixtures import forecast_dataset

from nowcast.core.errors import ConfigError, DataMissingError
from nowcast.products.figures import (
    choose_columns,
    figure_title,
    lead_label,
    panel_leads,
    storm_from_attrs,
)
from nowcast.products.maps import GridProjection, graticule, lat_label, lon_label, map_grid
from nowcast.products.styles import TRANSPARENT, field_style
from nowcast.store.forecast_files import (
    init_time,
    latest_forecast,
    list_forecasts,
    open_forecast,
    valid_times,
    write_netcdf,
    write_zarr,
)

INIT = pd.Timestamp("2020-10-31T10:00")
ALBERS = pyproj.CRS("+proj=aea +lon_0=153.24 +lat_0=-27.718 +lat_1=-26.2 +lat_2=-29.3")
GEOS = pyproj.CRS("+proj=geos +a=6378137 +b=6356752.3 +lon_0=0 +h=35785863")


def dataset(crs: pyproj.CRS, x: np.ndarray, y: np.ndarray, **field: str) -> xr.Dataset:
    """A forecast on the given grid with a gradient field and the given field attributes."""
    values = np.add.outer(np.arange(y.size), np.arange(x.size)).astype(float)
    attrs = {"units": "mm/h", "standard_name": "rainfall_rate", **field}
    return forecast_dataset(values, x, y, crs, INIT, attrs, {"pipeline": "p", "model": "m"})


def centres(first: float, last: float, count: int) -> np.ndarray:
    return np.linspace(first, last, count)


def test_styles_follow_cf_attributes() -> None:
    ds = dataset(ALBERS, centres(-1e4, 1e4, 8), centres(1e4, -1e4, 8))
    rain = field_style(ds["forecast"])
    assert rain.kind == "rain" and rain.ticks[0] == 0.1 and rain.extend == "max"
    assert rain.cmap(rain.norm(0.05)) == TRANSPARENT, "transparent below the lowest level"
    assert rain.label == "Rainfall rate (mm/h)"
    ds["forecast"].attrs.update(units="K", standard_name="toa_brightness_temperature")
    ir = field_style(ds["forecast"])
    assert ir.kind == "ir" and ir.label == "Toa brightness temperature (K)"
    cold, warm = ir.cmap(ir.norm(205.0)), ir.cmap(ir.norm(290.0))
    assert cold[0] > 0.9 and cold[2] < 0.2, "cold tops in colour"
    assert np.allclose(warm[:3], warm[0]), "warm surfaces in grey"
    ds["forecast"].attrs.update(units="mm", standard_name="precipitation_amount")
    assert field_style(ds["forecast"]).ticks[0] == 0.05
    ds["forecast"].attrs.update(units="dBZ", standard_name="", long_name="reflectivity")
    dbz = field_style(ds["forecast"])
    assert dbz.kind == "rain" and dbz.ticks == tuple(range(5, 71, 5))
    assert dbz.label == "Reflectivity (dBZ)" and dbz.cmap(dbz.norm(-32.0)) == TRANSPARENT
    assert dbz.cmap(dbz.norm(20.0)) != dbz.cmap(dbz.norm(45.0))
    ds["forecast"].attrs.update(units="W m-2", standard_name="", long_name="flux")
    assert field_style(ds["forecast"]).kind == "generic"


def test_albers_grid_is_drawn_in_its_own_projection() -> None:
    ds = dataset(ALBERS, centres(-127750, 127750, 512), centres(127750, -127750, 512))
    grid = map_grid(ds)
    assert isinstance(grid.projection, GridProjection)
    assert grid.extent == (-128000.0, 128000.0, -128000.0, 128000.0)
    assert grid.origin == "upper" and grid.width_km == pytest.approx(256.0)
    assert map_grid(ds).projection is grid.projection, "one projection object per grid"
    lon, lat = ccrs.PlateCarree().transform_point(0.0, 0.0, grid.projection)
    assert (lon, lat) == pytest.approx((153.24, -27.718), abs=1e-6)


def test_geostationary_view_is_clipped_to_the_disk() -> None:
    ds = dataset(GEOS, centres(-3.3e6, 3.3e6, 20), centres(5.568e6, 2.52e6, 10))
    grid = map_grid(ds)
    assert isinstance(grid.projection, ccrs.Geostationary)
    assert grid.view[3] < grid.extent[3] and grid.view[3] == pytest.approx(5.41e6, rel=1e-2)


def test_degrees_grid_is_plate_carree_centred_on_the_grid() -> None:
    ds = dataset(pyproj.CRS.from_epsg(4326), centres(170.0, 190.0, 21), centres(10.0, -10.0, 21))
    grid = map_grid(ds)
    assert isinstance(grid.projection, ccrs.PlateCarree)
    assert grid.extent == pytest.approx((-10.5, 10.5, -10.5, 10.5))
    labels = [label for _, label in graticule(grid.projection, grid.view).bottom]
    assert "180°" in labels and any(label.endswith("W") for label in labels), "dateline-safe"


def test_missing_grid_mapping_is_a_clear_error() -> None:
    ds = dataset(ALBERS, centres(0, 1e4, 4), centres(1e4, 0, 4)).drop_vars("crs")
    with pytest.raises(ConfigError, match="neither a grid mapping"):
        map_grid(ds)


def test_gridline_labels() -> None:
    assert [lon_label(v) for v in (152.5, -20.0, 0.0, 180.0, 190.0)] == [
        "152.5°E",
        "20°W",
        "0°",
        "180°",
        "170°W",
    ]
    assert [lat_label(v) for v in (-27.5, 60.0, 0.0)] == ["27.5°S", "60°N", "0°"]
    ds = dataset(ALBERS, centres(-127750, 127750, 64), centres(127750, -127750, 64))
    grid = map_grid(ds)
    lines = graticule(grid.projection, grid.view)
    assert [label for _, label in lines.bottom] == ["152°E", "153°E", "154°E"]
    assert all(label.endswith("S") for _, label in lines.left)
    assert all(grid.view[0] <= x <= grid.view[1] for x, _ in lines.bottom)


def test_lead_labels_and_panels() -> None:
    assert [lead_label(timedelta(minutes=m)) for m in (60, 30, 90, 0)] == [
        "+1 h",
        "+30 min",
        "+1 h 30 min",
        "+0 min",
    ]
    every_ten = [timedelta(minutes=10 * k) for k in range(1, 25)]
    assert panel_leads(every_ten) == [5, 11, 17, 23], "whole hours when there are many leads"
    assert panel_leads(every_ten[:3]) == [0, 1, 2]


def test_layout_columns() -> None:
    assert choose_columns(5, 1.0) == 5, "square maps in one row"
    assert choose_columns(5, 0.46) == 3, "wide maps on two rows"
    assert choose_columns(5, 2.0) == 5


def test_titles_and_storm() -> None:
    ds = dataset(ALBERS, centres(0, 1e4, 4), centres(1e4, 0, 4))
    title = figure_title(ds, None)
    assert title.splitlines() == [
        "p  ·  m (persistence)  ·  init 2020-10-31T10:00Z",
        "valid 2020-10-31T11:00Z to 2020-10-31T14:00Z (UTC)",
    ]
    assert storm_from_attrs(ds) is None
    ds.attrs.update(storm_id="202224", storm_name="BANYAN", storm_lat=8.6, storm_lon=-128.0)
    ds.attrs["track"] = (
        '[["2022-11-11T11:00:00Z", 8.5, -127.9], ["2022-11-11T12:00:00Z", 8.6, -128]]'
    )
    storm = storm_from_attrs(ds)
    assert storm.label == "BANYAN (202224)" and storm.position == "8.6°N 128.0°W"
    assert storm.track[0][0] == pd.Timestamp("2022-11-11T11:00")
    assert "storm BANYAN (202224) at 8.6°N 128.0°W" in figure_title(ds, storm)
    ds.attrs["track"] = "not json"
    assert storm_from_attrs(ds).track == ()


def test_forecast_discovery(tmp_path: Path) -> None:
    for relative in (
        "bom-radar/bom-radar_20201031T0900Z.nc",
        "bom-radar/bom-radar_20201031T1000Z.nc",
        "saf-crr/saf-crr_20201031T0930Z.nc",
        "saf-crr/saf-crr_latest.nc",
        "saf-crr/notes.txt",
        "misplaced/bom-radar_20201031T1100Z.nc",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).touch()
    names = [f.path.name for f in list_forecasts(tmp_path)]
    assert names == [
        "bom-radar_20201031T0900Z.nc",
        "saf-crr_20201031T0930Z.nc",
        "bom-radar_20201031T1000Z.nc",
    ]
    assert latest_forecast(tmp_path).path.name == "bom-radar_20201031T1000Z.nc"
    assert latest_forecast(tmp_path, "saf-crr").init_time == pd.Timestamp("2020-10-31T09:30")
    with pytest.raises(DataMissingError, match="no forecast files in .*typhoon"):
        latest_forecast(tmp_path, "typhoon")
    with pytest.raises(ConfigError, match="not a readable NetCDF"):
        open_forecast(tmp_path / "saf-crr" / "saf-crr_latest.nc")


def test_init_time_is_naive_utc_and_round_trips(tmp_path: Path) -> None:
    """Times follow the package convention (tz-naive UTC Timestamps) from name to file and back."""
    ds = dataset(ALBERS, centres(0, 1e4, 4), centres(1e4, 0, 4))
    path = write_netcdf(ds, tmp_path / "p")
    assert path.name == "p_20201031T1000Z_persistence.nc"
    (found,) = list_forecasts(tmp_path)
    assert isinstance(found.init_time, pd.Timestamp) and found.init_time.tzinfo is None
    assert found.init_time == INIT
    stored = open_forecast(found.path)
    assert init_time(stored) == INIT and init_time(stored).tzinfo is None
    assert valid_times(stored)[0] == INIT + pd.Timedelta(hours=1)
    assert all(t.tzinfo is None for t in valid_times(stored))
    with xr.open_dataset(path, decode_times=False) as raw:
        assert raw["forecast_reference_time"].attrs["units"] == "minutes since 1970-01-01"
        assert int(raw["forecast_reference_time"]) == INIT.value // 60_000_000_000
    group = write_zarr(ds, tmp_path / "forecasts.zarr")
    assert group == tmp_path / "forecasts.zarr" / "p" / "20201031T1000Z_persistence"
