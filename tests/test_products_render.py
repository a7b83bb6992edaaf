"""Forecast maps from real files: BOM radar (Albers), NWC SAF (geostationary), Digital Typhoon."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from forecast_fixtures import (
    BOM_DIR,
    SAF_DIR,
    TYPHOON_FILE,
    bom_forecast,
    requires,
    saf_forecast,
    typhoon_forecast,
    write_forecast,
)
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image

import nowcast.products.render as render_module
from nowcast.core.errors import ConfigError, DataMissingError
from nowcast.products.figures import forecast_figure
from nowcast.products.render import render_forecast
from nowcast.products.styles import RAIN_COLOURS

PixelBox = tuple[int, int, int, int]


def pixel_boxes(fig: Figure, size: tuple[int, int]) -> tuple[list[PixelBox], PixelBox]:
    """Pixel boxes (left, top, right, bottom) of the map panels and of the colour bar."""
    width, height = size

    def box(ax: object) -> PixelBox:
        pos = ax.get_position()  # type: ignore[attr-defined]
        return (
            round(pos.x0 * width) + 2,
            round((1 - pos.y1) * height) + 2,
            round(pos.x1 * width) - 2,
            round((1 - pos.y0) * height) - 2,
        )

    maps = [box(ax) for ax in fig.axes if hasattr(ax, "projection")]
    bars = [box(ax) for ax in fig.axes if not hasattr(ax, "projection")]
    assert len(bars) == 1, "one shared colour bar"
    return maps, bars[0]


def drawn_figure(ds: xr.Dataset) -> tuple[np.ndarray, list[PixelBox], PixelBox]:
    """Render the panel figure at the product's dpi; the pixels and where panels and bar are."""
    fig = forecast_figure(ds)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, facecolor="white")
    pixels = np.asarray(Image.open(buffer).convert("RGB"))
    maps, bar = pixel_boxes(fig, (pixels.shape[1], pixels.shape[0]))
    return pixels, maps, bar


def crop(pixels: np.ndarray, box: PixelBox) -> np.ndarray:
    """The pixels inside a box, as (n, 3) RGB rows."""
    left, top, right, bottom = box
    return pixels[top:bottom, left:right].reshape(-1, 3)


def share_near(region: np.ndarray, colour: str, tolerance: int = 12) -> float:
    """Fraction of pixels within `tolerance` (per channel) of a colour."""
    target = np.array(to_rgb(colour)) * 255
    return float(np.all(np.abs(region.astype(int) - target) <= tolerance, axis=1).mean())


def non_white(region: np.ndarray) -> float:
    """Fraction of pixels that are not (near) white."""
    return float((region.min(axis=1) < 235).mean())


def check_written(paths: list[Path], pixels: np.ndarray, n_frames: int) -> None:
    """The PNG matches the figure drawn in the test; the GIF loops through every frame."""
    png, gif = paths
    assert png.suffix == ".png" and gif.suffix == ".gif"
    assert 20_000 < png.stat().st_size < 2_000_000
    written = np.asarray(Image.open(png).convert("RGB"))
    assert written.shape == pixels.shape
    assert np.mean(written != pixels) < 0.01, "render_forecast writes the figure it builds"
    with Image.open(gif) as animation:
        assert animation.n_frames == n_frames
        assert animation.info["loop"] == 0
        assert 200 < animation.size[0] < 1000
        frames = []
        for index in (0, n_frames - 1):
            animation.seek(index)
            frames.append(np.asarray(animation.convert("RGB")).astype(int))
    assert all(frame.std() > 20 for frame in frames), "GIF frames are not blank"
    assert np.abs(frames[0] - frames[1]).mean() > 0.1, "the animation moves"
    assert gif.stat().st_size < 1_000_000


@pytest.mark.slow
@requires(BOM_DIR)
def test_bom_radar_on_albers_grid(tmp_path: Path) -> None:
    ds = bom_forecast(60)
    pixels, maps, bar = drawn_figure(ds)
    assert len(maps) == 5, "observation and four lead times"
    for box in maps:
        region = crop(pixels, box)
        assert non_white(region) > 0.2, "rain, coastline and gridlines drawn"
        assert max(share_near(region, c) for c in RAIN_COLOURS) > 0.01, "radar colour scale used"
    bar_pixels = crop(pixels, bar)
    assert sum(share_near(bar_pixels, c) > 0.02 for c in RAIN_COLOURS) >= 10, "colour bar drawn"
    paths = render_forecast(write_forecast(ds, tmp_path / "forecasts"), tmp_path / "out")
    assert [p.name for p in paths] == [
        "bom-radar_20201031T1000Z_persistence.png",
        "bom-radar_20201031T1000Z_persistence.gif",
    ]
    check_written(paths, pixels, n_frames=5)


