"""A forecast and a map for one storm of the Digital Typhoon archive, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr
from conftest import REPO, shared_data_path
from ingest_fixtures import TYPHOON, TYPHOON_FILE, cli, write_typhoon_frames


def test_storm_forecast_and_map(tmp_path: Path) -> None:
    real = shared_data_path(*TYPHOON, TYPHOON_FILE)
    root = tmp_path / "digital-typhoon"
    write_typhoon_frames(root, real, "202224", hours=10)
    config = tmp_path / "nowcast.toml"
    config.write_text(f'archive = "a.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n')
    env = {"NOWCAST_DIGITAL_TYPHOON_DIR": str(root)}
    ingested = cli(
        config,
        "ingest",
        "-p",
        "digital-typhoon",
        "--since",
        "2022-11-11T12:00Z",
        "--until",
        "2022-11-11T21:00Z",
        env=env,
    )
    assert ingested.exit_code == 0, ingested.output
    made = cli(
        config,
        "forecast",
        "-p",
        "digital-typhoon",
        "--baseline",
        "persistence",
        "--render",
        env=env,
    )
    assert made.exit_code == 0, made.output
    path = tmp_path / "runs" / "forecasts" / "digital-typhoon-202224"
    with xr.open_dataset(path / "digital-typhoon-202224_20221111T2100Z_persistence.nc") as forecast:
        assert forecast.attrs["pipeline"] == "digital-typhoon/202224"
        # The synthetic track moves 0.2 deg north and 0.3 deg west per hour from 20N 135E.
        assert forecast.attrs["storm_lat"] == pytest.approx(21.8, abs=1e-3)
        assert forecast.attrs["storm_lon"] == pytest.approx(132.3, abs=1e-3)
        assert forecast["forecast"].attrs["units"] == "K"
    products = tmp_path / "products" / "digital-typhoon-202224"
    for suffix in ("png", "gif"):
        drawn = products / f"digital-typhoon-202224_20221111T2100Z_persistence.{suffix}"
        assert drawn.stat().st_size > 20_000
