"""`nowcast crossval`: every day held out once, its table per day and mean, on real days."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_data_path
from ingest_fixtures import cli
from test_heldout_scoring import TINY

from nowcast.models.checkpoint import read_meta

DAYS = (("mch-20150515", "NOWCAST_MCH_DIR"), ("mch-20160711", "NOWCAST_MCH_DIR"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both MeteoSwiss days in one mch-radar group, and the FMI day."""
    folder = tmp_path_factory.mktemp("crossval")
    mch = folder / "mch"
    mch.mkdir()
    for day, _ in DAYS:
        for path in shared_data_path("radar", day).iterdir():
            shutil.copy(path, mch / path.name)
    (folder / "tiny.toml").write_text(
        TINY.replace("[model]", '[model]\nguidance = "extrapolation"')
    )
    (folder / "nowcast.toml").write_text('archive = "archive.zarr"\ndevice = "cpu"\n')
    for pipeline in ("mch-radar", "fmi-radar"):
        assert run(folder, "ingest", "-p", pipeline).exit_code == 0
    return folder


def run(site: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    env = {
        "NOWCAST_MCH_DIR": str(site / "mch"),
        "NOWCAST_FMI_DIR": str(shared_data_path("radar", "fmi-pgm-20160928")),
    }
    return cli(site / "nowcast.toml", *args, env=env)


def test_each_day_is_held_out_once_and_the_table_has_the_mean(site: Path) -> None:
    out = site / "cv"
    args = ("--preset", str(site / "tiny.toml"), "--iterations", "2", "--every", "2")
    result = run(site, "crossval", "-p", "mch-radar", "-p", "fmi-radar", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "crossval.csv")
    days = ["mch-radar 2015-05-15", "mch-radar 2016-07-11", "fmi-radar 2016-09-28"]
    assert list(dict.fromkeys(table["day"])) == days
    assert set(table["method"]) == {"model", "persistence", "extrapolation", "sprog"}
    assert {"RMSE", "CSI 1mm/h", "CSI 5mm/h"} == set(table["score"])
    for fold in ("mch-radar-20150515", "mch-radar-20160711", "fmi-radar-20160928"):
        meta = read_meta(out / fold / "train" / "best")
        (excluded,) = meta.extra["excluded"]
        seen = [iv for name in ("train", "val") for iv in meta.extra["split"][name]["intervals"]]
        for _group, first, last in seen:
            assert pd.Timestamp(last) < pd.Timestamp(excluded[0]) or pd.Timestamp(
                first
            ) > pd.Timestamp(excluded[1])
    printed = (out / "crossval.md").read_text()
    assert "| mean | +30 min |" in printed and "| mean | +60 min |" in printed
    assert "| mean | +60 min |" in result.output
    rmse = table[(table.score == "RMSE") & (table.lead == 30)]
    mean = rmse.groupby("method")["value"].mean()["persistence"]
    assert f"{mean:.3f}" in printed


def test_one_day_is_not_enough(site: Path) -> None:
    result = run(site, "crossval", "-p", "fmi-radar", "--out", str(site / "one"))
    assert result.exit_code == 3
    assert "at least two days" in result.output
