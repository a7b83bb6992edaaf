"""Ensemble nowcasts through the CLI on the repository's ten real BOM frames: the model's
ensemble and STEPS written with members and probabilities, rendered as probability maps,
scored by verify and by the backtest (CRPS, reliability, ROC), shown on the live page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import REPO
from ingest_fixtures import cli

FRAMES = REPO / "tests" / "data" / "bom-66-20201031"
INIT = "2020-10-31T09:30Z"
MEMBERS = "4"
MODEL_FILE = "bom-radar_20201031T0930Z_model-ensemble-modernn-radar-guided.nc"
STEPS_FILE = "bom-radar_20201031T0930Z_steps.nc"


def run(site: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    return cli(site / "nowcast.toml", *args, env={"NOWCAST_BOM_DIR": str(site / "incoming")})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ten frames ingested, the model's ensemble and STEPS forecast at 09:30 UTC."""
    site = tmp_path_factory.mktemp("ensemble")
    shutil.copytree(FRAMES, site / "incoming", ignore=shutil.ignore_patterns("*.md"))
    (site / "nowcast.toml").write_text(
        f'archive = "archive/nowcast.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n'
        'pipelines = ["bom-radar"]\n[ensemble]\nmembers = 3\n'
    )
    ingested = run(site, "ingest", "--since", "2020-10-31T09:00Z", "--until", "2020-10-31T10:30Z")
    assert ingested.exit_code == 0, ingested.output
    model = run(site, "forecast", "-p", "bom-radar", "--at", INIT, "--ensemble", MEMBERS)
    assert model.exit_code == 0, model.output
    steps = run(site, "forecast", "-p", "bom-radar", "--at", INIT, "--baseline", "steps")
    assert steps.exit_code == 0, steps.output
    return site


def forecasts(site: Path) -> Path:
    return site / "runs" / "forecasts" / "bom-radar"


def test_an_ensemble_file_holds_members_their_mean_and_probabilities(site: Path) -> None:
    with xr.open_dataset(forecasts(site) / MODEL_FILE, decode_timedelta=True) as ds:
        assert ds["members"].dims == ("realization", "lead_time", "y", "x")
        assert ds.sizes["realization"] == int(MEMBERS) and ds.sizes["lead_time"] == 6
        assert ds["realization"].attrs["standard_name"] == "realization"
        assert list(ds["threshold"].values) == [1.0, 5.0, 10.0]
        assert ds["threshold"].attrs["units"] == "mm/h"
        probability = ds["probability"].values
        finite = probability[np.isfinite(probability)]
        assert finite.size and finite.min() >= 0 and finite.max() <= 1
        assert finite.max() > 0  # a rainy morning: somewhere it is likely to rain
        # probabilities only take the values a count of members gives
        assert set(np.unique(np.round(finite * int(MEMBERS), 6))) <= set(range(int(MEMBERS) + 1))
        # P(>= 5 mm/h) never exceeds P(>= 1 mm/h)
        assert (np.nan_to_num(probability[1]) <= np.nan_to_num(probability[0]) + 1e-6).all()
        assert np.isnan(ds["members"].values).sum() == int(MEMBERS) * np.isnan(ds["forecast"]).sum()
        assert ds.attrs["method"] == "model-ensemble" and ds.attrs["ensemble_members"] == 4
    with xr.open_dataset(forecasts(site) / STEPS_FILE, decode_timedelta=True) as ds:
        assert ds.attrs["method"] == "steps" and ds.sizes["realization"] == 3  # the setting


def test_the_members_differ_and_the_seed_repeats_them(site: Path, tmp_path: Path) -> None:
    again = run(
        site, "forecast", "-p", "bom-radar", "--at", INIT, "--ensemble", MEMBERS,
        "--out", str(tmp_path),
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    with (
        xr.open_dataset(forecasts(site) / MODEL_FILE) as first,
        xr.open_dataset(tmp_path / "bom-radar" / MODEL_FILE) as second,
    ):
        members = first["members"].values
        assert not np.allclose(np.nan_to_num(members[0]), np.nan_to_num(members[1]))
        np.testing.assert_array_equal(members, second["members"].values)


def test_the_forecast_table_shows_the_chance_of_each_threshold(site: Path, tmp_path: Path) -> None:
    result = run(
        site, "forecast", "-p", "bom-radar", "--at", INIT, "--ensemble", "2",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "max P(R" in result.output and "ensemble of 2 members" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ensemble", "0"], "Invalid value for '--ensemble'"),
        (["--ensemble", "1"], "Invalid value for '--ensemble'"),
        (["--ensemble", "many"], "Invalid value for '--ensemble'"),
        (["--ensemble", "3", "--baseline", "persistence"], "--baseline steps"),
        (["--ensemble", "100000"], "over the ensemble.max_memory_mb bound"),
    ],
)
def test_refused_ensembles_say_why(site: Path, args: list[str], message: str) -> None:
    result = run(site, "forecast", "-p", "bom-radar", "--at", INIT, *args)
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output


def test_render_draws_the_probability_maps(site: Path) -> None:
    drawn = run(site, "render", "--forecast", str(forecasts(site) / MODEL_FILE), "--format", "png")
    assert drawn.exit_code == 0, drawn.output
    maps = site / "products" / "bom-radar" / MODEL_FILE.replace(".nc", "_probability.png")
    assert maps.is_file() and maps.stat().st_size > 20_000
    daily = run(site, "render", "--daily", "--date", "2020-10-31")
    assert daily.exit_code == 0, daily.output
    index = (site / "products" / "daily" / "2020-10-31" / "index.html").read_text()
    assert "_probability.png" in index


