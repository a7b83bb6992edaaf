"""`nowcast train` on two radar pipelines at once (KNMI mm per 5 min, FMI dBZ as mm/h)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, shared_data_path
from ingest_fixtures import cli

from nowcast.data.transform import Transform
from nowcast.training.checkpoint import read_meta
from nowcast.training.intensity import same_rain_scale

KNMI = ("radar", "knmi-20100826")
FMI = ("radar", "fmi-pgm-20160928")
TINY = """
[model]
arch = "modernn"
hidden = 4
num_layers = 1
filter_size = 3
patch = 4
dcb_iterations = 1
norm = "group"
channels = 1
height = 64
width = 64
[training]
lr = 2e-3
batch_size = 2
iterations = 4
loss = "balanced-mse"
clip_grad = 1.0
flips = true
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """KNMI 03:00-06:00 and the whole FMI afternoon ingested with the shipped pipeline files."""
    folder = tmp_path_factory.mktemp("multi")
    (folder / "nowcast.toml").write_text(
        'archive = "archive.zarr"\ndevice = "cpu"\n[output]\ncheckpoints = "checkpoints"\n'
    )
    (folder / "tiny.toml").write_text(TINY)
    for args in (
        ("knmi-radar", "2010-08-26T03:00Z", "2010-08-26T06:00Z"),
        ("fmi-radar", "2016-09-28T14:45Z", "2016-09-28T18:00Z"),
    ):
        result = run(folder, "ingest", "-p", args[0], "--since", args[1], "--until", args[2])
        assert result.exit_code == 0, result.output
    return folder


def run(folder: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    env = {
        "NOWCAST_KNMI_DIR": str(shared_data_path(*KNMI)),
        "NOWCAST_FMI_DIR": str(shared_data_path(*FMI)),
    }
    return cli(folder / "nowcast.toml", *args, env=env)


def test_train_on_two_pipelines_through_the_cli(site: Path) -> None:
    out = site / "run"
    args = ("train", "-p", "knmi-radar", "-p", "fmi-radar", "--preset", str(site / "tiny.toml"))
    result = run(site, *args, "--every", "2", "--val-score", "csi", "--out", str(out))
    assert result.exit_code == 0, result.output
    meta = read_meta(out / "best")
    assert meta.extra["pipelines"] == ["knmi-radar", "fmi-radar"]
    split = meta.extra["split"]
    assert set(split["train"]["groups"]) == {"knmi-radar", "fmi-radar"}
    assert (meta.sequence.input_frames, meta.sequence.output_frames) == (6, 12)
    card = json.loads((out / "card.json").read_text())
    assert card["recipe"]["loss"] == "balanced-mse" and card["validation_score"] == "csi"


def test_shipped_knmi_and_fmi_transforms_mean_the_same_rain_rate() -> None:
    def scale(name: str) -> Transform:
        return Transform(
            **tomllib.loads((REPO / "pipelines" / f"{name}.toml").read_text())["transform"]
        )

    knmi = (scale("knmi-radar"), "mm", pd.Timedelta("5min"))
    fmi = (scale("fmi-radar"), "mm h-1", pd.Timedelta("5min"))
    assert same_rain_scale([knmi, fmi])
    assert not same_rain_scale([(Transform(kind="log10", vmin=0.01, vmax=10.0), *knmi[1:]), fmi])
