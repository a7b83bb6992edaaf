"""Offline-safe map data: local shapefiles, the no-data path, and bounded network attempts."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from forecast_fixtures import BOM_DIR, bom_forecast, requires

from nowcast.products import maps
from nowcast.products.render import render_forecast

GSHHS_CRUDE = maps.SYSTEM_DATA_DIR / "shapefiles" / "gshhs" / "c" / "GSHHS_c_L1.shp"


class Records(logging.Handler):
    """Keeps the records of the `nowcast.products` loggers (the CLI may stop propagation)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.WARNING]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("nowcast.products")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network, whatever the machine running the tests has."""
    monkeypatch.setattr(maps, "network_available", lambda: False)


@requires(BOM_DIR)
def test_empty_data_dir_renders_without_coastlines_and_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: Records, offline: None
) -> None:
    empty = tmp_path / "cartopy-data"
    empty.mkdir()
    monkeypatch.setenv("CARTOPY_DATA_DIR", str(empty))
    ds = bom_forecast(60, factor=8)
    paths = render_forecast(ds, tmp_path / "out", ["png", "gif"])
    paths += render_forecast(ds, tmp_path / "again", ["png"])
    assert all(path.stat().st_size > 5_000 for path in paths)
    assert len(records.warnings()) == 1
    assert "no coastline data" in records.warnings()[0] and str(empty) in records.warnings()[0]


def test_explicit_data_dir_is_the_only_place_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARTOPY_DATA_DIR", str(tmp_path))
    assert maps.data_dirs() == (tmp_path,)
    monkeypatch.delenv("CARTOPY_DATA_DIR")
    assert maps.SYSTEM_DATA_DIR in maps.data_dirs()


def test_resolution_follows_map_size(tmp_path: Path) -> None:
    """The coarsest set still as fine as a pixel of the map, else the finest there is."""
    for relative in (
        "shapefiles/natural_earth/physical/ne_10m_coastline.shp",
        "shapefiles/natural_earth/physical/ne_110m_coastline.shp",
        "shapefiles/gshhs/c/GSHHS_c_L1.shp",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).touch()
    candidates = list(maps._coastline_files(tmp_path))
    assert maps._best(candidates, 256 / 400)[0].name == "ne_10m_coastline.shp"
    assert maps._best(candidates, 9000 / 400)[0].name == "ne_110m_coastline.shp"
    assert maps._best(candidates, 40000 / 400)[0].name == "GSHHS_c_L1.shp"
    (tmp_path / "gshhs_h.dat").touch()
    assert maps._best(list(maps._coastline_files(tmp_path)), 256 / 400)[0].name == "gshhs_h.dat"


@pytest.mark.skipif(not GSHHS_CRUDE.exists(), reason="python-cartopy-data (GSHHS) not installed")
def test_debian_gshhs_coastlines_are_found_and_said_to_be_coarse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: Records, offline: None
) -> None:
    monkeypatch.setenv("CARTOPY_DATA_DIR", str(maps.SYSTEM_DATA_DIR))
    monkeypatch.setattr(maps, "_warned", set())
    features = maps.map_features(256.0)
    maps.map_features(256.0)
    assert features.coastline is not None
    assert len(list(features.coastline.geometries())) > 100
    assert len(records.warnings()) == 1
    assert "GSHHS_c_L1.shp" in records.warnings()[0] and "nowcast[maps]" in records.warnings()[0]


@pytest.mark.skipif(maps.bundled_data_dir() is None, reason="the maps extra is not installed")
def test_maps_extra_gives_borders_and_fine_coastlines_offline(
    monkeypatch: pytest.MonkeyPatch, records: Records, offline: None
) -> None:
    """Belgium and inland Finland get a reference line: Natural Earth borders, 10 m coasts."""
    monkeypatch.delenv("CARTOPY_DATA_DIR", raising=False)
    assert maps.bundled_data_dir() in maps.data_dirs()
    features = maps.map_features(1200.0)
    assert features.borders is not None and features.coastline is not None
    assert len(list(features.borders.geometries())) > 100
    assert records.warnings() == []


@requires(BOM_DIR)
def test_a_map_without_border_data_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: None
) -> None:
    drawn: list[str] = []
    monkeypatch.setattr(
        "matplotlib.axes.Axes.text", lambda ax, x, y, s, **kw: drawn.append(s), raising=True
    )
    empty = tmp_path / "cartopy-data"
    empty.mkdir()
    monkeypatch.setenv("CARTOPY_DATA_DIR", str(empty))
    render_forecast(bom_forecast(60, factor=8), tmp_path / "out", ["png"])
    assert any("no coastline or border data offline" in text for text in drawn)


def test_network_probe_is_bounded_and_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    timeouts: list[float] = []

    def unreachable(request: object, timeout: float) -> None:
        timeouts.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(maps, "_probe", {})
    monkeypatch.setattr(maps.urllib.request, "urlopen", unreachable)
    assert maps.network_available() is False
    assert maps.network_available() is False
    assert timeouts == [maps.PROBE_TIMEOUT_S] and maps.PROBE_TIMEOUT_S <= 3


def test_network_probe_with_unresolvable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maps, "_probe", {})
    monkeypatch.setattr(maps, "NATURAL_EARTH_URL", "https://nowcast-test.invalid/")
    start = time.monotonic()
    assert maps.network_available() is False
    assert time.monotonic() - start < 5.0


def test_hung_download_is_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: Records
) -> None:
    monkeypatch.setenv("CARTOPY_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(maps, "_probe", {"at": time.monotonic(), "ok": True})
    monkeypatch.setattr(maps, "DOWNLOAD_TIMEOUT_S", 0.2)
    monkeypatch.setattr(maps.shapereader, "natural_earth", lambda *a, **k: time.sleep(3))
    start = time.monotonic()
    features = maps.map_features(500.0)
    assert time.monotonic() - start < 2.0
    assert features.coastline is None
    assert len(records.warnings()) == 1
    assert maps.network_available() is False, "no second attempt within the hour"
