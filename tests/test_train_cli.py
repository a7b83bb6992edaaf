"""`nowcast train` and `finetune` end to end on archives ingested from real radar and satellite."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, shared_data_path, torchrun
from ingest_fixtures import BOM, SAF, cli

from nowcast.models.checkpoint import load_model, read_meta
from nowcast.training import run as train_run

TINY_PRESET = """
description = "test-sized MoDeRNN"
[model]
arch = "modernn"
hidden = 8
num_layers = 2
filter_size = 3
patch = 4
dcb_iterations = 2
norm = "{norm}"
channels = 1
height = {grid}
width = {grid}
[sequence]
input_frames = 8
output_frames = 4
[training]
lr = 2e-3
batch_size = 4
iterations = 30
"""


def write_preset(folder: Path, name: str, norm: str = "group", grid: int = 64) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(TINY_PRESET.format(norm=norm, grid=grid))
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole BOM day and the SAF CRR frames in one archive; SAF with a 2 h + 1 h window."""
    folder = tmp_path_factory.mktemp("train")
    (folder / "bom").symlink_to(shared_data_path(*BOM))
    (folder / "saf").symlink_to(shared_data_path(*SAF))
    pipelines = folder / "pipelines"
    pipelines.mkdir()
    bom = (REPO / "pipelines" / "bom-radar.toml").read_text()
    bom = bom.replace('history = "30min"', 'history = "8h"').replace(
        'horizon = "1h"', 'horizon = "4h"'
    )
    (pipelines / "bom-radar.toml").write_text(bom)  # hourly 8 h in, 4 h out
    saf = (REPO / "pipelines" / "saf-crr.toml").read_text()
    saf = saf.replace('history = "30min"', 'history = "2h"')  # 2 h in, 1 h out
    (pipelines / "saf-crr.toml").write_text(saf)
    (folder / "nowcast.toml").write_text(
        f'archive = "archive.zarr"\npipelines_dir = "{pipelines}"\ndevice = "cpu"\n'
        '[output]\ncheckpoints = "checkpoints"\n'
    )
    write_preset(folder, "tiny")
    result = run(
        folder,
        "ingest",
        "-p",
        "bom-radar",
        "--since",
        "2020-10-31T00:00Z",
        "--until",
        "2020-10-31T23:50Z",
    )
    assert result.exit_code == 0, result.output
    result = run(
        folder,
        "ingest",
        "-p",
        "saf-crr",
        "--since",
        "2018-06-01T07:00Z",
        "--until",
        "2018-06-01T17:45Z",
    )
    assert result.exit_code == 0, result.output
    return folder


