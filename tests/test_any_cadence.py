"""The shipped 10-minute radar model on 6- and 15-minute archives made from shared files:
forecast at the archive's cadence, verified and backtested beside the three baselines."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import REPO, shared_data_path
from ingest_fixtures import cli

FIRST = {"6min": pd.Timestamp("2015-05-15T15:48"), "15min": pd.Timestamp("2015-05-15T15:45")}
NAME = "AQC%y%j%H%MF_00005.801.gif"


def mch_site(root: Path, cadence: str) -> Path:
    """A site whose source holds the MeteoSwiss 2015-05-15 frames at `cadence`: every third
    real 5-min frame for 15 min; for 6 min, the real frames relabelled 6 min apart (from 15:48,
    on the 6-min grid)."""
    frames = sorted(shared_data_path("radar", "mch-20150515").glob("AQC*_00005.801.gif"))
    incoming = root / "incoming"
    incoming.mkdir(parents=True)
    step = pd.Timedelta(cadence)
    chosen = frames[::3] if cadence == "15min" else frames
    for index, path in enumerate(chosen):
        shutil.copy(path, incoming / (FIRST[cadence] + index * step).strftime(NAME))
    pipelines = root / "pipelines"
    pipelines.mkdir()
    text = (REPO / "pipelines" / "mch-radar.toml").read_text()
    text = text.replace('cadence = "5min"', f'cadence = "{cadence}"')
    (pipelines / "mch-radar.toml").write_text(text)
    (root / "nowcast.toml").write_text(
        f'archive = "archive.zarr"\npipelines_dir = "{pipelines}"\npipelines = ["mch-radar"]\n'
    )
    result = run(root, "ingest", "--since", "2015-05-15T15:00Z", "--until", "2015-05-15T20:00Z")
    assert result.exit_code == 0, result.output
    return root


def run(site: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    return cli(site / "nowcast.toml", *args, env={"NOWCAST_MCH_DIR": str(site / "incoming")})


@pytest.mark.parametrize(("cadence", "leads"), [("6min", 10), ("15min", 4)])
def test_the_10_minute_model_forecasts_and_verifies_any_cadence(
    tmp_path: Path, cadence: str, leads: int
) -> None:
    site = mch_site(tmp_path, cadence)
    step = pd.Timedelta(cadence)
    at = (FIRST[cadence] + 6 * step).strftime("%Y-%m-%dT%H:%MZ")
    made = run(site, "forecast", "-p", "mch-radar", "--at", at, "--out", str(site / "fc"))
    assert made.exit_code == 0, made.output
    (written,) = (site / "fc").rglob("*.nc")
    with xr.open_dataset(written) as dataset:
        assert dataset.attrs["method"] == "model"
        lead_times = pd.TimedeltaIndex(dataset.lead_time.values)
        assert list(lead_times) == [step * (i + 1) for i in range(leads)]
        forecast = dataset["forecast"].values
        observed = dataset["observation"].values
    assert np.array_equal(np.isnan(forecast[0]), np.isnan(observed))  # NaN outside the radar
    assert np.nanmax(forecast) > 0.01  # it rains that afternoon
    until = (FIRST[cadence] + 10 * step).strftime("%Y-%m-%dT%H:%MZ")
    # the shipped model trained on this day: its cases are scored marked, not left out
    period = ("--from", at, "--to", until, "--include-training")
    scored = run(site, "verify", "--backtest", "-p", "mch-radar", *period)
    assert scored.exit_code == 0, scored.output
    summary = pd.read_csv(site / "runs" / "verification" / "summary.csv")
    methods = {"model (in training period)", "persistence", "extrapolation", "sprog"}
    assert set(summary.method) == methods
    minutes = int(step / pd.Timedelta("1min"))
    assert sorted(set(summary.lead_time)) == [minutes * (i + 1) for i in range(leads)]
    rmse = summary[summary.score == "RMSE"].groupby("method")["value"].mean()
    assert (rmse > 0).all() and (rmse < 2).all()  # mm per cadence on a rainy afternoon
    assert "mm/h" in scored.output and f" {minutes} min " in scored.output


def test_a_forecast_that_cannot_be_made_names_its_cause(tmp_path: Path) -> None:
    site = mch_site(tmp_path, "15min")
    first = FIRST["15min"].strftime("%Y-%m-%dT%H:%MZ")
    early = run(site, "forecast", "-p", "mch-radar", "--at", first, "--out", str(tmp_path / "x"))
    assert early.exit_code == 3
    assert "history needs frames from 2015-05-15T15:15:00Z" in early.output
