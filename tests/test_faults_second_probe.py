"""Faults the second probe found in configuration and logging, each through the CLI or the
function a log line goes through: a bare query token, an end before the start, an inverted
valid range, a config file that is not UTF-8 or is a folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO
from ingest_fixtures import cli, write_settings

from nowcast.ingest.sources.http import _describe, redact


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        ("https://radar.example/f.nc?SECRET", "https://radar.example/f.nc?***"),
        ("https://radar.example/f.nc?TOKEN&day=1", "https://radar.example/f.nc?***&day=***"),
        ("https://u:p@radar.example/f.nc?key=abc", "https://radar.example/f.nc?key=***"),
    ],
)
def test_a_bare_query_token_is_masked_whole(url: str, logged: str) -> None:
    assert redact(url) == logged
    assert "SECRET" not in _describe(OSError(f"cannot fetch {url}"))
    assert "TOKEN" not in _describe(OSError(f"cannot fetch {url}: timed out"))


def test_until_before_since_is_refused(tmp_path: Path) -> None:
    config = write_settings(tmp_path, REPO / "pipelines")
    result = cli(
        config,
        "ingest",
        "-p",
        "demo",
        "--since",
        "2024-09-01T06:00Z",
        "--until",
        "2024-09-01T05:00Z",
    )
    assert result.exit_code == 2, result.output
    assert "--until 2024-09-01T05:00Z is before --since 2024-09-01T06:00Z" in result.output
    assert not (tmp_path / "archive").exists()


def test_an_inverted_valid_range_is_refused_even_by_a_dry_run(tmp_path: Path) -> None:
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    demo = (REPO / "pipelines" / "demo.toml").read_text()
    inverted = demo.replace("valid_range = [170.0, 320.0]", "valid_range = [500.0, 0.0]")
    assert inverted != demo
    (pipelines / "demo.toml").write_text(inverted)
    config = write_settings(tmp_path, pipelines)
    result = cli(config, "ingest", "-p", "demo", "--dry-run")
    assert result.exit_code == 2, result.output
    assert "minimum 500.0 must be below the maximum 0.0" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda path: path.write_bytes(b'archive = "caf\xe9.zarr"\n'), "not UTF-8 text"),
        (lambda path: path.mkdir(), "is a folder, not a config file"),
    ],
)
def test_a_config_that_cannot_be_read_exits_2(tmp_path: Path, make, said: str) -> None:  # noqa: ANN001
    config = tmp_path / "nowcast.toml"
    make(config)
    result = cli(config, "config", "show")
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output


def test_a_long_path_stays_on_one_line_in_a_pipe(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6)
    deep.mkdir(parents=True)
    config = write_settings(deep, REPO / "pipelines")
    (deep / "archive").mkdir()
    assert len(str(config)) > 160
    result = cli(config, "config", "check", str(config))
    assert result.exit_code == 0, result.output
    assert f"ok {config}\n" in result.output


def test_a_folder_name_with_a_non_utf8_byte_ingests_and_resumes(tmp_path: Path) -> None:
    """The ledger keeps such names as their bytes: every run exits 0, the summary counts the
    frames committed, and a second run neither reads nor quarantines anything again."""
    import os
    import shutil

    from conftest import shared_data_path
    from ingest_fixtures import BOM

    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/incoming-\xff"))
    folder.mkdir()
    for hhmm in ("0000", "0010"):
        name = f"66_20201031_{hhmm}00.prcp-c10.nc"
        shutil.copy(shared_data_path(*BOM, name), folder / name)
    (folder / "66_20201031_002000.prcp-c10.nc").write_bytes(b"junk")
    config = write_settings(tmp_path, REPO / "pipelines")
    env = {"NOWCAST_BOM_DIR": str(folder)}
    args = ("ingest", "-p", "bom-radar", "--since", "2020-10-31T00:00Z")
    first = cli(config, *args, "--until", "2020-10-31T00:30Z", env=env)
    assert first.exit_code == 0, first.output
    fetched, rejected = re.search(
        r"bom-radar\s*│\s*(\d+)\s*│\s*\d+\s*│\s*\d+\s*│\s*(\d+)", first.output
    ).groups()
    assert (fetched, rejected) == ("2", "1"), first.output
    quarantined = tmp_path / "archive" / "quarantine" / "bom-radar"
    notes = sorted(quarantined.glob("*.reason.json"))
    assert len(notes) == 1
    again = cli(config, *args, "--until", "2020-10-31T00:30Z", env=env)
    assert again.exit_code == 0, again.output
    assert sorted(quarantined.glob("*.reason.json")) == notes


def test_a_few_clutter_pixels_become_missing_and_the_frame_is_kept(tmp_path: Path) -> None:
    """Under the default max_outliers (0.1 %), three pixels of 1205 mm in a BOM frame are set
    to missing and counted in the ledger; the frame lands."""
    import shutil

    import netCDF4
    import numpy as np
    from conftest import shared_data_path
    from ingest_fixtures import BOM

    from nowcast.ingest.ledger import Ledger
    from nowcast.store.archive import Archive

    name = "66_20201031_000000.prcp-c10.nc"
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(shared_data_path(*BOM, name), folder / name)
    with netCDF4.Dataset(folder / name, "a") as handle:
        handle["precipitation"][0, 100:103] = 1205.0
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    shipped = (REPO / "pipelines" / "bom-radar.toml").read_text()
    own = "\n".join(line for line in shipped.splitlines() if not line.startswith("max_outliers"))
    (pipelines / "bom-radar.toml").write_text(own)
    config = write_settings(tmp_path, pipelines)
    env = {"NOWCAST_BOM_DIR": str(folder)}
    result = cli(
        config,
        "ingest",
        "-p",
        "bom-radar",
        "--since",
        "2020-10-31T00:00Z",
        "--until",
        "2020-10-31T00:00Z",
        env=env,
    )
    assert result.exit_code == 0, result.output
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    assert archive.read("bom-radar").sizes["time"] == 1
    assert float(np.nanmax(archive.read("bom-radar").values)) < 500
    (fetched,) = [e for e in Ledger(archive.path, "bom-radar").entries() if e.status == "fetched"]
    assert fetched.reason.endswith("; 3 pixels outside valid_range set to missing")
