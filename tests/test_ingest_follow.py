"""Storm-following mode: tracks, storm-centred boxes, and ingest that follows each storm."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_path
from ingest_fixtures import TYPHOON, cli, write_settings
from satellite_fixtures import storm_kelvin

from nowcast.core.errors import ConfigError
from nowcast.ingest.ledger import Ledger
from nowcast.ingest.pipeline import read_pipeline
from nowcast.ingest.tracks import read_tracks
from nowcast.store.archive import Archive
from nowcast.store.transform import from_attrs

TRACKS = ("metadata-fixture", "track")
FOLLOW_DT = """
[source]
kind = "directory"
path = "FRAMES"
pattern = "%Y%m%d%H%M.nc"
format = "netcdf"
variable = "tb"
cadence = "30min"

[follow]
track = "TRACKS/*.csv"
metadata = "META"
size_km = 1280
pixels = 128

[grid]
shape = [32, 32]

[transform]
kind = "linear"
vmin = 170.0
vmax = 300.0
invert = true

[checks]
shape = [320, 320]
valid_range = [150.0, 350.0]
"""
FOLLOW_ADVISORY = """
[source]
kind = "synthetic"
cadence = "1h"
center_lat = 15.0
center_lon = 130.0
pixels = 128

[follow]
track = "advisories.csv"
size_km = 640
pixels = 32

[grid]
shape = [16, 16]

