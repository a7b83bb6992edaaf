"""`nowcast demo --quick`: the whole chain on a fresh folder, then again reusing what is there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from conftest import shared_data_path
from ingest_fixtures import BOM
from typer.testing import CliRunner

from nowcast.cli import app

CLEAN_ENV = {"NOWCAST_CONFIG": "", "NOWCAST_ARCHIVE": "", "NOWCAST_DEVICE": "cpu"}


def test_demo_quick_end_to_end(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo"
    first = runner.invoke(app, ["demo", "--quick", "--out", str(out)], env=CLEAN_ENV)
    assert first.exit_code == 0, first.output
    netcdf = sorted((out / "forecasts" / "demo").glob("demo_*.nc"))
    assert len(netcdf) == 1
    with xr.open_dataset(netcdf[0]) as forecast:
        assert forecast.attrs["method"] == "model"
        assert forecast["forecast"].shape == (4, 64, 64)
        assert forecast["forecast"].attrs["units"] == "K"
    stem = netcdf[0].stem
    for suffix in ("png", "gif"):
        assert (out / "products" / "demo" / f"{stem}.{suffix}").stat().st_size > 10_000
    report = (out / "verification" / "report" / "report.md").read_text()
    assert "## demo" in report and "persistence" in report and "extrapolation" in report
    assert (out / "checkpoints" / "demo" / "card.md").is_file()
    assert "backtest demo" in first.output and "CSI @ 220" in first.output

    second = runner.invoke(app, ["demo", "--quick", "--out", str(out)], env=CLEAN_ENV)
    assert second.exit_code == 0, second.output
    assert "reused the trained checkpoint" in second.output
    assert "fetched 0" in second.output or "fetched 1" in second.output


def test_demo_on_the_real_bom_day(tmp_path: Path) -> None:
    bom = shared_data_path(*BOM)
    out = tmp_path / "bom"
    args = ["demo", "--quick", "--real", "bom", "--data", str(bom), "--out", str(out)]
    result = CliRunner().invoke(app, args, env=CLEAN_ENV)
    assert result.exit_code == 0, result.output
    assert "bom-radar fetched 144" in result.output
    netcdf = out / "forecasts" / "bom-radar" / "bom-radar_20201031T2350Z.nc"
    with xr.open_dataset(netcdf) as forecast:
        # Trained on hourly-strided windows, the model forecasts 4 hourly lead times.
        assert forecast["forecast"].shape == (4, 64, 64)
        assert forecast["lead_time"].values[-1] == np.timedelta64(240, "m")
    assert (out / "products" / "bom-radar" / f"{netcdf.stem}.png").is_file()
    assert "backtest bom-radar" in result.output
