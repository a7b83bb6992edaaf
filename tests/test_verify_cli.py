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
from pysteps.utils.transformation import dB_transform
from pysteps.verification.detcatscores import (
    det_cat_fct_accum,
    det_cat_fct_compute,
    det_cat_fct_init,
)
from pysteps.verification.spatialscores import fss_accum, fss_compute, fss_init

from nowcast.settings.config import load_settings
from nowcast.store.archive import Archive
from nowcast.store.transform import from_attrs
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


def independent_scores(folder: Path) -> dict[str, np.ndarray]:
    """Per lead over all inits, with pysteps' accumulating functions on the archive's arrays:
    persistence CSI and FSS (5 px) at 0.1 mm, and RMSE (mm) of persistence and extrapolation
    (pysteps' example nowcast on the 10-min accumulations as rain rate)."""
    series = Archive(folder / "archive.zarr").read("bom-radar").load()
    low, high = from_attrs(series.attrs).physical_range
    tables = [det_cat_fct_init(0.1) for _ in LEADS]
    fss = [fss_init(0.1, 5) for _ in LEADS]
    squared = {"persistence": np.zeros(len(LEADS)), "extrapolation": np.zeros(len(LEADS))}
    valid = np.zeros(len(LEADS))
    for init in INITS:
        truth = series.sel(time=init + LEADS).values.astype(np.float64)
        last3 = series.sel(time=pd.date_range(end=init, periods=3, freq="10min")).values
        # pysteps' example recipe: dBR (0.1 mm/h, -15 as no rain), motion, advection in dBR
        dbr, _ = dB_transform(last3.astype(np.float64) * 6.0, {"transform": None}, 0.1, -15.0)
        dbr[~np.isfinite(dbr)] = -15.0
        velocity = motion.get_method("LK")(dbr)
        advected = extrapolation.get_method("semilagrangian")(dbr[-1], velocity, len(LEADS))
        advected = dB_transform(advected, {"transform": "dB"}, -10.0, inverse=True)[0] / 6.0
        advected = np.where(np.isfinite(advected), advected, last3[-1])
        persisted = np.repeat(series.sel(time=init).values[None], len(LEADS), axis=0)
        for lead in range(len(LEADS)):
            missing = np.isnan(truth[lead])
            valid[lead] += (~missing).sum()
            for name, field in (("persistence", persisted), ("extrapolation", advected)):
                # float64 of the stored float32 values, as the tool compares with thresholds
                clipped = np.where(missing, np.nan, np.clip(field[lead], low, high)).astype(
                    np.float64
                )
                squared[name][lead] += np.nansum((clipped - truth[lead]) ** 2)
                if name == "persistence":
                    det_cat_fct_accum(tables[lead], clipped[~missing], truth[lead][~missing])
                    fss_accum(fss[lead], clipped, truth[lead])
    return {
        "csi": np.array([det_cat_fct_compute(t, ["CSI"])["CSI"] for t in tables]),
        "fss": np.array([fss_compute(f) for f in fss]),
        **{name: np.sqrt(total / valid) for name, total in squared.items()},
    }


def summary(folder: Path, method: str, score: str, **match: float) -> np.ndarray:
    """The backtest's accumulated scores (one per lead) from summary.csv."""
    table = pd.read_csv(folder / "runs" / "verification" / "summary.csv")
    rows = table[(table["method"] == method) & (table["score"] == score)]
    for key, value in match.items():
        rows = rows[rows[key] == value]
    assert list(rows["lead_time"]) == [int(lead / pd.Timedelta("1min")) for lead in LEADS]
    return rows["value"].to_numpy()