[transform]
kind = "linear"
vmin = 170.0
vmax = 300.0
invert = true
"""
ADVISORIES = """time,storm_id,name,lat,lon
2024-09-01T00:00Z,WP01,ALPHA,12.0,128.0
2024-09-01T00:00Z,WP02,BETA,18.0,134.0
2024-09-01T03:00Z,WP01,ALPHA,13.5,126.5
2024-09-01T03:00Z,WP02,BETA,19.5,133.0
"""


def write_latlon_frame(path: Path, time: pd.Timestamp, centre: tuple[float, float]) -> None:
    """A CF NetCDF frame on a 0.05-degree lon/lat grid with a cold storm at `centre`."""
    lon = 120.025 + 0.05 * np.arange(320)
    lat = 15.975 - 0.05 * np.arange(320)
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        for name, values, units in (("lat", lat, "degrees_north"), ("lon", lon, "degrees_east")):
            coord = ds.createVariable(name, "f8", (name,))
            coord.units = units
            coord[:] = values
        crs = ds.createVariable("crs", "i4")
        crs.setncatts(
            {
                "grid_mapping_name": "latitude_longitude",
                "semi_major_axis": 6378137.0,
                "inverse_flattening": 298.257223563,
            }
        )
        stamp = ds.createVariable("time", "i8")
        stamp.setncatts({"standard_name": "time", "units": "seconds since 1970-01-01"})
        stamp.assignValue(int(time.timestamp()))
        tb = ds.createVariable("tb", "f4", ("lat", "lon"))
        tb.setncatts({"units": "K", "standard_name": "toa_brightness_temperature"})
        tb.grid_mapping = "crs"
        tb[:] = storm_kelvin(*np.meshgrid(lon, lat), centre)


def test_tracks_of_both_layouts(tmp_path: Path) -> None:
    root = shared_data_path(*TYPHOON, "metadata-fixture")
    tracks = read_tracks(str(root / "track" / "*.csv"), root / "metadata.json")
    assert [(t.storm_id, t.name) for t in tracks] == [("200801", "NEOGURI"), ("200802", "RAMMASUN")]
    neoguri = tracks[0]
    assert neoguri.position(pd.Timestamp("2008-04-13T00:00")) == (8.6, 128.0)
    lat, lon = neoguri.position(pd.Timestamp("2008-04-13T01:30"))
    assert lat == pytest.approx(8.66) and lon == pytest.approx(127.565)
    assert neoguri.position(pd.Timestamp("2008-04-13T02:01")) is None
    advisories = tmp_path / "advisories.csv"
    dateline = "2024-09-01T00:00Z,WP03,,30.0,179.0\n2024-09-01T06:00+00:00,WP03,,31.0,-179.0\n"
    advisories.write_text(ADVISORIES + dateline)
    alpha, beta, gamma = read_tracks(str(advisories))
    assert (alpha.storm_id, alpha.name, beta.name, gamma.name) == ("WP01", "ALPHA", "BETA", "")
    assert beta.position(pd.Timestamp("2024-09-01T03:00")) == (19.5, 133.0)
    _, across = gamma.position(pd.Timestamp("2024-09-01T03:00"))  # over the dateline, not back
    assert across == pytest.approx(180.0)
    (tmp_path / "bad.csv").write_text("when,where\n1,2\n")
    with pytest.raises(ConfigError, match="not a track CSV"):
        read_tracks(str(tmp_path / "bad.csv"))
    with pytest.raises(ConfigError, match="no storm track files"):
        read_tracks(str(tmp_path / "none-*.csv"))


def test_boxes_follow_the_digital_typhoon_track(tmp_path: Path) -> None:
    root = shared_data_path(*TYPHOON, "metadata-fixture")
    (track,) = [t for t in read_tracks(str(root / "track" / "*.csv")) if t.storm_id == "200801"]
    frames = tmp_path / "frames"
    frames.mkdir()
    times = pd.date_range("2008-04-12T23:30", "2008-04-13T02:30", freq="30min")
    for time in times:
        centre = track.position(time) or (10.0, 128.0)  # outside the track: anywhere
        write_latlon_frame(frames / f"{time:%Y%m%d%H%M}.nc", time, centre)
    config = write_settings(tmp_path)
    text = FOLLOW_DT.replace("FRAMES", str(frames)).replace("TRACKS", str(root / "track"))
    (tmp_path / "pipelines" / "follow-dt.toml").write_text(
        text.replace("META", str(root / "metadata.json"))
    )
    result = cli(config, "ingest", "-p", "follow-dt")
    assert result.exit_code == 0, result.output
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    assert archive.groups() == ["follow-dt/200801"]
    storm = archive.read("follow-dt/200801")
    assert storm.sizes == {"time": 5, "y": 32, "x": 32}
    assert (storm.attrs["storm_id"], storm.attrs["storm_name"]) == ("200801", "NEOGURI")
    expected = np.array([track.position(pd.Timestamp(t)) for t in storm.time.values])
    np.testing.assert_allclose(storm.center_lat.values, expected[:, 0], atol=1e-4)
    np.testing.assert_allclose(storm.center_lon.values, expected[:, 1], atol=1e-4)
    np.testing.assert_allclose(storm.center_lat.values[[0, 2, 4]], [8.6, 8.64, 8.68], atol=1e-4)
    pixel_m = float(storm.x[1] - storm.x[0])
    assert pixel_m == pytest.approx(40_000.0)
    for index in range(storm.sizes["time"]):
        kelvin = from_attrs(storm.attrs).to_physical(storm.isel(time=index).values)
        rows, cols = np.nonzero(kelvin < 230.0)  # the cold core, symmetric about the storm
        assert abs(float(storm.x.values[cols].mean())) < pixel_m
        assert abs(float(storm.y.values[rows].mean())) < pixel_m
    skipped = [e for e in Ledger(archive.path, "follow-dt").entries() if e.status == "skipped"]
    assert sorted(e.time for e in skipped) == ["2008-04-12T23:30:00Z", "2008-04-13T02:30:00Z"]
    assert {e.reason for e in skipped} == {"outside the tracks of all 2 followed storms"}
    assert {e.group for e in skipped} == {"follow-dt"}
    again = cli(config, "ingest", "-p", "follow-dt")
    assert again.exit_code == 0 and archive.read("follow-dt/200801").sizes["time"] == 5


def test_two_storms_in_one_frame_get_their_own_groups(tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    (tmp_path / "pipelines" / "advisory.toml").write_text(FOLLOW_ADVISORY)
    (tmp_path / "pipelines" / "advisories.csv").write_text(ADVISORIES)
    result = cli(
        config,
        "ingest",
        "-p",
        "advisory",
        "--since",
        "2024-09-01T00:00Z",
        "--until",
        "2024-09-01T04:00Z",
    )
    assert result.exit_code == 0, result.output
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    assert archive.groups() == ["advisory/WP01", "advisory/WP02"]
    alpha, beta = archive.read("advisory/WP01"), archive.read("advisory/WP02")
    assert alpha.sizes == {"time": 4, "y": 16, "x": 16} and beta.attrs["storm_name"] == "BETA"
    np.testing.assert_allclose(alpha.center_lat.values, [12.0, 12.5, 13.0, 13.5], atol=1e-4)
    np.testing.assert_allclose(
        beta.center_lon.values, [134.0, 133.6667, 133.3333, 133.0], atol=1e-3
    )
    assert not np.allclose(alpha.values, beta.values)


def test_follow_refuses_a_lonlat_crop(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(FOLLOW_ADVISORY.replace("[grid]\n", "[grid]\nbbox = [120, 5, 140, 25]\n"))
    with pytest.raises(ConfigError, match=r"with \[follow\], crop with grid.extent"):
        read_pipeline(path)
