"""CEReS gridded Himawari TIR: bz2 with a cap, the count table, the crop, and ingest over HTTP."""

from __future__ import annotations

import bz2
import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from ingest_fixtures import cli, faulty_server, write_settings
from satellite_fixtures import SEA_COUNT, ceres_kelvin, write_ceres_file, write_ceres_lut

from nowcast.core.errors import ConfigError
from nowcast.ingest.pipeline import read_pipeline
from nowcast.ingest.readers import get_reader
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.readers.bunzip import bunzip2
from nowcast.ingest.readers.ceres import CeresOptions, crop_window
from nowcast.store.archive import Archive

START = datetime(2019, 11, 1, 0, 0)
NAME = "201911010{}.tir.01.fld.geoss.bz2".format
PIPELINE = """
[source]
kind = "http"
url = "BASE/{time:%Y%m}/TIR/{time:%Y%m%d%H%M}.tir.01.fld.geoss.bz2"
format = "ceres_gridded"
cadence = "10min"
connect_timeout_s = 0.5
timeout_s = 5
retries = 1
backoff_s = 0.01
max_bytes = 1_000_000

[source.reader]
lut = "LUT"

[grid]
shape = [20, 30]
bbox = [120.0, 10.0, 150.0, 30.0]

[transform]
kind = "linear"
vmin = 170.0
vmax = 300.0
invert = true

[checks]
valid_range = [150.0, 350.0]
"""


