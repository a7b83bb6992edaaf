"""`nowcast ingest` end to end on the real files, through the CLI a user runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_path
from ingest_fixtures import (
    BOM,
    MCH,
    SAF,
    TYPHOON,
    TYPHOON_FILE,
    cli,
    write_bom_like,
    write_settings,
    write_typhoon_frames,
)

from nowcast.ingest.ledger import Ledger
from nowcast.store.archive import Archive
from nowcast.store.transform import from_attrs


def archive_of(config: Path) -> Archive:
    """The archive a test settings file points to."""
    return Archive(config.parent / "archive" / "nowcast.zarr")


@pytest.fixture(scope="module")
def bom_day(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> tuple[Path, dict]:
    """The whole BOM day ingested once with the shipped `bom-radar` pipeline."""
    env = {"NOWCAST_BOM_DIR": str(shared_data_path(*BOM))}
    config = write_settings(tmp_path_factory.mktemp("bom"), repo_root / "pipelines")
    result = cli(config, "ingest", "--pipeline", "bom-radar", env=env)
    assert result.exit_code == 0, result.output
    return config, env


def test_bom_day_lands_whole_and_on_the_model_grid(bom_day: tuple[Path, dict]) -> None:
    config, _ = bom_day
    archive = archive_of(config)
    assert archive.groups() == ["bom-radar"]
    series = archive.read("bom-radar")
    assert series.sizes == {"time": 144, "y": 64, "x": 64}
    assert series.dtype == np.float32 and 0.0 <= float(series.min()) < float(series.max()) < 20.0
    assert series.attrs["units"] == "kg m-2" and series.attrs["standard_name"]
    assert from_attrs(series.attrs).kind == "log10"
    assert series.lat.shape == (64, 64) and -29 < float(series.lat.mean()) < -26
    assert archive.gaps("bom-radar") == []
    assert len(archive.windows("bom-radar", "8h", "4h")) == 73  # 144 - (48 + 24) + 1
    assert archive.latest("bom-radar", "8h").sizes["time"] == 48


def test_ingest_twice_appends_nothing(bom_day: tuple[Path, dict]) -> None:
    config, env = bom_day
    again = cli(config, "ingest", "--pipeline", "bom-radar", env=env)
    assert again.exit_code == 0, again.output
    backfill = cli(config, "ingest", "-p", "bom-radar", "--since", "2020-10-31T00:00Z", env=env)
    assert backfill.exit_code == 0
    row = next(line for line in backfill.output.splitlines() if line.startswith("│ bom-radar"))
    assert row.split("│")[2].strip() == "0" and row.split("│")[3].strip() == "144"
    assert archive_of(config).read("bom-radar").sizes["time"] == 144
    statuses = [e.status for e in Ledger(archive_of(config).path, "bom-radar").entries()]
    assert statuses.count("fetched") == 144 and "skipped" in statuses


def test_status_shows_coverage(bom_day: tuple[Path, dict]) -> None:
    config, _ = bom_day
    result = cli(config, "status")
    assert result.exit_code == 0, result.output
    assert "bom-radar" in result.output and "2020-10-31 23:50Z" in result.output
    assert "10 min" in result.output


def test_dry_run_fetches_nothing(tmp_path: Path, repo_root: Path) -> None:
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_MCH_DIR": str(shared_data_path(*MCH))}
    result = cli(config, "ingest", "-p", "mch-radar", "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    assert result.output.count("would fetch") == 40
    assert not archive_of(config).exists()


@pytest.mark.parametrize("day", ["mch-20160711", "mch-20150515"])
def test_the_shipped_meteoswiss_pipeline_takes_v_and_f_file_names(
    tmp_path: Path, repo_root: Path, day: str
) -> None:
    """The 2016 day's files end in `V_00005.801.gif`, the 2015 day's in `F_...`."""
    folder = shared_data_path("radar", day)
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_MCH_DIR": str(folder)}
    result = cli(
        config, "ingest", "-p", "mch-radar", "--dry-run", "--since", "2015-01-01T00:00Z", env=env
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("would fetch") == len(list(folder.glob("*.gif"))) == 40


def test_demo_runs_with_no_network_and_resumes(tmp_path: Path, repo_root: Path) -> None:
    config = write_settings(tmp_path, repo_root / "pipelines")
    first = cli(config, "ingest", "--until", "2024-09-05T00:30Z")
    assert first.exit_code == 0, first.output
    series = archive_of(config).read("demo")
    assert series.sizes == {"time": 97, "y": 64, "x": 64}  # ingest.initial = 4 days, hourly
    assert pd.Timestamp(series.time.values[-1]) == pd.Timestamp("2024-09-05T00:00")
    kelvin = series.isel(time=-1).values
    assert 180 <= kelvin.min() < 230 and 280 < kelvin.max() <= 300
    assert 5 < float(series.lon.min()) + 120 and float(series.lat.max()) < 40
    later = cli(config, "ingest", "--until", "2024-09-05T03:00Z")
    assert later.exit_code == 0
    assert archive_of(config).read("demo").sizes["time"] == 100  # only the new hours


def test_mch_and_saf_frames(tmp_path: Path, repo_root: Path) -> None:
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {
        "NOWCAST_MCH_DIR": str(shared_data_path(*MCH)),
        "NOWCAST_SAF_DIR": str(shared_data_path(*SAF)),
    }
    mch = cli(
        config,
        "ingest",
        "-p",
        "mch-radar",
        "--since",
        "2016-07-11T20:45Z",
        "--until",
        "2016-07-11T21:05Z",
        env=env,
    )
    assert mch.exit_code == 0, mch.output
    saf = cli(
        config,
        "ingest",
        "-p",
        "saf-crr",
        "--since",
        "2018-06-01T12:00Z",
        "--until",
        "2018-06-01T12:30Z",
        env=env,
    )
    assert saf.exit_code == 0, saf.output
    archive = archive_of(config)
    assert archive.read("mch-radar").sizes == {"time": 5, "y": 64, "x": 64}
    crr = archive.read("saf-crr")
    assert crr.sizes == {"time": 3, "y": 64, "x": 64}
    # the projected rectangle around the configured lon/lat box [2, 18] x [44, 52]
    assert 0.0 < float(crr.lon.min()) < 2.5 and 17.5 < float(crr.lon.max()) < 22.0
    assert 43.0 < float(crr.lat.min()) < 45.0 and 51.0 < float(crr.lat.max()) < 53.0


def test_digital_typhoon_storm_sequence(tmp_path: Path, repo_root: Path) -> None:
    real = shared_data_path(*TYPHOON, TYPHOON_FILE)
    root = tmp_path / "digital-typhoon"
    write_typhoon_frames(root, real, "202224", hours=4)
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_DIGITAL_TYPHOON_DIR": str(root)}
    result = cli(config, "ingest", "-p", "digital-typhoon", env=env)
    assert result.exit_code == 0, result.output
    archive = archive_of(config)
    assert archive.groups() == ["digital-typhoon/202224"]
    storm = archive.read("digital-typhoon/202224")
    assert storm.sizes == {"time": 4, "y": 64, "x": 64}
    np.testing.assert_allclose(storm.center_lat.values, [20.0, 20.2, 20.4, 20.6], atol=1e-5)
    assert storm.attrs["storm_id"] == "202224"
    kelvin = storm.isel(time=0).values
    assert 190 < kelvin.min() < kelvin.max() < 300


def bad_inputs(folder: Path, bom: Path) -> dict[str, str]:
    """Three good BOM frames and one of each kind of bad input; returns name -> reason."""
    name = "66_20201031_{}00.prcp-c10.nc".format
    for hhmm in ("0000", "0010", "0020"):
        shutil.copy(bom / name(hhmm), folder / name(hhmm))
    (folder / name("0030")).write_bytes((bom / name("0030")).read_bytes()[:5000])
    (folder / name("0040")).write_bytes(np.random.default_rng(0).bytes(20000))
    write_bom_like(folder / name("0050"), np.ones((100, 100)), np.datetime64("2020-10-31T00:50"))
    write_bom_like(
        folder / name("0100"),
        np.ma.array(np.zeros((512, 512)), mask=True),
        np.datetime64("2020-10-31T01:00"),
    )
    write_bom_like(
        folder / name("0110"), np.full((512, 512), 1000.0), np.datetime64("2020-10-31T01:10")
    )
    shutil.copy(bom / name("0000"), folder / name("0120"))
    return {
        name("0030"): "undecodable",
        name("0040"): "undecodable",
        name("0050"): "wrong shape",
        name("0100"): "all values missing",
        name("0110"): "values out of range",
        name("0120"): "timestamp mismatch",
    }


def test_bad_inputs_are_quarantined_and_good_frames_land(tmp_path: Path, repo_root: Path) -> None:
    bom = shared_data_path(*BOM)
    inputs = tmp_path / "incoming"
    inputs.mkdir()
    expected = bad_inputs(inputs, bom)
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_BOM_DIR": str(inputs)}
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 0, result.output
    assert archive_of(config).read("bom-radar").sizes["time"] == 3
    notes = sorted((tmp_path / "archive" / "quarantine" / "bom-radar").glob("*.reason.json"))
    found = {json.loads(n.read_text())["source"].rsplit("/", 1)[-1]: n for n in notes}
    assert set(found) == set(expected)
    for name, reason in expected.items():
        note = json.loads(found[name].read_text())
        assert note["reason"].startswith(reason), note
        assert (found[name].parent / note["file"]).is_file()
        assert (inputs / name).is_file()  # copied, the source folder keeps its originals
    rejected = [
        e for e in Ledger(archive_of(config).path, "bom-radar").entries() if e.status == "rejected"
    ]
    assert len(rejected) == 6
    again = cli(config, "ingest", "-p", "bom-radar", "--since", "2020-10-31T00:00Z", env=env)
    assert again.exit_code == 0
    assert len(list((tmp_path / "archive" / "quarantine" / "bom-radar").glob("*.json"))) == 6
