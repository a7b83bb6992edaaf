"""Real radar from end to end in a clone alone: ten BOM frames kept in `tests/data` are
ingested, forecast with the shipped radar model and both baselines, verified and rendered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from ingest_fixtures import cli

from nowcast.store.archive import Archive

FRAMES = REPO / "tests" / "data" / "bom-66-20201031"
INIT = "2020-10-31T09:30Z"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site whose source folder holds the ten repository frames, ingested once."""
    site = tmp_path_factory.mktemp("real")
    source = site / "incoming"
    shutil.copytree(FRAMES, source, ignore=shutil.ignore_patterns("*.md"))
    (site / "nowcast.toml").write_text(
        f'archive = "archive/nowcast.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n'
        'pipelines = ["bom-radar"]\n'
    )
    result = run(site, "ingest", "--since", "2020-10-31T09:00Z", "--until", "2020-10-31T10:30Z")
    assert result.exit_code == 0, result.output
    return site


def run(site: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    return cli(site / "nowcast.toml", *args, env={"NOWCAST_BOM_DIR": str(site / "incoming")})


def test_the_frames_are_the_licensed_real_ones() -> None:
    names = sorted(p.name for p in FRAMES.glob("*.nc"))
    assert len(names) == 10 and names[0] == "66_20201031_090000.prcp-c10.nc"
    assert sum(p.stat().st_size for p in FRAMES.iterdir()) < 3 * 2**20
    assert "bom.gov.au/other/copyright" in (FRAMES / "LICENCE.md").read_text()


def test_ingest_forecast_verify_render_on_real_frames(site: Path) -> None:
    archive = Archive(site / "archive" / "nowcast.zarr")
    frames = archive.read("bom-radar")
    assert frames.sizes["time"] == 10 and frames.attrs["units"] == "kg m-2"
    baselines = (["--baseline", name] for name in ("persistence", "extrapolation", "sprog"))
    for method in ([], *baselines):
        result = run(site, "forecast", "-p", "bom-radar", "--at", INIT, *method)
        assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (site / "runs" / "forecasts" / "bom-radar").glob("*.nc"))
    assert files == [
        "bom-radar_20201031T0930Z_extrapolation.nc",
        "bom-radar_20201031T0930Z_model-modernn-radar-guided.nc",
        "bom-radar_20201031T0930Z_persistence.nc",
        "bom-radar_20201031T0930Z_sprog.nc",
    ]
    scored = run(site, "verify", "-p", "bom-radar", "--from", INIT, "--to", INIT)
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(site / "runs" / "verification" / "scores.csv")
    first = scores[(scores.init_time == "2020-10-31T09:30:00Z") & (scores.lead_time == 10)]
    rmse = first[first.score == "RMSE"].groupby("method")["value"].first()
    assert set(rmse.index) == {"model", "persistence", "extrapolation", "sprog"}, scored.output
    assert ((rmse > 0) & (rmse < 5)).all()  # mm per 10 min on a rainy morning
    drawn = run(
        site, "render", "--forecast", "latest", "--pipeline", "bom-radar", "--format", "png"
    )
    assert drawn.exit_code == 0, drawn.output
    assert list((site / "products").rglob("*.png"))


def test_the_live_page_shows_the_scores_verify_wrote(site: Path) -> None:
    from starlette.testclient import TestClient

    from nowcast.serve.app import create_app
    from nowcast.settings.config import load_settings

    made = run(site, "forecast", "-p", "bom-radar", "--at", INIT)
    assert made.exit_code == 0, made.output
    scored = run(site, "verify", "-p", "bom-radar", "--from", INIT, "--to", INIT)
    assert scored.exit_code == 0, scored.output
    settings = load_settings(site / "nowcast.toml", environ={})
    with TestClient(create_app(settings)) as client:
        data = client.get("/api/scores/bom-radar").json()
        assert data["scores"], data
        for per_method in data["scores"].values():
            assert {"model", "persistence", "extrapolation", "sprog"} <= set(per_method)
        plot = client.get(data["plots"][0]["url"])
        assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
