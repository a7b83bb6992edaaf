"""`nowcast verify` on the real BOM radar day: backtest, stored forecasts, table and report."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM, cli
from pysteps import extrapolation, motion

from nowcast.data.archive import Archive
from nowcast.data.transform import from_attrs
from nowcast.settings.config import load_settings
from nowcast.verify.runner import run_verify

INITS = pd.date_range("2020-10-31T00:50", "2020-10-31T02:00", freq="10min")
LEADS = pd.timedelta_range("10min", "1h", freq="10min")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BOM frames 00:00-03:00 UTC in an archive, with a 1 h in / 1 h out pipeline."""
    bom = shared_data_path(*BOM)
    folder = tmp_path_factory.mktemp("verify")
    pipelines = folder / "pipelines"
    pipelines.mkdir()
    text = (REPO / "pipelines" / "bom-radar.toml").read_text()
    text = text.replace('history = "8h"', 'history = "1h"').replace(
        'horizon = "4h"', 'horizon = "1h"'
    )
    (pipelines / "bom-radar.toml").write_text(text)
    config = folder / "nowcast.toml"
    config.write_text(
        f'archive = "archive.zarr"\npipelines_dir = "{pipelines}"\npipelines = ["bom-radar"]\n'
    )
    (folder / "bom").symlink_to(bom)
    ingested = run(folder, "ingest", "--since", "2020-10-31T00:00Z", "--until", "2020-10-31T03:00Z")
    assert ingested.exit_code == 0, ingested.output
    return folder


