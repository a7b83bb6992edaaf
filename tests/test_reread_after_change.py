"""Inputs rejected under an older pipeline definition are read again on the next run, inside
the lookback or not, by `nowcast ingest` and by the scheduler's ingest job, with no flag; an
unchanged pipeline leaves its rejections alone; `--retry-rejected` reads every one again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from conftest import REPO
from ingest_fixtures import cli, write_settings
from test_ingest_ledger import row

from nowcast.ingest.ledger import Ledger
from nowcast.ingest.selection import NOT_OFFERED
from nowcast.scheduler import jobs
from nowcast.settings.config import ENV_OVERRIDES

FRAMES = REPO / "tests" / "data" / "bom-66-20201031"
TIMES = pd.date_range("2020-10-31T09:00", "2020-10-31T10:30", freq="10min")
FIRST = ["--since", "2020-10-31T09:00Z"]
# With no pixel above `high` allowed, 10.0 rejects 09:00..10:10 (their maxima are 11.95 to
# 14.8 mm) and keeps 10:20 and 10:30; 12.0 keeps 09:40 as well; 500 keeps every frame.
PIPELINE = """description = "BOM radar 66, a test copy of ten frames"
[source]
kind = "directory"
path = "{path}"
pattern = "66_%Y%m%d_%H%M%S.prcp-c10.nc"
format = "netcdf"
variable = "precipitation"
cadence = "10min"
[grid]
shape = [16, 16]
[transform]
kind = "log10"
vmin = 0.01
vmax = 20.0
[checks]
valid_range = [0.0, {high}]
max_outliers = 0.0
[ingest]
lookback = "30min"
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the caller's NOWCAST_* variables from the scheduler's job, which reads os.environ."""
    for variable in [*ENV_OVERRIDES, "NOWCAST_CONFIG"]:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A settings file and a folder with a copy of the repository's ten BOM frames."""
    data = tmp_path / "bom"
    shutil.copytree(FRAMES, data, ignore=shutil.ignore_patterns("*.md"))
    config = write_settings(tmp_path)
    set_high(config, 10.0)
    return config


def set_high(config: Path, high: float) -> None:
    """Write the pipeline `bom` with this upper end of `checks.valid_range`."""
    text = PIPELINE.format(path=config.parent / "bom", high=high)
    (config.parent / "pipelines" / "bom.toml").write_text(text)


def archived(config: Path) -> list[pd.Timestamp]:
    """The valid times of the `bom` group, read with plain xarray."""
    with xr.open_zarr(config.parent / "archive" / "nowcast.zarr", group="bom") as stored:
        return list(pd.DatetimeIndex(stored["time"].values))


def ledger(config: Path) -> Ledger:
    return Ledger(config.parent / "archive" / "nowcast.zarr", "bom")


def rejections(config: Path) -> int:
    """How many rejections the ledger holds."""
    return [e.status for e in ledger(config).entries()].count("rejected")


def rejected_once(config: Path) -> None:
    """The first run: eight frames rejected, six of them older than the lookback next time."""
    first = cli(config, "ingest", "-p", "bom", *FIRST)
    assert first.exit_code == 0, first.output
    assert row(first.output, "bom") == ["2", "0", "0", "8", "0", "2"]
    assert archived(config) == list(TIMES[-2:])


def test_a_changed_pipeline_reads_every_rejected_input_again(site: Path) -> None:
    rejected_once(site)
    set_high(site, 12.0)  # changed, still rejecting all but 09:40
    changed = cli(site, "ingest", "-p", "bom")
    assert changed.exit_code == 0, changed.output
    assert row(changed.output, "bom")[:4] == ["1", "2", "0", "7"]
    assert archived(site) == [TIMES[4], *TIMES[-2:]]
    again = cli(site, "ingest", "-p", "bom")  # still rejected: recorded under the new definition
    assert row(again.output, "bom")[:4] == ["0", "4", "0", "0"]
    assert rejections(site) == 8 + 7
    set_high(site, 500.0)
    fixed = cli(site, "ingest", "-p", "bom")
    assert fixed.exit_code == 0, fixed.output
    assert row(fixed.output, "bom") == ["7", "2", "0", "0", "0", "10"]
    assert archived(site) == list(TIMES)
    assert row(cli(site, "ingest", "-p", "bom").output, "bom")[:4] == ["0", "4", "0", "0"]


def test_an_unchanged_pipeline_does_not_read_its_rejections_again(site: Path) -> None:
    rejected_once(site)
    plain = cli(site, "ingest", "-p", "bom")
    assert plain.exit_code == 0, plain.output
    assert row(plain.output, "bom")[:4] == ["0", "4", "0", "0"]
    backfill = cli(site, "ingest", "-p", "bom", *FIRST)
    assert row(backfill.output, "bom")[:4] == ["0", "10", "0", "0"]
    assert rejections(site) == 8 and archived(site) == list(TIMES[-2:])


def test_the_scheduler_reads_them_again_after_a_change(site: Path) -> None:
    rejected_once(site)
    set_high(site, 500.0)
    ingest, forecast = jobs.ingest_job(str(site), None, "bom")
    assert ingest.status == "ok" and ingest.summary.startswith("fetched 8,"), ingest.summary
    assert forecast.status == "skipped"  # no trained model here
    assert archived(site) == list(TIMES)
    (quiet,) = jobs.ingest_job(str(site), None, "bom")
    assert quiet.summary.startswith("fetched 0,") and rejections(site) == 8


def test_retry_rejected_reads_every_rejection_again_wherever_it_lies(site: Path) -> None:
    rejected_once(site)
    retried = cli(site, "ingest", "-p", "bom", "--retry-rejected")
    assert retried.exit_code == 0, retried.output
    assert row(retried.output, "bom")[:4] == ["0", "2", "0", "8"]
    assert rejections(site) == 2 * 8
    assert row(cli(site, "ingest", "-p", "bom").output, "bom")[:4] == ["0", "4", "0", "0"]


def test_retry_rejected_reads_a_replaced_file_outside_the_lookback(site: Path) -> None:
    set_high(site, 500.0)
    broken = site.parent / "bom" / "66_20201031_090000.prcp-c10.nc"
    broken.write_bytes(broken.read_bytes()[:200])
    first = cli(site, "ingest", "-p", "bom", *FIRST)
    assert row(first.output, "bom") == ["9", "0", "0", "1", "0", "9"]
    shutil.copyfile(FRAMES / broken.name, broken)  # mended, but older than the lookback
    assert row(cli(site, "ingest", "-p", "bom").output, "bom")[0] == "0"
    retried = cli(site, "ingest", "-p", "bom", "--retry-rejected")
    assert retried.exit_code == 0, retried.output
    assert row(retried.output, "bom")[:4] == ["1", "4", "0", "0"]
    assert archived(site) == list(TIMES)


def test_a_rejected_input_gone_from_the_source_is_looked_for_once(site: Path) -> None:
    rejected_once(site)
    (site.parent / "bom" / "66_20201031_090000.prcp-c10.nc").unlink()
    set_high(site, 500.0)
    fixed = cli(site, "ingest", "-p", "bom")
    assert row(fixed.output, "bom") == ["7", "3", "0", "0", "0", "9"]
    assert archived(site) == list(TIMES[1:])
    assert row(cli(site, "ingest", "-p", "bom").output, "bom")[:4] == ["0", "4", "0", "0"]
    gone = [e for e in ledger(site).entries() if e.reason == NOT_OFFERED]
    assert [e.time for e in gone] == ["2020-10-31T09:00:00Z"]
