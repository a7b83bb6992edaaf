"""`nowcast train` on two radar pipelines at once (KNMI mm per 5 min, FMI dBZ as mm/h)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import shared_data_path
from ingest_fixtures import cli

from nowcast.models.checkpoint import read_meta
from nowcast.models.space import RAIN_SPACE, recorded_space, stored_values
from nowcast.store.archive import Archive
from nowcast.store.rain import RAIN_RATE_SCALE, to_rain_rate
from nowcast.training.windows import WindowReader, WindowSpec, find_windows

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
gain = [0.5, 2.0]
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
    assert card["recipe"]["gain"] == [0.5, 2.0]


@pytest.fixture(scope="module")
def ten_minutes(site: Path) -> Path:
    """The tiny model trained on KNMI (mm per 5 min) and FMI (mm/h) at 10-minute steps."""
    out = site / "ten-minutes"
    args = ("train", "-p", "knmi-radar", "-p", "fmi-radar", "--preset", str(site / "tiny.toml"))
    result = run(site, *args, "--step", "10min", "--every", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_pipelines_of_different_units_train_in_one_rain_rate_space(
    site: Path, ten_minutes: Path
) -> None:
    meta = read_meta(ten_minutes / "best")
    assert recorded_space(meta.normalisation) == RAIN_SPACE
    assert meta.extra["step"] == "10min" and meta.extra["strides"] == {
        "knmi-radar": 2,
        "fmi-radar": 2,
    }
    assert (meta.sequence.input_frames, meta.sequence.output_frames) == (3, 6)
    archive = Archive(site / "archive.zarr")
    spec = WindowSpec(3, 6, pd.Timedelta("10min"))
    reader = WindowReader(archive, spec, space=RAIN_SPACE)
    for group, units in (("knmi-radar", "mm"), ("fmi-radar", "mm h-1")):
        stored = stored_values(archive, group)
        assert stored.units == units
        window = find_windows(archive, [group], spec)[0]
        first = archive.frame_rows(group).read(slice(0, 1))[0]
        start = archive.frame_rows(group).times[0]
        assert window.start.value == start
        rate = to_rain_rate(first, units, stored.cadence)
        np.testing.assert_allclose(
            reader.read(window)[0, 0], RAIN_RATE_SCALE.to_model(rate), rtol=1e-5
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--step", "10min", "--stride", "2"), "not both"),
        (("--step", "7min"), "whole multiple"),
        (("--step", "soon"), "soon"),
    ],
)
def test_a_step_that_does_not_fit_is_refused(site: Path, options: tuple, message: str) -> None:
    args = ("train", "-p", "knmi-radar", "-p", "fmi-radar", "--preset", str(site / "tiny.toml"))
    result = run(site, *args, *options, "--out", str(site / "refused"))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (site / "refused" / "best").exists()


def test_finetune_keeps_the_parent_step(site: Path) -> None:
    parent = site / "parent"
    args = ("train", "-p", "fmi-radar", "--preset", str(site / "tiny.toml"), "--step", "10min")
    assert run(site, *args, "--every", "2", "--out", str(parent)).exit_code == 0
    out = site / "child"
    result = run(
        site,
        "finetune",
        "--from",
        str(parent / "best"),
        "-p",
        "knmi-radar",
        "--iterations",
        "2",
        "--every",
        "2",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    meta = read_meta(out / "best")
    assert meta.extra["step"] == "10min" and meta.extra["strides"] == {"knmi-radar": 2}
    assert recorded_space(meta.normalisation) == RAIN_SPACE


def test_one_rain_rate_checkpoint_forecasts_each_radar_in_its_own_units(
    site: Path, ten_minutes: Path
) -> None:
    model = ten_minutes / "best"
    for pipeline, units in (("knmi-radar", "mm"), ("fmi-radar", "mm h-1")):
        out = site / "forecasts" / pipeline
        result = run(site, "forecast", "-p", pipeline, "--model", str(model), "--out", str(out))
        assert result.exit_code == 0, result.output
        (netcdf,) = out.rglob("*.nc")
        with xr.open_dataset(netcdf) as forecast:
            assert forecast["forecast"].attrs["units"] == units
            assert forecast.sizes["lead_time"] == 12  # the archive's 5-min cadence to +1 h
            values = forecast["forecast"].values
            high = RAIN_RATE_SCALE.physical_range[1]
            per_hour = 12.0 if units == "mm" else 1.0
            finite = values[np.isfinite(values)]
            assert finite.min() >= 0.0 and finite.max() <= high / per_hour + 1e-5