def run(folder: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    return cli(folder / "nowcast.toml", *args, env={"NOWCAST_BOM_DIR": str(folder / "bom")})


def stored(folder: Path, method: str, score: str, threshold: float | None = None) -> pd.DataFrame:
    """Rows of one method and score from the SQLite table, as lead x init values."""
    with sqlite3.connect(folder / "runs" / "verification" / "scores.sqlite") as connection:
        frame = pd.read_sql_query(
            "SELECT init_time, lead_time, value, threshold FROM scores "
            "WHERE method = ? AND score = ?",
            connection,
            params=(method, score),
        )
    if threshold is not None:
        frame = frame[frame["threshold"] == threshold]
    return frame.pivot(index="init_time", columns="lead_time", values="value")


def independent_scores(folder: Path) -> dict[str, np.ndarray]:
    """Persistence and extrapolation MSE, and persistence CSI at 0.1 mm, computed directly."""
    series = Archive(folder / "archive.zarr").read("bom-radar").load()
    transform = from_attrs(series.attrs)
    mse = {"persistence": [], "extrapolation": []}
    csi = []
    for init in INITS:
        truth = series.sel(time=init + LEADS).values.astype(np.float64)
        last3 = series.sel(time=pd.date_range(end=init, periods=3, freq="10min")).values
        persist = np.repeat(last3[-1:], len(LEADS), axis=0).astype(np.float64)
        velocity = motion.get_method("LK")(last3.astype(np.float64))
        advected = extrapolation.get_method("semilagrangian")(last3[-1], velocity, len(LEADS))
        advected = np.where(np.isfinite(advected), advected, last3[-1])
        for name, field in (("persistence", persist), ("extrapolation", advected)):
            mse[name].append(((np.clip(field, 0, 1) - truth) ** 2).sum(axis=(1, 2)))
        forecast_mm, observed_mm = transform.to_physical(persist), transform.to_physical(truth)
        hits = ((forecast_mm >= 0.1) & (observed_mm >= 0.1)).sum(axis=(1, 2))
        either = ((forecast_mm >= 0.1) | (observed_mm >= 0.1)).sum(axis=(1, 2))
        csi.append(hits / either)
    return {
        "persistence": np.array(mse["persistence"]),
        "extrapolation": np.array(mse["extrapolation"]),
        "csi": np.array(csi),
    }


def test_backtest_matches_an_independent_computation(site: Path) -> None:
    args = ("verify", "--backtest", "-p", "bom-radar", "--baselines-only")
    period = ("--from", "2020-10-31T00:50Z", "--to", "2020-10-31T02:00Z")
    result = run(site, *args, *period, "--thresholds", "0.1,0.5", "--scales", "1,5")
    assert result.exit_code == 0, result.output
    assert "extrapolation: 8" in result.output and "persistence: 8" in result.output
    expected = independent_scores(site)
    for method in ("persistence", "extrapolation"):
        table = stored(site, method, "MSE")
        assert table.shape == (len(INITS), len(LEADS))
        np.testing.assert_allclose(table.to_numpy(), expected[method], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(
        stored(site, "persistence", "CSI", 0.1).to_numpy(), expected["csi"], rtol=1e-6
    )
    mean_mse = {
        m: stored(site, m, "MSE").to_numpy().mean() for m in ("persistence", "extrapolation")
    }
    assert mean_mse["extrapolation"] < mean_mse["persistence"]
    rows_once = count_rows(site)
    again = run(site, *args, *period, "--thresholds", "0.1,0.5", "--scales", "1,5")
    assert again.exit_code == 0
    assert count_rows(site) == rows_once


def count_rows(site: Path) -> int:
    with sqlite3.connect(site / "runs" / "verification" / "scores.sqlite") as connection:
        return connection.execute("SELECT COUNT(*) FROM scores").fetchone()[0]


def test_verify_stored_forecast_and_report(site: Path) -> None:
    made = run(
        site,
        "forecast",
        "--since",
        "1h",
        "--baseline",
        "extrapolation",
        "--at",
        "2020-10-31T01:30Z",
    )
    assert made.exit_code == 0, made.output
    result = run(site, "verify", "--since", "20000d", "--report")
    assert result.exit_code == 0, result.output
    assert "extrapolation: 1" in result.output and "persistence: 1" in result.output
    report = site / "runs" / "verification" / "report" / "report.md"
    text = report.read_text()
    assert "## bom-radar" in text and "### MSE" in text and "| 60 |" in text
    assert list(report.parent.glob("bom_radar_MSE.png"))
    csv = (site / "runs" / "verification" / "scores.csv").read_text().splitlines()
    assert csv[0].startswith("pipeline,init_time,lead_time,method,score,value")


def test_backtest_needs_a_period(site: Path) -> None:
    result = run(site, "verify", "--backtest", "-p", "bom-radar")
    assert result.exit_code == 2
    assert "--from and --to" in result.output


def test_verify_without_archive(tmp_path: Path) -> None:
    config = tmp_path / "nowcast.toml"
    config.write_text('archive = "none.zarr"\n')
    result = cli(config, "verify")
    assert result.exit_code == 3
    assert "no archive yet" in result.output


def test_verify_defaults_to_the_store_and_takes_dates(site: Path, tmp_path: Path) -> None:
    made = run(site, "forecast", "--baseline", "persistence", "--at", "2020-10-31T01:00Z")
    assert made.exit_code == 0, made.output
    # No --since: every forecast in the store, however old (2020 here), is scored.
    everything = run(site, "verify")
    assert everything.exit_code == 0, everything.output
    assert "persistence:" in everything.output
    one = run(site, "verify", "--from", "2020-10-31T01:00Z", "--to", "2020-10-31T01:00Z")
    assert one.exit_code == 0, one.output
    assert "scored cases (extrapolation: 1, persistence: 1)" in one.output
    dated = run(site, "verify", "--since", "2020-10-31")
    assert dated.exit_code == 0 and "persistence:" in dated.output
    later = run(site, "verify", "--since", "2021-01-01")
    assert later.exit_code == 5
    assert "scored cases (none)" in later.output
    assert "error: no case scored: no stored forecast in the period" in later.output
    both = run(site, "verify", "--since", "2d", "--from", "2020-10-31")
    assert both.exit_code == 2 and "--since or --from" in both.output


def test_scheduled_verify_scores_only_new_cases(site: Path, tmp_path: Path) -> None:
    made = run(site, "forecast", "--baseline", "persistence", "--at", "2020-10-31T01:00Z")
    assert made.exit_code == 0, made.output
    settings = load_settings(site / "nowcast.toml", environ={"NOWCAST_BOM_DIR": str(site / "bom")})
    init = pd.Timestamp("2020-10-31T01:00")
    period = {"since": init, "until": init, "out": tmp_path, "only_new": True}
    first = run_verify(settings, **period)
    assert first.cases == {"persistence": 1, "extrapolation": 1} and first.already == 0
    second = run_verify(settings, **period)
    assert second.cases == {} and second.already == 1 and second.rows == 0
