"""`nowcast forecast` end to end on an archive ingested from the real BOM radar day."""

from __future__ import annotations

import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
import zarr
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM, cli

import nowcast
from nowcast.cli.commands.status import model_line
from nowcast.models.checkpoint import CheckpointMeta, save_checkpoint
from nowcast.models.preset import ModelConfig, SequenceConfig
from nowcast.models.registry import build_from_config
from nowcast.settings.config import load_settings
from nowcast.store.forecast_files import list_forecasts, write_netcdf

HISTORY = "1h"  # 6 frames at the BOM cadence of 10 minutes
STEPS = 6  # the pipeline's 1 h horizon at 10 minutes


@pytest.fixture(scope="module")
def bom_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder whose archive holds the BOM frames 00:00-01:50 UTC of 2020-10-31."""

    bom = shared_data_path(*BOM)
    site = tmp_path_factory.mktemp("site")
    config = site / "nowcast.toml"
    config.write_text(
        f'archive = "archive.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n'
        'pipelines = ["bom-radar"]\n'
    )
    result = cli(
        config,
        "ingest",
        "--since",
        "2020-10-31T00:00Z",
        "--until",
        "2020-10-31T01:50Z",
        env={"NOWCAST_BOM_DIR": str(bom)},
    )
    assert result.exit_code == 0, result.output
    return site


def bom_env(site: Path) -> dict[str, str]:
    return {"NOWCAST_BOM_DIR": str(site)}


def tiny_checkpoint(folder: Path, norm: str = "group", grid: int = 64) -> Path:
    """A small untrained MoDeRNN saved as a real checkpoint, for 6 frames in and 24 out."""
    torch.manual_seed(0)
    config = ModelConfig(hidden=8, num_layers=1, patch=4, norm=norm, height=grid, width=grid)
    model = build_from_config(config)
    meta = CheckpointMeta(
        model=config,
        sequence=SequenceConfig(input_frames=6, output_frames=STEPS),
        preset="modernn-typhoon",
    )
    return save_checkpoint(folder, model, meta)


def run(site: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    return cli(site / "nowcast.toml", "forecast", "--since", HISTORY, *args, env=bom_env(site))


def test_without_a_checkpoint_says_how_to_get_one(bom_site: Path) -> None:
    result = run(bom_site, "--model", "modernn-radar")
    assert result.exit_code == 3
    assert "nowcast train --pipeline bom-radar" in result.output
    assert "--baseline" in result.output


def test_model_forecast_is_cf_netcdf(bom_site: Path, tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "ckpt")
    result = run(bom_site, "--model", str(checkpoint), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    path = tmp_path / "out" / "bom-radar" / "bom-radar_20201031T0150Z_model-modernn-typhoon.nc"
    with xr.open_dataset(path) as dataset:
        forecast = dataset["forecast"]
        assert forecast.dims == ("lead_time", "y", "x")
        assert forecast.shape == (STEPS, 64, 64)
        assert forecast.attrs["units"] == "kg m-2"
        assert forecast.attrs["standard_name"] == "precipitation_amount"
        assert forecast.attrs["grid_mapping"] == "crs"
        assert dataset["crs"].attrs["grid_mapping_name"] == "albers_conical_equal_area"
        assert pd.Timestamp(dataset.forecast_reference_time.values) == pd.Timestamp(
            "2020-10-31T01:50"
        )
        assert pd.Timestamp(dataset.time.values[0]) == pd.Timestamp("2020-10-31T02:00")
        assert dataset.lead_time.values[-1] == np.timedelta64(60, "m")
        assert dataset.attrs["Conventions"] == "CF-1.8"
        assert dataset.attrs["method"] == "model"
        assert len(dataset.attrs["checkpoint_sha256"]) == 64
        assert np.isfinite(forecast.values).all() and (forecast.values >= 0).all()
    with netCDF4.Dataset(path) as raw:
        assert raw["lead_time"].units == "minutes"
        assert raw["forecast_reference_time"].standard_name == "forecast_reference_time"
        assert raw["time"].units.startswith("minutes since 1970-01-01")
    forecasts = tmp_path / "out" / "forecasts.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = xr.open_zarr(forecasts, group="bom-radar/20201031T0150Z_model-modernn-typhoon")
    assert store["forecast"].shape == (STEPS, 64, 64)
    with xr.open_dataset(path) as netcdf:
        np.testing.assert_allclose(store["forecast"].values, netcdf["forecast"].values, atol=1e-6)
    names = {".zgroup", ".zarray", ".zattrs", ".zmetadata", "zarr.json"}
    stored = {file.name for file in forecasts.rglob("*") if file.name in names}
    assert stored == {".zgroup", ".zarray", ".zattrs", ".zmetadata"}
    assert (tmp_path / "out" / "forecasts.zarr.lock").exists()
    root = zarr.open_consolidated(str(forecasts), mode="r")
    assert [name for name, _ in root["bom-radar"].groups()] == [
        "20201031T0150Z_model-modernn-typhoon"
    ]


def test_baselines_write_the_same_outputs(bom_site: Path, tmp_path: Path) -> None:
    for baseline in ("persistence", "extrapolation"):
        out = tmp_path / baseline
        result = run(bom_site, "--baseline", baseline, "--out", str(out))
        assert result.exit_code == 0, result.output
        with xr.open_dataset(
            out / "bom-radar" / f"bom-radar_20201031T0150Z_{baseline}.nc"
        ) as dataset:
            assert dataset.attrs["method"] == baseline
            assert dataset["forecast"].shape == (STEPS, 64, 64)
            if baseline == "persistence":
                assert np.allclose(dataset["forecast"][-1], dataset["observation"], atol=1e-5)


def test_missing_frames_refused_then_filled(bom_site: Path, tmp_path: Path) -> None:
    # 00:30..02:20 wanted; 02:00-02:20 never ingested: 3 of 12 frames, at the 25% limit.
    at = ["--at", "2020-10-31T02:20Z", "--since", "2h"]
    refused = run(bom_site, "--baseline", "persistence", *at)
    assert refused.exit_code == 3
    assert "2020-10-31T02:00:00Z" in refused.output and "--fill" in refused.output
    filled = run(
        bom_site, "--baseline", "persistence", *at, "--fill", "linear", "--out", str(tmp_path)
    )
    assert filled.exit_code == 0, filled.output
    with xr.open_dataset(
        tmp_path / "bom-radar" / "bom-radar_20201031T0220Z_persistence.nc"
    ) as dataset:
        assert "2020-10-31T02:10:00Z" in dataset.attrs["filled_times"]


def test_wrong_grid_checkpoint_is_a_clear_error(bom_site: Path, tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "ckpt32", norm="layer", grid=32)
    result = run(bom_site, "--model", str(checkpoint))
    assert result.exit_code == 2
    assert "32" in result.output and "64" in result.output
    assert "Traceback" not in result.output


def test_crash_while_writing_leaves_no_file(
    bom_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(bom_site, "--baseline", "persistence", "--out", str(tmp_path / "ok"))
    assert result.exit_code == 0
    dataset = xr.open_dataset(
        tmp_path / "ok" / "bom-radar" / "bom-radar_20201031T0150Z_persistence.nc"
    )

    def crash(self: xr.Dataset, path: Path, **_: object) -> None:
        Path(path).write_bytes(b"CDF\x01 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", crash)
    with pytest.raises(OSError, match="disk full"):
        write_netcdf(dataset, tmp_path / "crashed")
    assert list((tmp_path / "crashed").iterdir()) == []


def test_python_api(bom_site: Path) -> None:
    archive = nowcast.Archive(bom_site / "archive.zarr")
    history = archive.latest("bom-radar", "1h")
    predicted = nowcast.forecast(history, "persistence", steps=3)
    assert predicted.dims == ("lead_time", "y", "x")
    assert predicted.shape == (3, 64, 64)
    assert predicted.attrs["units"] == "kg m-2"


def test_status_shows_model_and_last_forecast(bom_site: Path) -> None:
    made = run(bom_site, "--baseline", "persistence")
    assert made.exit_code == 0, made.output
    result = cli(bom_site / "nowcast.toml", "status", env=bom_env(bom_site))
    assert result.exit_code == 0, result.output
    assert "model for bom-radar: shipped modernn-radar-guided (none trained at" in result.output
    assert "nowcast finetune -p bom-radar --from" in result.output
    settings = load_settings(bom_site / "nowcast.toml", environ=bom_env(bom_site))
    assert "model for demo: none trained at" in model_line(settings, "demo")  # names no shipped one
    assert (
        "last forecast:" in result.output
        and "bom-radar_20201031T0150Z_persistence.nc" in result.output
    )


def test_model_and_baseline_at_one_init_coexist(bom_site: Path, tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "out"
    for args in (["--model", str(checkpoint)], ["--baseline", "persistence"]):
        result = run(bom_site, *args, "--out", str(out))
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "bom-radar").glob("*.nc"))
    assert names == [
        "bom-radar_20201031T0150Z_model-modernn-typhoon.nc",
        "bom-radar_20201031T0150Z_persistence.nc",
    ]
    groups = sorted(p.name for p in (out / "forecasts.zarr" / "bom-radar").iterdir())
    assert groups == [
        ".zgroup",
        "20201031T0150Z_model-modernn-typhoon",
        "20201031T0150Z_persistence",
    ]
    found = list_forecasts(out, "bom-radar")
    assert [(f.method, f.init_time.hour, f.init_time.minute) for f in found] == [
        ("model-modernn-typhoon", 1, 50),
        ("persistence", 1, 50),
    ]


@pytest.mark.parametrize(
    ("model", "code", "named"),
    [
        ("/no/such", 3, "no checkpoint folder at /no/such"),
        ("modernn-typo", 2, "'modernn-typo' is neither a checkpoint folder nor a preset"),
    ],
)
def test_mistyped_model_stops_naming_it(
    bom_site: Path, tmp_path: Path, model: str, code: int, named: str
) -> None:
    result = run(bom_site, "--model", model, "--out", str(tmp_path))
    assert result.exit_code == code, result.output
    assert named in result.output and "Traceback" not in result.output
    assert not list(tmp_path.rglob("*.nc"))


def test_model_preset_name_and_setting_select_the_pipeline_checkpoint(
    bom_site: Path, tmp_path: Path
) -> None:
    tiny_checkpoint(tmp_path / "models" / "checkpoints" / "bom-radar")
    config = tmp_path / "nowcast.toml"
    config.write_text(
        f'archive = "{bom_site / "archive.zarr"}"\npipelines_dir = "{REPO / "pipelines"}"\n'
        'pipelines = ["bom-radar"]\n'
    )
    env = bom_env(bom_site)
    base = ["forecast", "--since", HISTORY, "--out", str(tmp_path / "out")]
    # Named by nobody, the pipeline's checkpoint is used whatever its preset.
    default = cli(config, *base, env=env)
    assert default.exit_code == 0, default.output
    assert "model modernn-typhoon" in default.output
    # Named explicitly, the pipeline's own preset (modernn-radar) is not what it holds: refused.
    refused = cli(config, *base, "--model", "modernn-radar", env=env)
    assert refused.exit_code == 3
    assert "model modernn-radar: the checkpoint for pipeline bom-radar" in refused.output
    for args, extra in (
        (["--model", "modernn-typhoon"], {}),
        ([], {"NOWCAST_MODEL": "modernn-typhoon"}),
    ):
        made = cli(config, *base, *args, env={**env, **extra})
        assert made.exit_code == 0, made.output
        assert "model modernn-typhoon" in made.output
    wrong = cli(config, *base, env={**env, "NOWCAST_MODEL": "convlstm-mmnist"})
    assert wrong.exit_code == 3
    assert "model convlstm-mmnist: the checkpoint" in wrong.output


def test_history_defaults_to_the_pipeline_and_fill_stays_inside_the_archive(
    bom_site: Path, tmp_path: Path
) -> None:
    # bom-radar.toml: [forecast] history = "30min", 3 frames ending 00:10; the archive starts 00:00.
    args = ["--baseline", "persistence", "--out", str(tmp_path), "--at", "2020-10-31T00:10Z"]
    result = cli(bom_site / "nowcast.toml", "forecast", *args, env=bom_env(bom_site))
    assert result.exit_code == 3
    assert "history needs frames from 2020-10-30T23:50:00Z" in result.output
    assert "archive starts at 2020-10-31T00:00:00Z" in result.output
    filled = cli(
        bom_site / "nowcast.toml", "forecast", *args, "--fill", "linear", env=bom_env(bom_site)
    )
    assert filled.exit_code == 3 and "archive starts at" in filled.output
    # 02:00..02:50 never ingested: 6 of 12 frames (50%) are too many to fill.
    late = ["--since", "2h", "--at", "2020-10-31T02:50Z", "--fill", "persistence"]
    too_many = run(bom_site, *args[:4], *late)
    assert too_many.exit_code == 3
    assert "6 of 12 frames missing" in too_many.output and "too many to fill" in too_many.output
    assert not list(tmp_path.rglob("*.nc"))


@pytest.mark.parametrize(
    ("since", "forecaster", "message"),
    [
        ("50min", "model", "reads 6 history frames of 10min but the window asks for 5"),
        (
            "25min",
            "baseline",
            "history (--since) of 25min is not a whole number of the 10min steps",
        ),
    ],
)
def test_since_must_fit_the_forecaster(
    bom_site: Path, tmp_path: Path, since: str, forecaster: str, message: str
) -> None:
    chosen = ["--baseline", "persistence"]
    if forecaster == "model":
        chosen = ["--model", str(tiny_checkpoint(tmp_path / "ckpt"))]
    out = ["--out", str(tmp_path / "out")]
    result = cli(bom_site / "nowcast.toml", "forecast", "--since", since, *chosen, *out,
                 env=bom_env(bom_site))  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.rglob("*.nc"))


def test_the_live_page_serves_every_forecast_the_tool_writes(
    bom_site: Path, tmp_path: Path
) -> None:
    """Model and each baseline written by `nowcast forecast`, then found by every route."""
    from serve_fixtures import settings_for

    from nowcast.serve.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette suggests httpx2; httpx works
        from starlette.testclient import TestClient

    checkpoint = tiny_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "forecasts"
    for args in (
        ["--model", str(checkpoint)],
        ["--baseline", "persistence"],
        ["--baseline", "extrapolation"],
    ):
        result = run(bom_site, *args, "--out", str(out))
        assert result.exit_code == 0, result.output
    assert (out / "forecasts.zarr").is_dir()
    with TestClient(create_app(settings_for(tmp_path))) as client:
        cards = client.get("/api/pipelines").json()["pipelines"]
        assert [card["name"] for card in cards] == ["bom-radar"]
        assert client.get(cards[0]["newest"]["page"]).status_code == 200
        listed = client.get("/api/pipelines/bom-radar").json()["forecast_list"]
        assert sorted(forecast["id"] for forecast in listed) == [
            "bom-radar_20201031T0150Z_extrapolation",
            "bom-radar_20201031T0150Z_model-modernn-typhoon",
            "bom-radar_20201031T0150Z_persistence",
        ]
        for forecast in listed:
            assert client.get(forecast["page"]).status_code == 200
            detail = client.get(f"/api/forecasts/{forecast['id']}")
            assert detail.status_code == 200 and detail.json()["netcdf"].endswith(
                f"{forecast['id']}.nc"
            )
            image = client.get(f"/frames/{forecast['id']}/lead-0.png")
            assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_a_forecast_removes_what_killed_forecasts_left(bom_site: Path, tmp_path: Path) -> None:
    """Hidden temporaries of a writer that is gone are removed; a live writer's stay."""
    import os
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    out = tmp_path / "out"
    folder = out / "bom-radar"
    folder.mkdir(parents=True)
    orphan = folder / f".bom-radar_20201031T0140Z_persistence.{dead_pid}.0badcafe.tmp.nc"
    orphan.write_bytes(b"half a file")
    live = folder / f".bom-radar_20201031T0140Z_extrapolation.{os.getpid()}.0123abcd.tmp.nc"
    live.write_bytes(b"being written")
    result = run(bom_site, "--baseline", "persistence", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert not orphan.exists() and live.exists()
    assert (folder / "bom-radar_20201031T0150Z_persistence.nc").is_file()


def test_the_model_forecast_has_no_data_where_the_radar_has_none(tmp_path: Path) -> None:
    """Outside the MeteoSwiss composite's domain (NaN in the archive) the model's forecast is
    NaN at every lead, as the baselines' is; inside it is a number."""
    site = tmp_path / "site"
    site.mkdir()
    config = site / "nowcast.toml"
    config.write_text(f'archive = "archive.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n')
    env = {"NOWCAST_MCH_DIR": str(shared_data_path("radar", "mch-20160711"))}
    ingested = cli(config, "ingest", "-p", "mch-radar", "--since", "2016-07-11T20:00Z", env=env)
    assert ingested.exit_code == 0, ingested.output
    torch.manual_seed(0)
    model = ModelConfig(hidden=8, num_layers=1, patch=4, height=64, width=64)
    meta = CheckpointMeta(model=model, sequence=SequenceConfig(input_frames=6, output_frames=12))
    checkpoint = save_checkpoint(tmp_path / "ckpt", build_from_config(model), meta)
    out = tmp_path / "out"
    for args in (["--model", str(checkpoint)], ["--baseline", "extrapolation"]):
        result = cli(config, "forecast", "-p", "mch-radar", *args, "--out", str(out), env=env)
        assert result.exit_code == 0, result.output
    for path in sorted((out / "mch-radar").glob("*.nc")):
        with xr.open_dataset(path) as forecast:
            outside = np.isnan(forecast["observation"].values)
            assert 0 < outside.mean() < 1, path.name
            for lead in forecast["forecast"].values:
                assert np.isnan(lead[outside]).all(), path.name
                assert np.isfinite(lead[~outside]).mean() > 0.9, path.name
