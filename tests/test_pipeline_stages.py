"""The pipeline's stages on their own: value transforms, regridding and frame checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr

from nowcast.core.errors import ConfigError
from nowcast.ingest.checks import FrameChecks, frame_problem, mask_outliers
from nowcast.store.grid import GridSpec, Regridder, block_mean, crs_of, frame_array, pixel_centres
from nowcast.store.transform import Transform, from_attrs

ALBERS = pyproj.CRS.from_proj4("+proj=aea +lat_1=-26.2 +lat_2=-29.3 +lat_0=-27.7 +lon_0=153.2")


def test_linear_inverted_brightness_temperature_roundtrip() -> None:
    transform = Transform(kind="linear", vmin=170, vmax=300, invert=True)
    kelvin = np.array([170.0, 235.0, 300.0, 320.0], dtype=np.float32)
    model = transform.to_model(kelvin)
    np.testing.assert_allclose(model, [1.0, 0.5, 0.0, 0.0])
    back = from_attrs(transform.to_attrs()).to_physical(model)
    np.testing.assert_allclose(back, [170.0, 235.0, 300.0, 300.0], rtol=1e-6)


def test_log_rain_rate_roundtrip_and_dry_pixels() -> None:
    transform = Transform(kind="log10", vmin=0.1, vmax=100.0, fill=0.0)
    rain = np.array([np.nan, 0.0, 0.05, 0.1, 1.0, 100.0, 500.0], dtype=np.float32)
    model = transform.to_model(rain)
    assert model.dtype == np.float32 and np.isfinite(model).all()
    np.testing.assert_allclose(model, [0, 0, 0, 0, 1 / 3, 1, 1], atol=1e-6)
    np.testing.assert_allclose(transform.to_physical(model), [0, 0, 0, 0, 1, 100, 100], rtol=1e-5)


def test_transform_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError, match="vmax"):
        Transform(kind="linear", vmin=1, vmax=1)
    with pytest.raises(ValueError, match="vmin > 0"):
        Transform(kind="log10", vmin=0, vmax=1)
    assert from_attrs({}).kind == "identity"


def physical(ny: int = 512, nx: int = 512, fill: float | None = None) -> xr.DataArray:
    """A physical frame on a 500 m Albers grid, values = column index (or `fill`)."""
    values = (
        np.tile(np.arange(nx, dtype=np.float32), (ny, 1))
        if fill is None
        else np.full((ny, nx), fill)
    )
    x = pixel_centres(-nx * 250.0, 500.0, nx)
    y = pixel_centres(ny * 250.0, -500.0, ny)
    return frame_array(values, x, y, ALBERS, {"units": "mm"})


def test_block_mean_to_64_keeps_georeference() -> None:
    frame = physical()
    out = Regridder(GridSpec(shape=(64, 64)))(frame)
    assert out.shape == (64, 64)
    assert float(out.x[1] - out.x[0]) == 4000.0 and float(out.x.mean()) == pytest.approx(0.0)
    np.testing.assert_allclose(out.values[0, :3], [3.5, 11.5, 19.5])
    assert crs_of(out).equals(ALBERS)
    assert out.lat.shape == (64, 64) and -29 < float(out.lat.mean()) < -26


def test_block_mean_ignores_missing_pixels() -> None:
    values = np.array([[1, np.nan, 3, 3], [np.nan, np.nan, 3, 3]], dtype=np.float32)
    np.testing.assert_allclose(block_mean(values, (2, 2)), [[1.0, 3.0]])
    assert np.isnan(block_mean(np.full((2, 2), np.nan, np.float32), (2, 2))[0, 0])


def test_crop_by_extent_and_uneven_sizes() -> None:
    frame = physical(640, 710)
    out = Regridder(GridSpec(shape=(64, 64)))(frame)
    assert out.shape == (64, 64)  # 710 is trimmed evenly to 704 = 64 x 11
    assert float(out.x[1] - out.x[0]) == 5500.0
    cropped = Regridder(GridSpec(shape=(16, 16), extent=(-32000, -32000, 32000, 32000)))(frame)
    assert cropped.shape == (16, 16) and abs(float(cropped.x[0])) < 32000
    with pytest.raises(ConfigError, match="outside the source grid"):
        Regridder(GridSpec(extent=(1e7, 1e7, 2e7, 2e7)))(frame)
    with pytest.raises(ConfigError, match="finer than"):
        Regridder(GridSpec(shape=(1024, 1024)))(frame)


def test_crop_by_lonlat_box() -> None:
    out = Regridder(GridSpec(shape=(32, 32), bbox=(152.8, -28.1, 153.6, -27.3)))(physical())
    assert out.shape == (32, 32)
    assert 152.7 < float(out.lon.min()) and float(out.lon.max()) < 153.7


def test_checks_name_each_problem() -> None:
    checks = FrameChecks(shape=(512, 512), valid_range=(0, 500), max_outliers=0.001)
    when = pd.Timestamp("2020-10-31T12:00")
    assert frame_problem(physical(fill=1.0), when, checks) is None
    assert "wrong shape" in frame_problem(physical(100, 100), when, checks)
    assert "all values missing" in frame_problem(physical(fill=np.nan), when, checks)
    assert "out of range" in frame_problem(physical(fill=1000.0), when, checks)
    stamped = physical(fill=1.0).assign_coords(time=np.datetime64("2020-10-31T12:10"))
    assert "timestamp mismatch" in frame_problem(stamped, when, checks)
    one_bad = physical(fill=1.0)
    one_bad.values[0, 0] = -0.1
    assert frame_problem(one_bad, when, checks) is None
    masked, count = mask_outliers(one_bad.values, checks)
    assert np.isnan(masked[0, 0]) and count == 1
