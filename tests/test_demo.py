"""`nowcast demo --quick`: the whole chain on a fresh folder, then again reusing what is there."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import time_machine
import xarray as xr
from conftest import shared_data_path
from ingest_fixtures import BOM
from typer.testing import CliRunner

from nowcast.cli.app import app

CLEAN_ENV = {"NOWCAST_CONFIG": "", "NOWCAST_ARCHIVE": "", "NOWCAST_DEVICE": "cpu"}


# Three wall clocks: the day the storm-phase bug showed, a leap day, and a date years ahead.
CLOCKS = ("2026-12-01T05:00:00Z", "2028-02-29T17:30:00Z", "2031-07-15T00:00:00Z")


def _run_demo_at(clock: str, out: Path) -> str:
    """`nowcast demo --quick` with the wall clock frozen at `clock`; returns its output."""
    with time_machine.travel(clock, tick=False):
        result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)], env=CLEAN_ENV)
    assert result.exit_code == 0, result.output
    return result.output


def _score_lines(output: str) -> list[str]:
    """The backtest table's rows of the demo's output (paths and timings left out)."""
    return [line for line in output.splitlines() if "+" in line and " min " in line]


def test_demo_quick_end_to_end(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo"
    with time_machine.travel(CLOCKS[0], tick=False):
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

    # The demo period is fixed: a rerun on another date finds nothing new to fetch.
    second = _run_demo_at(CLOCKS[2], out)
    assert "reused the trained checkpoint" in second
    assert re.search(r"demo\s+fetched\s+0,", second)


def test_demo_output_does_not_depend_on_the_date(tmp_path: Path) -> None:
    """The same demo on two other dates: same frames, same forecast, same score table."""
    outputs, forecasts = [], []
    for index, clock in enumerate(CLOCKS[1:]):
        out = tmp_path / f"demo-{index}"
        outputs.append(_run_demo_at(clock, out))
        (netcdf,) = sorted((out / "forecasts" / "demo").glob("demo_*.nc"))
        assert netcdf.name.startswith("demo_20240905T0600Z")
        with xr.open_dataset(netcdf) as forecast:
            forecasts.append(forecast["forecast"].values)
    assert all(re.search(r"demo\s+fetched\s+97,", output) for output in outputs)
    np.testing.assert_array_equal(forecasts[0], forecasts[1])
    assert _score_lines(outputs[0]) and _score_lines(outputs[0]) == _score_lines(outputs[1])
    assert any("CSI @ 220" in line for line in _score_lines(outputs[0]))


def test_demo_on_the_real_bom_day(tmp_path: Path) -> None:
    bom = shared_data_path(*BOM)
    out = tmp_path / "bom"
    args = ["demo", "--quick", "--real", "bom", "--data", str(bom), "--out", str(out)]
    result = CliRunner().invoke(app, args, env=CLEAN_ENV)
    assert result.exit_code == 0, result.output
    assert "bom-radar fetched 144" in result.output
    (netcdf,) = (out / "forecasts" / "bom-radar").glob("bom-radar_20201031T2350Z_model-*.nc")
    with xr.open_dataset(netcdf) as forecast:
        # bom-radar: 30 min in, 1 h out at the 10-minute cadence.
        assert forecast["forecast"].shape == (6, 64, 64)
        assert forecast["lead_time"].values[-1] == np.timedelta64(60, "m")
    assert (out / "products" / "bom-radar" / f"{netcdf.stem}.png").is_file()
    assert "backtest bom-radar" in result.output
