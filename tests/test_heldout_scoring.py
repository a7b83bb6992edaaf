"""Honest held-out scoring: a model trained on two separate periods scores a third between
them as "model", and only the init times whose frames it trained or validated on are left out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM, cli

from nowcast.models.checkpoint import read_meta

TINY = """
description = "test-sized MoDeRNN, 30 min in, 1 h out"
[model]
arch = "modernn"
hidden = 8
num_layers = 1
filter_size = 3
patch = 4
dcb_iterations = 1
norm = "group"
channels = 1
height = 64
width = 64
[sequence]
input_frames = 3
output_frames = 6
[training]
lr = 2e-3
batch_size = 4
iterations = 4
"""
PERIODS = {"first": ("00:00", "04:00"), "middle": ("09:00", "13:00"), "last": ("18:00", "23:50")}


def run(site: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    return cli(site / "nowcast.toml", *args, env={"NOWCAST_BOM_DIR": str(site / "bom")})


def ingest(site: Path, period: str) -> None:
    """Ingest one period of the BOM day."""
    since, until = (f"2020-10-31T{hhmm}Z" for hhmm in PERIODS[period])
    result = run(site, "ingest", "-p", "bom-radar", "--since", since, "--until", until)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on the BOM day's first and last periods; the middle ingested after."""
    folder = tmp_path_factory.mktemp("heldout")
    (folder / "bom").symlink_to(shared_data_path(*BOM))
    (folder / "tiny.toml").write_text(TINY)
    (folder / "nowcast.toml").write_text(
        f'archive = "archive.zarr"\npipelines_dir = "{REPO / "pipelines"}"\ndevice = "cpu"\n'
        '[output]\ncheckpoints = "checkpoints"\n'
    )
    ingest(folder, "first")
    ingest(folder, "last")
    args = ("--preset", str(folder / "tiny.toml"), "--every", "2", "--iterations", "4")
    trained = run(folder, "train", "-p", "bom-radar", *args)
    assert trained.exit_code == 0, trained.output
    ingest(folder, "middle")
    return folder


def test_the_checkpoint_records_the_intervals_it_read(site: Path) -> None:
    split = read_meta(site / "checkpoints" / "bom-radar").extra["split"]
    seen = [iv for name in ("train", "val") for iv in split[name]["intervals"]]
    assert seen and all(group == "bom-radar" for group, _, _ in seen)
    for _, first, last in seen:
        assert pd.Timestamp(last) <= pd.Timestamp("2020-10-31T04:00Z") or pd.Timestamp(
            first
        ) >= pd.Timestamp("2020-10-31T18:00Z")


def test_a_period_between_the_training_periods_scores_as_model(site: Path) -> None:
    period = ("--from", "2020-10-31T09:20Z", "--to", "2020-10-31T11:50Z")
    result = run(site, "verify", "--backtest", "-p", "bom-radar", *period)
    assert result.exit_code == 0, result.output
    assert "overlap the model's training" not in result.output
    summary = pd.read_csv(site / "runs" / "verification" / "summary.csv")
    assert "model" in set(summary.method)
    assert "model (in training period)" not in set(summary.method)


def test_init_times_on_trained_frames_are_left_out_or_marked(site: Path) -> None:
    period = ("--from", "2020-10-31T00:20Z", "--to", "2020-10-31T02:00Z")
    refused = run(site, "verify", "--backtest", "-p", "bom-radar", *period)
    assert refused.exit_code == 3
    assert "outside the model's training period" in refused.output
    marked = run(site, "verify", "--backtest", "-p", "bom-radar", *period, "--include-training")
    assert marked.exit_code == 0, marked.output
    summary = pd.read_csv(site / "runs" / "verification" / "summary.csv")
    assert "model (in training period)" in set(summary.method)