def run(folder: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    env = {"NOWCAST_BOM_DIR": str(folder / "bom"), "NOWCAST_SAF_DIR": str(folder / "saf")}
    return cli(folder / "nowcast.toml", *args, env=env)


@pytest.fixture(scope="module")
def trained(site: Path) -> Path:
    """A tiny model trained 30 iterations on hourly-strided BOM windows (8 h in, 4 h out)."""
    result = run(
        site,
        "train",
        "-p",
        "bom-radar",
        "--preset",
        str(site / "tiny.toml"),
        "--stride",
        "6",
        "--every",
        "10",
        "--iterations",
        "30",
    )
    assert result.exit_code == 0, result.output
    return site / "checkpoints" / "bom-radar"


def test_train_writes_checkpoint_sidecar_and_card(trained: Path) -> None:
    for name in (
        "best/model.safetensors",
        "best/model.json",
        "last/training_state.pt",
        "metrics.csv",
        "card.md",
        "card.json",
    ):
        assert (trained / name).is_file(), name
    card = json.loads((trained / "card.json").read_text())
    metrics = pd.read_csv(trained / "metrics.csv")
    assert card["iterations_done"] == 30 == int(metrics["iteration"].max())
    assert card["sequence"] == {"input_frames": 8, "output_frames": 4}
    assert card["data"]["step"] == "1h" and card["data"]["cadence"] == "10min"
    assert card["best_validation_mse"] == pytest.approx(metrics["val"].dropna().min())
    assert card["test_scores_per_lead"] == {}
    model, meta = load_model(trained, "cpu")
    assert meta.sequence.input_frames == 8
    assert meta.normalisation["transform"]["kind"] == "log10"


def test_time_split_is_disjoint(trained: Path) -> None:
    split = read_meta(trained).extra["split"]
    assert split["method"] == "time"
    span = pd.Timedelta("11h")
    train_end = pd.Timestamp(split["train"]["last_start"]) + span
    val_start = pd.Timestamp(split["val"]["first_start"])
    assert train_end < val_start
    assert split["train"]["windows"] >= 1 and split["val"]["windows"] >= 1
    # One day holds no third disjoint 11 h period: no test windows, and the card says so.
    assert split["test"]["windows"] == 0
    assert "No test windows" in (trained / "card.md").read_text()


def test_finetune_on_satellite_records_parent(site: Path, trained: Path) -> None:
    out = site / "finetuned"
    result = run(
        site,
        "finetune",
        "--from",
        str(trained),
        "-p",
        "saf-crr",
        "--iterations",
        "6",
        "--every",
        "3",
        "--freeze-layers",
        "1",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["parent"]["pipeline"] == "bom-radar"
    assert card["parent"]["path"].startswith(str(trained))
    assert card["freeze_layers"] == 1
    # the parent's hourly step kept: saf-crr's 2 h in, 1 h out
    assert card["sequence"] == {"input_frames": 2, "output_frames": 1}
    assert card["data"]["step"] == "1h"
    assert "Parent: `" in (out / "card.md").read_text()


def test_card_scores_the_deployed_best_checkpoint(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def recording(model, reader, windows, spec, dist):  # noqa: ANN001, ANN202 - test_scores' args
        calls.append((reader, windows, spec))
        return original(model, reader, windows, spec, dist)

    original = train_run.test_scores
    monkeypatch.setattr(train_run, "test_scores", recording)
    (site / "pipelines" / "demo.toml").write_text((REPO / "pipelines" / "demo.toml").read_text())
    ingested = run(site, "ingest", "-p", "demo", "--until", "2024-09-05T06:00Z")
    assert ingested.exit_code == 0, ingested.output
    out = site / "rescored"
    args = ("train", "-p", "demo", "--preset", str(site / "tiny.toml"), "--iterations", "6")
    result = run(site, *args, "--every", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    assert card["test_scores_checkpoint"] == "best" and card["test_scores_per_lead"]
    best, _ = load_model(out / "best", "cpu")
    rescored = original(best, *calls[0])
    for method, scores in card["test_scores_per_lead"].items():
        for name, values in scores.items():
            assert values == pytest.approx(rescored[method][name], rel=1e-6)


def test_finetune_from_another_model_is_refused(site: Path, trained: Path) -> None:
    other = write_preset(site, "wide-layer", norm="layer")
    result = run(site, "finetune", "--from", str(trained), "-p", "saf-crr", "--preset", str(other))
    assert result.exit_code == 2
    assert "another model config" in result.output and "norm" in result.output


def test_preset_for_another_grid_is_refused(site: Path) -> None:
    small = write_preset(site, "grid32", norm="layer", grid=32)
    result = run(site, "train", "-p", "bom-radar", "--preset", str(small), "--stride", "6")
    assert result.exit_code == 2
    assert "cannot run on pipeline bom-radar's 64x64 grid" in result.output
    assert "expects a 32x32 grid" in result.output


def test_too_few_windows_is_refused(site: Path, tmp_path: Path) -> None:
    config = tmp_path / "nowcast.toml"
    config.write_text(
        (site / "nowcast.toml").read_text().replace('"archive.zarr"', f'"{tmp_path}/a.zarr"')
    )
    env = {"NOWCAST_BOM_DIR": str(site / "bom")}
    period = ("--since", "2020-10-31T00:00Z", "--until", "2020-10-31T03:00Z")
    assert cli(config, "ingest", "-p", "bom-radar", *period, env=env).exit_code == 0
    result = cli(config, "train", "-p", "bom-radar", "--preset", str(site / "tiny.toml"), env=env)
    assert result.exit_code == 3
    assert "too few gap-free windows of 48 + 24 frames every 10min" in result.output
    assert "--stride" in result.output


def test_a_memory_bound_without_room_for_reading_is_refused(site: Path, tmp_path: Path) -> None:
    config = tmp_path / "nowcast.toml"
    settings = (site / "nowcast.toml").read_text()
    config.write_text(
        settings.replace('"archive.zarr"', f'"{site}/archive.zarr"') + "[training]\ncache_mb = 4\n"
    )
    env = {"NOWCAST_BOM_DIR": str(site / "bom")}
    preset = str(site / "tiny.toml")
    result = cli(config, "train", "-p", "bom-radar", "--preset", preset, "--stride", "6", env=env)
    assert result.exit_code == 2, result.output
    # batch 4 x 12 x 64 x 64 x 4 bytes (0.75 MB), reading 3 x 1 MB + 2.5 MB, one 1 MB chunk
    assert "training.cache_mb = 4 is too small" in result.output
    assert "set training.cache_mb to 7.3 or more" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "checkpoints").exists()


def test_torchrun_two_processes(site: Path, trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {"NOWCAST_BOM_DIR": str(site / "bom"), "NOWCAST_CONFIG": str(site / "nowcast.toml")}
    torchrun(
        2, "-m", "nowcast", "--quiet", "train", "-p", "bom-radar",
        "--preset", str(site / "tiny.toml"), "--stride", "6", "--iterations", "4",
        "--every", "2", "--batch-size", "4", "--out", str(out), env=env,
    )  # fmt: skip
    model, meta = load_model(out, "cpu")
    assert meta.iteration == 4
    card = json.loads((out / "card.json").read_text())
    assert card["hardware"]["world_size"] == 2


def test_workers_train_the_same_model(site: Path, trained: Path, tmp_path: Path) -> None:
    """`--workers 2` reads the windows in worker processes: the same losses, step by step."""
    out = tmp_path / "workers"
    options = ["--preset", str(site / "tiny.toml"), "--stride", "6", "--every", "10"]
    result = run(
        site,
        "train",
        "-p",
        "bom-radar",
        *options,
        "--iterations",
        "30",
        "--workers",
        "2",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    alone = pd.read_csv(trained / "metrics.csv")["loss"].head(30).tolist()
    assert pd.read_csv(out / "metrics.csv")["loss"].tolist() == alone


def test_an_unknown_validation_score_is_refused_before_any_work(tmp_path: Path) -> None:
    """Checked as an option value: no archive is opened (there is none here), exit 2."""
    config = tmp_path / "nowcast.toml"
    config.write_text(f'archive = "archive.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n')
    result = cli(config, "train", "-p", "bom-radar", "--val-score", "rmse")
    assert result.exit_code == 2, result.output
    assert "rmse" in result.output and "mse" in result.output and "csi" in result.output
    assert not (tmp_path / "archive.zarr").exists()


def test_run_train_refuses_an_unknown_validation_score_before_reading(tmp_path: Path) -> None:
    """The same check for a caller of the library: before the archive (absent here) is read."""
    from nowcast.core import ConfigError
    from nowcast.settings.config import Settings
    from nowcast.training import TrainRequest, run_train

    settings = Settings(archive=tmp_path / "archive.zarr", pipelines_dir=REPO / "pipelines")
    with pytest.raises(ConfigError, match="--val-score must be one of mse, csi"):
        run_train(settings, TrainRequest(pipeline="bom-radar", val_score="rmse"))
    assert not (tmp_path / "archive.zarr").exists()
