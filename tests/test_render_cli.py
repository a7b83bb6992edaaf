"""`nowcast render` through the CLI: latest, explicit files, formats, daily sheets, exit codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from forecast_fixtures import BOM_DIR, bom_forecast, requires, shifted_init, write_forecast
from typer.testing import CliRunner

from nowcast.cli.app import app

runner = CliRunner()
needs_bom = requires(BOM_DIR)


def invoke(tmp_path: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    """Run `nowcast --config <tmp>/nowcast.toml ...` with outputs under tmp_path."""
    config = tmp_path / "nowcast.toml"
    if not config.exists():
        config.write_text(
            "[output]\n"
            'forecasts = "forecasts"\nproducts = "products"\nverification = "verification"\n'
        )
    env = {"NOWCAST_FORECASTS": "", "NOWCAST_PRODUCTS": "", "CARTOPY_DATA_DIR": ""}
    return runner.invoke(app, ["--config", str(config), *args], env=env)


def test_missing_forecast_file_exits_3(tmp_path: Path) -> None:
    result = invoke(tmp_path, "render", "--forecast", str(tmp_path / "absent.nc"))
    assert result.exit_code == 3
    assert result.output.strip().splitlines()[-1] == (
        f"error: forecast file not found: {tmp_path / 'absent.nc'}"
    )


def test_no_forecasts_yet_exits_3(tmp_path: Path) -> None:
    result = invoke(tmp_path, "render", "--pipeline", "bom-radar")
    assert result.exit_code == 3
    assert "no forecast files in" in result.output and "nowcast forecast" in result.output


def test_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(tmp_path, "render", "--daily", "--date", "31/10/2020")
    assert result.exit_code == 2
    assert "2020-10-31" in result.output


@needs_bom
def test_latest_forecast_goes_to_products_folder(tmp_path: Path) -> None:
    base = bom_forecast(60, factor=8)
    for hour in (9, 10):
        init = pd.Timestamp(2020, 10, 31, hour)
        write_forecast(shifted_init(base, init), tmp_path / "forecasts")
    result = invoke(tmp_path, "render", "--forecast", "latest")
    assert result.exit_code == 0, result.output
    expected = [
        tmp_path / "products" / "bom-radar" / f"bom-radar_20201031T1000Z_persistence.{s}"
        for s in ("png", "gif")
    ]
    assert result.stdout.split() == [str(p) for p in expected]
    assert all(p.stat().st_size > 5_000 for p in expected)


@needs_bom
def test_explicit_file_one_format_custom_folder(tmp_path: Path) -> None:
    path = write_forecast(bom_forecast(60, factor=8), tmp_path / "forecasts")
    out = tmp_path / "elsewhere"
    result = invoke(
        tmp_path, "render", "--forecast", str(path), "--out", str(out), "--format", "png"
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["bom-radar_20201031T1000Z_persistence.png"]


@needs_bom
def test_daily_sheet_through_cli(tmp_path: Path) -> None:
    base = bom_forecast(60, factor=8)
    for hour in (0, 1, 6):
        write_forecast(shifted_init(base, pd.Timestamp(2020, 10, 31, hour)), tmp_path / "forecasts")
    result = invoke(tmp_path, "render", "--daily", "--date", "2020-10-31")
    assert result.exit_code == 0, result.output
    index = tmp_path / "products" / "daily" / "2020-10-31" / "index.html"
    assert result.stdout.strip() == str(index)
    assert (index.parent / "bom-radar_2020-10-31.png").stat().st_size > 10_000
    nothing = invoke(tmp_path, "render", "--daily", "--date", "2020-11-01")
    assert nothing.exit_code == 3
    assert "no forecasts initialised on 2020-11-01" in nothing.output