def test_backtest_matches_an_independent_computation(site: Path) -> None:
    args = ("verify", "--backtest", "-p", "bom-radar", "--baselines-only")
    period = ("--from", "2020-10-31T00:50Z", "--to", "2020-10-31T02:00Z")
    result = run(site, *args, *period, "--thresholds", "0.1,0.5", "--scales", "1,5")
    assert result.exit_code == 0, result.output
    assert "extrapolation: 8" in result.output and "persistence: 8" in result.output
    expected = independent_scores(site)
    np.testing.assert_allclose(summary(site, "persistence", "CSI", threshold=0.1), expected["csi"])
    fss = summary(site, "persistence", "FSS", threshold=0.1, scale=5)
    np.testing.assert_allclose(fss, expected["fss"], rtol=1e-6)
    for method in ("persistence", "extrapolation"):
        np.testing.assert_allclose(summary(site, method, "RMSE"), expected[method], rtol=1e-4)
    rmse = {m: summary(site, m, "RMSE").mean() for m in ("persistence", "extrapolation")}
    assert rmse["extrapolation"] < rmse["persistence"]
    skill = summary(site, "extrapolation", "RMSE_SKILL")
    np.testing.assert_allclose(skill, 1 - expected["extrapolation"] / expected["persistence"])
    notes = pd.read_csv(site / "runs" / "verification" / "summary.csv")["note"].astype(str)
    assert notes.str.contains("kg m-2; 8 cases; valid").any()
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
    assert "## bom-radar" in text and "| 60 |" in text
    assert "## bom-radar: image metrics, mean over cases" in text and "### MSE" in text
    assert "### RMSE (kg m-2)" in text and "### CSI @ 0.1 kg m-2" in text
    assert "### VALID_FRACTION" in text and "### RMSE_SKILL" in text
    assert "Accumulated over every case initialised in 2020-10-31T01:30:00Z/" in text
    assert list(report.parent.glob("bom_radar_MSE_per_case.png"))
    assert list(report.parent.glob("bom_radar_CSI___0_1_kg_m_2.png"))
    csv = (site / "runs" / "verification" / "scores.csv").read_text().splitlines()
    assert csv[0].startswith("pipeline,init_time,lead_time,method,score,value")
    totals = pd.read_csv(site / "runs" / "verification" / "summary.csv")
    stored_rmse = totals[(totals["init_time"] == "2020-10-31T01:30:00Z/2020-10-31T01:30:00Z")]
    rmse = stored_rmse[(stored_rmse["score"] == "RMSE") & (stored_rmse["method"] == "persistence")]
    per_case = pd.read_csv(site / "runs" / "verification" / "scores.csv")
    one = per_case[(per_case["score"] == "RMSE") & (per_case["method"] == "persistence")]
    one = one[one["init_time"] == "2020-10-31T01:30:00Z"]
    assert len(rmse) == len(one) == 6  # one per lead, 10-60 min
    np.testing.assert_allclose(rmse["value"].to_numpy(), one["value"].to_numpy(), rtol=1e-6)


def test_backtest_needs_a_period(site: Path) -> None:
    result = run(site, "verify", "--backtest", "-p", "bom-radar")
    assert result.exit_code == 2
    assert "--from and --to" in result.output
    for flag in ("--include-training", "--baselines-only"):
        misplaced = run(site, "verify", flag)
        assert misplaced.exit_code == 2
        assert f"{flag}: for --backtest only" in misplaced.output


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
    assert "scored cases (extrapolation: 1, persistence: 1, sprog: 1)" in one.output
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
    assert first.cases == {"persistence": 1, "extrapolation": 1, "sprog": 1}
    assert first.already == 0
    second = run_verify(settings, **period)
    assert second.cases == {} and second.already == 1 and second.rows == 0


def test_thresholds_in_mm_per_hour_become_the_archive_units(site: Path, tmp_path: Path) -> None:
    """BOM stores 10-minute accumulations: 6 mm/h is 1 mm per frame, 3 mm/h is 0.5 mm."""
    args = ("verify", "--backtest", "-p", "bom-radar", "--baselines-only", "--out", str(tmp_path))
    period = ("--from", "2020-10-31T00:50Z", "--to", "2020-10-31T01:00Z")
    result = run(site, *args, *period, "--thresholds", "6mm/h,3mm/h", "--scales", "1")
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert sorted(scores.loc[scores.score == "CSI", "threshold"].unique()) == [0.5, 1.0]
    header = next(line for line in result.output.splitlines() if "RMSE (mm/h)" in line)
    assert "CSI 3 mm/h" in header and "CSI 6 mm/h" in header
    summary = pd.read_csv(tmp_path / "summary.csv")
    first = summary[(summary.method == "persistence") & (summary.lead_time == 10)]
    rmse_mm = float(first.loc[first.score == "RMSE", "value"].iloc[0])
    row = next(
        line for line in result.output.splitlines() if "persistence" in line and "10 min" in line
    )
    assert f"{rmse_mm * 6:.3f}" in row  # mm per 10 minutes, shown per hour
    for bad in ("5mm", "fast", "-mm/h"):
        refused = run(site, *args, *period, "--thresholds", bad)
        assert refused.exit_code == 2, refused.output
        assert "rain rates such as 5mm/h" in refused.output