@pytest.mark.slow
@requires(SAF_DIR)
def test_saf_crr_on_geostationary_grid(tmp_path: Path) -> None:
    ds = saf_forecast()
    pixels, maps, bar = drawn_figure(ds)
    assert len(maps) == 5
    for box in maps:
        region = crop(pixels, box)
        assert non_white(region) > 0.03, "rain cells, coastlines and gridlines drawn"
        assert max(share_near(region, c) for c in RAIN_COLOURS) > 0.001
    assert sum(share_near(crop(pixels, bar), c) > 0.02 for c in RAIN_COLOURS) >= 10
    paths = render_forecast(ds, tmp_path, ["png", "gif"])
    assert [p.name for p in paths] == [
        "saf-crr_20180601T1200Z_persistence.png",
        "saf-crr_20180601T1200Z_persistence.gif",
    ]
    check_written(paths, pixels, n_frames=5)


@pytest.mark.slow
@requires(TYPHOON_FILE)
def test_digital_typhoon_storm_centred(tmp_path: Path) -> None:
    ds = typhoon_forecast()
    fig = forecast_figure(ds)
    title = fig.get_suptitle()
    assert "NEOGURI (200801)" in title and "8.7°N 127.4°E" in title
    assert "init 2008-04-13T02:00Z" in title and "2008-04-13T06:00Z (UTC)" in title
    fig.clear()
    pixels, maps, bar = drawn_figure(ds)
    for box in maps:
        region = crop(pixels, box)
        assert region.std() > 20, "IR field drawn"
        assert share_near(region, "#ff2020", tolerance=40) > 0.0005, "storm marker drawn"
    bar_pixels = crop(pixels, bar)
    assert share_near(bar_pixels, "#ff0000", tolerance=40) > 0.02, "cold-cloud colours"
    assert share_near(bar_pixels, "#808080", tolerance=50) > 0.1, "warm greys"
    paths = render_forecast(ds, tmp_path, ["png", "gif"])
    check_written(paths, pixels, n_frames=5)


@requires(BOM_DIR)
def test_single_format_and_bad_format(tmp_path: Path) -> None:
    ds = bom_forecast(60, factor=8)
    assert [p.suffix for p in render_forecast(ds, tmp_path, ["gif"])] == [".gif"]
    assert not list(tmp_path.glob(".*")), "no temporary files left behind"
    with pytest.raises(ConfigError, match="jpeg"):
        render_forecast(ds, tmp_path, ["jpeg"])


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ds: xr.Dataset, path: Path) -> Path:
        path.write_bytes(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setitem(render_module.WRITERS, "png", broken)
    ds = xr.Dataset(
        {
            "forecast": (("lead_time", "y", "x"), np.zeros((1, 2, 2))),
            "observation": (("y", "x"), np.zeros((2, 2))),
        },
        coords={
            "lead_time": [np.timedelta64(1, "h")],
            "time": ("lead_time", [np.datetime64("2020-10-31T11:00")]),
            "forecast_reference_time": np.datetime64("2020-10-31T10:00"),
            "x": [0.0, 1.0],
            "y": [1.0, 0.0],
        },
        attrs={"pipeline": "p"},
    )
    with pytest.raises(RuntimeError, match="disk full"):
        render_forecast(ds, tmp_path, ["png"])
    assert list(tmp_path.iterdir()) == []


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError, match="forecast file not found"):
        render_forecast(tmp_path / "nope.nc", tmp_path)
    foreign = tmp_path / "other.nc"
    xr.Dataset({"rain": (("y", "x"), np.zeros((2, 2)))}).to_netcdf(foreign, engine="netcdf4")
    with pytest.raises(ConfigError, match="not a nowcast forecast .*forecast"):
        render_forecast(foreign, tmp_path)