@pytest.fixture(scope="module")
def ceres(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real-layout CEReS file (storm at 20N 135E) and its count table, written once."""
    folder = tmp_path_factory.mktemp("ceres")
    return write_ceres_file(folder / "201911" / "TIR", START, (20.0, 135.0)), write_ceres_lut(
        folder / "tir.01"
    )


def test_bunzip2_caps_and_reports_corrupt_and_truncated_data() -> None:
    data = bz2.compress(b"x" * 100_000)
    assert bunzip2(data, 100_000) == b"x" * 100_000
    assert bunzip2(data + bz2.compress(b"yz"), 100_002).endswith(b"xyz")  # two streams
    with pytest.raises(ValueError, match="beyond the size cap"):
        bunzip2(data, 99_999)
    with pytest.raises(ValueError, match="truncated"):
        bunzip2(data[:-10], 100_000)
    with pytest.raises(ValueError, match="corrupt"):
        bunzip2(b"BZh9" + bytes(100), 100_000)


def test_crop_window_follows_the_grid_layout() -> None:
    options = CeresOptions(lut=Path("tir.01"), bbox=(120.0, 10.0, 150.0, 30.0))
    rows, cols, lon, lat = crop_window(options)
    assert (rows, cols) == (slice(1500, 2500), slice(1750, 3250))
    assert lon[0] == pytest.approx(120.01) and lat[0] == pytest.approx(29.99)
    east = crop_window(CeresOptions(lut=Path("t"), bbox=(-175.0, -10.0, -160.0, 0.0)))
    assert east[2][0] == pytest.approx(185.01)  # east of 180 as 185..200
    whole = crop_window(CeresOptions(lut=Path("t")))
    assert (whole[0], whole[1]) == (slice(0, 6000), slice(0, 6000))
    assert whole[2][-1] == pytest.approx(204.99) and whole[3][-1] == pytest.approx(-59.99)


def test_counts_become_brightness_temperature_in_the_box(ceres: tuple[Path, Path]) -> None:
    path, lut = ceres
    reader = get_reader("ceres_gridded")
    options = reader.options_model(lut=lut, bbox=(120.0, 10.0, 150.0, 30.0))
    frame = reader.read(Payload(path.name, path=path), options)
    assert frame.shape == (1000, 1500) and frame.dtype == np.float32
    assert frame.attrs["units"] == "K"
    values = frame.values
    assert values.min() == pytest.approx(190.0, abs=0.5)
    assert values.max() == pytest.approx(ceres_kelvin(SEA_COUNT), abs=0.01)
    rows, cols = np.nonzero(values < 200.0)  # the cloud shield's core, centred on the storm
    assert frame.y.values[rows].mean() == pytest.approx(20.0, abs=0.01)
    assert frame.x.values[cols].mean() == pytest.approx(135.0, abs=0.01)
    with pytest.raises(ConfigError, match="count table not found"):
        reader.read(Payload(path.name, path=path), options.model_copy(update={"lut": lut / "x"}))
    wrong = bz2.compress(bytes(1000))
    with pytest.raises(ValueError, match="expected 72000000"):
        reader.read(Payload(path.name, data=wrong), options)


def setup(tmp_path: Path, base: str, lut: Path) -> Path:
    """Settings with a `ceres-http` pipeline reading the local mirror."""
    config = write_settings(tmp_path)
    text = PIPELINE.replace("BASE", base).replace("LUT", str(lut))
    (tmp_path / "pipelines" / "ceres-http.toml").write_text(text)
    return config


def test_ingest_over_http_quarantines_corrupt_and_oversize(
    tmp_path: Path, ceres: tuple[Path, Path]
) -> None:
    path, lut = ceres
    mirror = tmp_path / "mirror" / "201911" / "TIR"
    mirror.mkdir(parents=True)
    shutil.copy(path, mirror / NAME("000"))
    shutil.copy(path, mirror / NAME("010"))
    good = path.read_bytes()
    (mirror / NAME("020")).write_bytes(good[: len(good) // 2] + b"garbage")
    (mirror / NAME("030")).write_bytes(np.random.default_rng(1).bytes(1_500_000))
    with faulty_server(tmp_path / "mirror", {}) as base:
        config = setup(tmp_path, base, lut)
        result = cli(
            config,
            "ingest",
            "-p",
            "ceres-http",
            "--since",
            "2019-11-01T00:00Z",
            "--until",
            "2019-11-01T00:30Z",
        )
    assert result.exit_code == 0, result.output
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    series = archive.read("ceres-http")
    assert series.sizes == {"time": 2, "y": 20, "x": 30}
    assert float(series.lon.min()) == pytest.approx(120.5, abs=0.02)
    assert float(series.lat.max()) == pytest.approx(29.5, abs=0.02)
    kelvin = series.isel(time=1).values
    row, col = np.unravel_index(np.argmin(kelvin), kelvin.shape)
    assert abs(float(series.lat[row, col]) - 20.0) <= 1.0
    assert abs(float(series.lon[row, col]) - 135.0) <= 1.0
    notes = (tmp_path / "archive" / "quarantine" / "ceres-http").glob("*.reason.json")
    reasons = {json.loads(n.read_text())["valid_time"]: json.loads(n.read_text()) for n in notes}
    assert set(reasons) == {"2019-11-01T00:20:00Z", "2019-11-01T00:30:00Z"}
    assert reasons["2019-11-01T00:20:00Z"]["reason"].startswith("undecodable: ValueError")
    assert "bz2 data" in reasons["2019-11-01T00:20:00Z"]["reason"]
    assert reasons["2019-11-01T00:30:00Z"]["reason"] == (
        "download of 1500000 bytes exceeds max_bytes"
    )


def test_shipped_pipeline_lists_the_ftp_layout(
    tmp_path: Path, repo_root: Path, ceres: tuple[Path, Path]
) -> None:
    path, lut = ceres
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_CERES_DIR": str(path.parent.parent.parent), "NOWCAST_CERES_LUT": str(lut)}
    result = cli(
        config,
        "ingest",
        "-p",
        "ceres-tir",
        "--since",
        "2019-11-01T00:00Z",
        "--until",
        "2019-11-01T01:00Z",
        "--dry-run",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("would fetch") == 1
    assert f"201911/TIR/{path.name}" in result.output


def test_a_relative_table_path_is_from_the_pipeline_file(tmp_path: Path) -> None:
    path = tmp_path / "ceres.toml"
    path.write_text(PIPELINE.replace("BASE", "http://127.0.0.1:9").replace("LUT", "tables/tir.01"))
    assert read_pipeline(path).source.reader["lut"] == str(tmp_path / "tables" / "tir.01")