def test_verify_scores_the_stored_ensembles(site: Path) -> None:
    scored = run(site, "verify", "-p", "bom-radar", "--from", INIT, "--to", INIT, "--report")
    assert scored.exit_code == 0, scored.output
    summary = pd.read_csv(site / "runs" / "verification" / "summary.csv")
    crps = summary[summary.score == "CRPS"]
    assert set(crps.method) == {"model-ensemble", "steps"}
    assert (crps.value > 0).all() and (crps.value < 10).all()  # mm/h
    curves = json.loads((site / "runs" / "verification" / "probabilistic.json").read_text())
    assert set(curves["bom-radar"]["methods"]) == {"model-ensemble", "steps"}
    report = (site / "runs" / "verification" / "report" / "report.md").read_text()
    assert "reliability @ 1 mm/h" in report and "rank" in report


def test_backtest_scores_both_ensembles(site: Path) -> None:
    result = run(
        site, "verify", "--backtest", "-p", "bom-radar", "--from", "2020-10-31T09:20Z",
        "--to", "2020-10-31T09:30Z", "--ensemble", "3", "--include-training",
        "--out", str(site / "backtest"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ensembles" in result.output and "CRPS (mm/h)" in result.output
    summary = pd.read_csv(site / "backtest" / "summary.csv")
    ensembles = summary[summary.method.isin(["steps", "model-ensemble (in training period)"])]
    for score in ("CRPS", "ROC_AREA", "RELIABILITY_GAP"):
        methods = set(ensembles[ensembles.score == score].method)
        assert methods == {"steps", "model-ensemble (in training period)"}, score
    area = ensembles[(ensembles.score == "ROC_AREA") & (ensembles.threshold == 1.0)]
    assert (area.value > 0.5).all()  # better than chance at 1 mm/h


def test_backtest_refuses_a_one_member_ensemble(site: Path) -> None:
    result = run(
        site, "verify", "--backtest", "-p", "bom-radar", "--from", INIT, "--to", INIT,
        "--ensemble", "1",
    )  # fmt: skip
    assert result.exit_code == 2 and "Invalid value for '--ensemble'" in result.output


def test_the_live_page_switches_to_probabilities(site: Path) -> None:
    from starlette.testclient import TestClient

    from nowcast.serve.app import create_app
    from nowcast.settings.config import load_settings

    settings = load_settings(site / "nowcast.toml")
    client = TestClient(create_app(settings))
    forecast_id = MODEL_FILE.removesuffix(".nc")
    data = client.get(f"/api/forecasts/{forecast_id}").json()
    keys = [view["key"] for view in data["views"]]
    assert keys[:2] == ["mean", "probability-0"] and "member-3" in keys
    lead = next(f for f in data["frames"] if f["kind"] == "forecast")
    image = client.get(lead["views"]["probability-1"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert client.get(f"/frames/{forecast_id}/member-9-lead-0.png").status_code == 404
    page = client.get(f"/forecasts/{forecast_id}").text
    assert '<select id="view"' in page and "P(R &gt;= 1 mm/h)" in page


def test_the_daily_sheet_shows_the_deterministic_forecast_over_an_ensemble_mean() -> None:
    from nowcast.products.daily import synoptic_inits
    from nowcast.store.forecast_files import ForecastFile

    noon = pd.Timestamp("2020-10-31T12:00")  # naive UTC, as file names are read
    ensemble = ForecastFile(Path("e.nc"), "bom-radar", noon, "model-ensemble-modernn-radar")
    model = ForecastFile(Path("m.nc"), "bom-radar", noon, "model-modernn-radar")
    steps = ForecastFile(Path("s.nc"), "bom-radar", noon - pd.Timedelta("10min"), "steps")
    day = noon.date()
    assert synoptic_inits([ensemble, model], day) == [model]
    assert synoptic_inits([model, ensemble], day) == [model]
    assert synoptic_inits([ensemble, steps], day) == [ensemble]  # the nearer init still wins


def test_the_model_ensemble_centre_blends_and_fades_unpredictable_scales() -> None:
    from pysteps.cascade.bandpass_filters import filter_gaussian

    from nowcast.forecasting.ensemble import (
        CASCADE_LEVELS,
        CascadeNoise,
        blended_centre,
        predictable_part,
    )

    rng = np.random.default_rng(0)
    model, last = rng.normal(size=(2, 32, 32)), rng.normal(size=(32, 32))
    still = np.zeros((2, 32, 32))
    mixed = blended_centre(model, last, still, 0.25, -15.0)
    assert np.allclose(mixed, 0.25 * model + 0.75 * last)  # no motion: extrapolation is `last`
    assert blended_centre(model, last, still, 1.0, -15.0) is model

    def noise(correlation: float) -> CascadeNoise:
        levels = np.full(CASCADE_LEVELS, correlation)
        bandpass = filter_gaussian((32, 32), CASCADE_LEVELS)
        return CascadeNoise(bandpass, {}, np.ones(CASCADE_LEVELS), levels, still[0])

    centre = np.stack([model[0], model[0]])
    assert np.allclose(predictable_part(centre, noise(1.0)), centre, atol=1e-6)  # levels sum back
    faded = predictable_part(centre, noise(0.5))
    assert np.allclose(faded[0], 0.5 * centre[0], atol=1e-6)
    assert np.allclose(faded[1], 0.25 * centre[1], atol=1e-6)
