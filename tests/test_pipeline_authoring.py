"""`nowcast pipeline new` and `pipeline check` through the CLI: every shared radar day and the
satellite day drafted, ingested, forecast and backtested with no hand edit; checks that flag a
pattern taking part of a series; the shipped pipelines pass on their days; the bad inputs."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from conftest import REPO, shared_data_path
from ingest_fixtures import cli

DAYS = {
    "mch-20150515": ("radar", "mch_gif", "5min"),
    "mch-20160711": ("radar", "mch_gif", "5min"),
    "bom-prcp-c10-66-20201031": ("radar", "bom_rf3", "10min"),
    "knmi-20100826": ("radar", "knmi_hdf5", "5min"),
    "fmi-pgm-20160928": ("radar", "fmi_pgm", "5min"),
    "saf-crr-20180601": ("satellite", "saf_crri", "15min"),
}
QUICK = {"mch-20150515"}  # the other days run in the full suite (`make test`) only


def site(root: Path) -> Path:
    """A settings file whose pipelines folder starts empty."""
    (root / "nowcast.toml").write_text(
        'archive = "archive.zarr"\npipelines_dir = "pipelines"\ndevice = "cpu"\n'
    )
    return root / "nowcast.toml"


@pytest.mark.parametrize(
    "day",
    [d if d in QUICK else pytest.param(d, marks=pytest.mark.slow) for d in DAYS],
)
def test_new_then_ingest_forecast_backtest_with_no_hand_edit(tmp_path: Path, day: str) -> None:
    kind, format, cadence = DAYS[day]
    folder = shared_data_path(kind, day)
    config = site(tmp_path)
    drafted = cli(config, "pipeline", "new", "day", "--from", str(folder))
    assert drafted.exit_code == 0, drafted.output
    written = tomllib.loads((tmp_path / "pipelines" / "day.toml").read_text())
    assert written["source"]["format"] == format
    assert pd.Timedelta(written["source"]["cadence"]) == pd.Timedelta(cadence)
    checked = cli(config, "pipeline", "check", "day")
    assert checked.exit_code == 0, checked.output
    assert "ok: a run takes all" in checked.output
    ingested = cli(config, "ingest", "-p", "day")
    assert ingested.exit_code == 0, ingested.output
    times = pd.DatetimeIndex(xr.open_zarr(tmp_path / "archive.zarr", group="day").time.values)
    assert len(times) == len(list(folder.iterdir()))
    forecast = cli(config, "forecast", "-p", "day")
    assert forecast.exit_code == 0, forecast.output
    (netcdf,) = (tmp_path / "runs" / "forecasts").rglob("*.nc")
    with xr.open_dataset(netcdf) as dataset:
        assert dataset.attrs["method"] == "model"
        step = pd.Timedelta(dataset.lead_time.values[0])
        assert step == pd.Timedelta(cadence)
    start, end = times[0] + pd.Timedelta("30min"), times[0] + pd.Timedelta("90min")
    period = ("--from", start.strftime("%Y-%m-%dT%H:%MZ"), "--to", end.strftime("%Y-%m-%dT%H:%MZ"))
    # the shipped model trained on three of these days: those score marked, not left out
    scored = cli(config, "verify", "--backtest", "-p", "day", *period, "--include-training")
    assert scored.exit_code == 0, scored.output
    methods = set(pd.read_csv(tmp_path / "runs" / "verification" / "summary.csv").method)
    assert {"persistence", "extrapolation", "sprog"} <= methods
    assert methods & {"model", "model (in training period)"}


def test_letters_that_vary_become_a_wildcard(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for day in ("mch-20150515", "mch-20160711"):
        for path in sorted(shared_data_path("radar", day).iterdir())[:3]:
            shutil.copy(path, mixed / path.name)
    (mixed / "README.txt").write_text("not a frame\n")
    config = site(tmp_path)
    drafted = cli(config, "pipeline", "new", "mixed", "--from", str(mixed))
    assert drafted.exit_code == 0, drafted.output
    written = tomllib.loads((tmp_path / "pipelines" / "mixed.toml").read_text())
    assert written["source"]["pattern"] == "AQC%y%j%H%M?_00005.801.gif"


def test_check_flags_the_old_meteoswiss_pattern_on_the_2015_day(tmp_path: Path) -> None:
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    text = (REPO / "pipelines" / "mch-radar.toml").read_text()
    old = text.replace(
        'pattern = "AQC%y%j%H%M?_00005.801.gif"', 'pattern = "AQC%y%j%H%MV_00005.801.gif"'
    )
    assert old != text
    (pipelines / "mch-radar.toml").write_text(old)
    config = site(tmp_path)
    env = {"NOWCAST_MCH_DIR": str(shared_data_path("radar", "mch-20150515"))}
    checked = cli(config, "pipeline", "check", "mch-radar", env=env)
    assert checked.exit_code == 5, checked.output
    assert "matched: 0 files" in checked.output
    assert "warning: 40 unmatched files look like the series" in checked.output


@pytest.mark.parametrize(
    ("pipeline", "variable", "parts"),
    [
        ("mch-radar", "NOWCAST_MCH_DIR", ("radar", "mch-20150515")),
        ("mch-radar", "NOWCAST_MCH_DIR", ("radar", "mch-20160711")),
        ("bom-radar", "NOWCAST_BOM_DIR", ("radar", "bom-prcp-c10-66-20201031")),
        ("knmi-radar", "NOWCAST_KNMI_DIR", ("radar", "knmi-20100826")),
        ("fmi-radar", "NOWCAST_FMI_DIR", ("radar", "fmi-pgm-20160928")),
        ("saf-crr", "NOWCAST_SAF_DIR", ("satellite", "saf-crr-20180601")),
    ],
)
def test_shipped_pipelines_pass_check_on_their_days(
    tmp_path: Path, pipeline: str, variable: str, parts: tuple[str, str]
) -> None:
    (tmp_path / "nowcast.toml").write_text(f'pipelines_dir = "{REPO / "pipelines"}"\n')
    env = {variable: str(shared_data_path(*parts))}
    checked = cli(tmp_path / "nowcast.toml", "pipeline", "check", pipeline, env=env)
    assert checked.exit_code == 0, checked.output
    assert "ok: a run takes all" in checked.output


def test_a_folder_no_reader_reads_gets_one_line_naming_the_formats(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    for minute in range(0, 30, 5):
        (junk / f"scan_20240101{minute:04d}.dat").write_bytes(b"\x00" * 64)
    config = site(tmp_path)
    result = cli(config, "pipeline", "new", "junk", "--from", str(junk))
    assert result.exit_code == 3
    (line,) = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "no reader reads scan_" in line and "mch_gif" in line and "odim_hdf5" in line
    assert not (tmp_path / "pipelines" / "junk.toml").exists()


def test_bad_names_missing_folders_and_existing_files_are_refused(tmp_path: Path) -> None:
    config = site(tmp_path)
    folder = str(shared_data_path("radar", "mch-20150515"))
    for hostile in ("../escape", "a/b", "-dash", ""):
        refused = cli(config, "pipeline", "new", hostile, "--from", folder)
        assert refused.exit_code == 2, refused.output
    missing = cli(config, "pipeline", "new", "x", "--from", str(tmp_path / "nowhere"))
    assert missing.exit_code == 3 and "no folder at" in missing.output
    made = cli(config, "pipeline", "new", "x", "--from", folder)
    assert made.exit_code == 0, made.output
    again = cli(config, "pipeline", "new", "x", "--from", folder)
    assert again.exit_code == 2 and "--force" in again.output
    assert cli(config, "pipeline", "new", "x", "--from", folder, "--force").exit_code == 0
    elsewhere = cli(
        config, "pipeline", "new", "x", "--from", folder, "--out", str(tmp_path / "y.toml")
    )
    assert elsewhere.exit_code == 2 and "x.toml" in elsewhere.output
    unknown = cli(config, "pipeline", "check", "nope")
    assert unknown.exit_code == 2 and "no pipeline 'nope'" in unknown.output


def test_a_window_the_model_cannot_take_is_refused_naming_both(tmp_path: Path) -> None:
    config = site(tmp_path)
    folder = shared_data_path("radar", "mch-20150515")
    assert cli(config, "pipeline", "new", "day", "--from", str(folder)).exit_code == 0
    drafted = tmp_path / "pipelines" / "day.toml"
    drafted.write_text(drafted.read_text().replace('history = "30min"', 'history = "8h"'))
    assert cli(config, "ingest", "-p", "day").exit_code == 0
    backtest = ["verify", "--backtest", "--from", "2015-05-15T16:00Z", "--to", "2015-05-15T17:00Z"]
    for args in (["forecast"], backtest):
        refused = cli(config, *args, "-p", "day")
        assert refused.exit_code == 2, refused.output
        assert "model modernn-radar-guided reads 3 history frames of 10min" in refused.output
        assert "asks for 48" in refused.output and "history (or --since) to 30min" in refused.output
