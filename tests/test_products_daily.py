"""Daily summary sheets: which inits, observations from later files, the scores section."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import cartopy.crs as ccrs
import pandas as pd
import pyproj
import pytest
import xarray as xr
from forecast_fixtures import (
    BOM_DIR,
    TYPHOON_FILE,
    bom_forecast,
    requires,
    shifted_init,
    typhoon_forecast,
    write_forecast,
)
from PIL import Image

from nowcast.core.errors import DataMissingError
from nowcast.products.daily import daily_cases, day_scores, render_daily, synoptic_inits
from nowcast.products.maps import map_grid
from nowcast.settings.config import OutputSettings, Settings
from nowcast.store.forecast_files import ForecastFile, list_forecasts
from nowcast.verify.table import ScoreRow, ScoreTable

DAY = date(2020, 10, 31)
needs_bom = requires(BOM_DIR)


def at(hour: int, minute: int = 0, day: int = 31) -> pd.Timestamp:
    return pd.Timestamp(2020, 10, day, hour, minute)


def fake(init: pd.Timestamp) -> ForecastFile:
    return ForecastFile(Path(f"bom-radar_{init:%Y%m%dT%H%MZ}.nc"), "bom-radar", init)


def settings_in(root: Path) -> Settings:
    output = OutputSettings(
        forecasts=root / "forecasts",
        products=root / "products",
        verification=root / "verification",
    )
    return Settings(output=output)


def test_synoptic_inits_nearest_within_three_hours() -> None:
    files = [fake(t) for t in (at(23, day=30), at(1), at(2), at(5, 50), at(7), at(16), at(23, 50))]
    chosen = [f.init_time for f in synoptic_inits(files, DAY)]
    assert chosen == [at(1), at(5, 50), at(16)], "18 UTC takes 16:00; 23:50 is too far from it"
    assert synoptic_inits([fake(at(3))], DAY) == [fake(at(3))], "one init is not repeated"
    assert synoptic_inits(files, date(2020, 11, 2)) == []


def write_day(root: Path, hours: tuple[int, ...]) -> None:
    """Small BOM forecasts initialised at the given hours of the day."""
    base = bom_forecast(60, factor=8)
    for hour in hours:
        write_forecast(shifted_init(base, at(hour)), root / "forecasts")


def write_scores(root: Path) -> None:
    """A score table as `nowcast verify` keeps it, exported to scores.csv."""
    table = ScoreTable(root / "verification" / "scores.sqlite")
    rows = [
        ScoreRow("bom-radar", init, lead, method, score, value, threshold=threshold)
        for init in ("2020-10-31T00:00:00Z", "2020-10-31T06:00:00Z", "2020-11-01T00:00:00Z")
        for lead in (60, 120, 180, 240)
        for method, offset in (("model", 0.0), ("persistence", 0.1))
        for score, threshold, value in (("MAE", None, lead / 600 + offset), ("CSI", 0.1, 0.5))
    ]
    table.upsert(rows)
    table.export_csv(root / "verification" / "scores.csv")


@needs_bom
def test_observations_come_from_later_files(tmp_path: Path) -> None:
    write_day(tmp_path, (0, 1, 2, 6))
    cases = daily_cases(list_forecasts(tmp_path / "forecasts"), DAY)
    assert [c.forecast.init_time for c in cases] == [at(0), at(6)]
    assert [o is not None for o in cases[0].observed] == [True, True, False, False]
    assert all(o is None for o in cases[1].observed), "nothing after 06 UTC yet"


def test_scores_for_the_day(tmp_path: Path) -> None:
    absent = day_scores(tmp_path / "verification", "bom-radar", DAY)
    assert absent.table is None and "no verification scores table" in absent.note
    write_scores(tmp_path)
    scores = day_scores(tmp_path / "verification", "bom-radar", DAY)
    assert scores.note.startswith("mean over 2 init(s)")
    mae = scores.table[(scores.table["key"] == "MAE") & (scores.table["method"] == "model")]
    assert list(mae["lead_h"]) == [1.0, 2.0, 3.0, 4.0]
    assert list(mae["value"]) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert "CSI (thr 0.1)" in set(scores.table["key"])
    other = day_scores(tmp_path / "verification", "saf-crr", DAY)
    assert other.table is None and "no scores for saf-crr" in other.note


@needs_bom
def test_render_daily_writes_sheet_and_index(tmp_path: Path) -> None:
    write_day(tmp_path, (0, 1, 6, 12))
    write_scores(tmp_path)
    index = render_daily(settings_in(tmp_path), DAY)
    assert index == tmp_path / "products" / "daily" / "2020-10-31" / "index.html"
    sheet = index.parent / "bom-radar_2020-10-31.png"
    html = index.read_text()
    assert 'src="bom-radar_2020-10-31.png"' in html
    assert "2020-10-31T00:00Z, 2020-10-31T06:00Z, 2020-10-31T12:00Z" in html
    assert "mean over 2 init(s)" in html
    with Image.open(sheet) as image:
        width, height = image.size
        assert width > 1000 and height > width, "three inits, two rows each, then scores"
        assert len(image.convert("RGB").getcolors(1 << 20)) > 50
    assert not list(index.parent.glob(".*")), "no temporary files left behind"


@needs_bom
def test_render_daily_without_scores_or_forecasts(tmp_path: Path) -> None:
    write_day(tmp_path, (18,))
    index = render_daily(settings_in(tmp_path), DAY)
    assert "no verification scores table" in index.read_text()
    with pytest.raises(DataMissingError, match="2020-10-30"):
        render_daily(settings_in(tmp_path), date(2020, 10, 30))
    with pytest.raises(DataMissingError):
        render_daily(settings_in(tmp_path), DAY, pipelines=["saf-crr"])


def recentred(ds: xr.Dataset, init: pd.Timestamp, lat: float, lon: float) -> xr.Dataset:
    """A storm-centred forecast moved to another init time and storm position."""
    moved = shifted_init(ds, init).assign_attrs(storm_lat=lat, storm_lon=lon)
    crs = pyproj.CRS(proj="aeqd", lat_0=lat, lon_0=lon, datum="WGS84")
    moved["crs"] = moved["crs"].copy().assign_attrs(crs.to_cf())
    return moved


@requires(TYPHOON_FILE)
def test_storm_centred_observations_keep_their_own_grid(tmp_path: Path) -> None:
    base = typhoon_forecast(factor=4)
    write_forecast(recentred(base, at(0), 8.6, 128.0), tmp_path / "forecasts")
    write_forecast(recentred(base, at(1), 9.1, 127.0), tmp_path / "forecasts")
    (case,) = daily_cases(list_forecasts(tmp_path / "forecasts"), DAY)
    observed = case.observed[0]
    assert observed.attrs["storm_lat"] == 9.1
    centre = ccrs.PlateCarree().transform_point(0, 0, map_grid(observed, "observation").projection)
    assert centre == pytest.approx((127.0, 9.1))
    index = render_daily(settings_in(tmp_path), DAY)
    assert (index.parent / "typhoon-ir_2020-10-31.png").stat().st_size > 10_000
