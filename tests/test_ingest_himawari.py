"""Himawari AHI HSD: segments, bucket URLs, satpy decoding, ingest over HTTP with faults."""

from __future__ import annotations

import bz2
import io
import json
import sys
import tarfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ingest_fixtures import cli, faulty_server, write_settings
from satellite_fixtures import hsd_name, write_hsd_frame

from nowcast.core.errors import ConfigError
from nowcast.ingest.ledger import Ledger
from nowcast.ingest.pipeline import make_reader, make_source, read_pipeline
from nowcast.ingest.readers import get_reader
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.readers.bundle import pack, unpack
from nowcast.ingest.sources.himawari import HimawariOptions, HimawariSource, covering_segments
from nowcast.store.archive import Archive

BOX = (125.0, 10.0, 150.0, 30.0)
START = datetime(2022, 11, 11, 12, 0)
PIPELINE = """
[source]
kind = "himawari"
url = "BASE/AHI-L1b-FLDK/{time:%Y/%m/%d/%H%M}/HS_{satellite}_{time:%Y%m%d_%H%M}_B{band:02d}\
_FLDK_R{resolution}_S{segment:02d}10.DAT.bz2"
format = "ahi_hsd"
cadence = "10min"
connect_timeout_s = 0.5
timeout_s = 2
retries = 1
backoff_s = 0.01
max_bytes = 500_000

[source.reader]
resolution_km = 20.0

[grid]
shape = [16, 16]
bbox = [125.0, 10.0, 150.0, 30.0]

[transform]
kind = "linear"
vmin = 170.0
vmax = 300.0
invert = true
fill = 300.0

[checks]
valid_range = [150.0, 350.0]
max_missing = 0.2
"""


def source(**options: object) -> HimawariSource:
    """A Himawari source over the test box with the default NOAA URL."""
    return HimawariSource(HimawariOptions(bbox=BOX, **options), pd.Timedelta("10min"), None)


def test_only_the_segments_over_the_box_are_listed() -> None:
    assert covering_segments(BOX) == range(3, 6)
    assert covering_segments((115.0, 5.0, 155.0, 45.0)) == range(2, 6)
    assert covering_segments((120.0, -1.0, 160.0, 1.0)) == range(5, 7)  # the equator: 5 | 6
    assert covering_segments((100.0, -80.0, 180.0, 80.0)) == range(1, 11)
    with pytest.raises(ConfigError, match="not visible"):
        covering_segments((-60.0, 10.0, -30.0, 30.0))


def test_bucket_urls_follow_the_satellite_switch() -> None:
    himawari = source()
    before, after = pd.Timestamp("2022-12-13T04:50"), pd.Timestamp("2022-12-13T05:00")
    assert himawari.segment_url(before, 3) == (
        "https://noaa-himawari8.s3.amazonaws.com/AHI-L1b-FLDK/2022/12/13/0450/"
        "HS_H08_20221213_0450_B13_FLDK_R20_S0310.DAT.bz2"
    )
    assert himawari.segment_url(after, 5).startswith(
        "https://noaa-himawari9.s3.amazonaws.com/AHI-L1b-FLDK/2022/12/13/0500/HS_H09_20221213_0500"
    )
    (listed,) = himawari.candidates(before, before)
    assert listed.location.endswith("HS_H08_20221213_0450_B13_FLDK_R20_S{03,04,05}10.DAT.bz2")
    assert listed.name == "HS_H08_20221213_0450_B13_FLDK_S03-S05.tar"
    assert source(satellite="H08").satellite(after) == "H08"


def test_segments_decode_to_brightness_temperature_on_the_box(tmp_path: Path) -> None:
    pytest.importorskip("satpy")
    paths = write_hsd_frame(tmp_path, START, (20.0, 135.0), range(3, 6))
    payload = Payload("frame.tar", data=pack({p.name: p.read_bytes() for p in paths}))
    assert list(unpack(payload.data)) == [p.name for p in paths]
    reader = get_reader("ahi_hsd")
    frame = reader.read(payload, reader.options_model(bbox=BOX, resolution_km=20.0))
    assert frame.attrs["units"] == "K" and frame.attrs["satellite"] == "Himawari-8"
    assert pd.Timestamp(frame.time.values) == pd.Timestamp(START)
    values = frame.values
    assert np.isnan(values).mean() < 0.01
    assert 189.0 < np.nanmin(values) < 192.0 and 294.5 < np.nanmax(values) < 295.5
    row, col = np.unravel_index(np.nanargmin(values), values.shape)
    assert abs(frame.y.values[row] - 20.0) < 0.2 and abs(frame.x.values[col] - 135.0) < 0.2
    one = Payload(paths[1].name, path=paths[1])  # a single compressed segment reads too
    assert reader.read(one, reader.options_model(bbox=BOX, resolution_km=20.0)).shape


def test_bombs_cut_segments_and_strangers_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("satpy")
    (path,) = write_hsd_frame(tmp_path, START, (20.0, 135.0), range(4, 5))
    reader = get_reader("ahi_hsd")
    options = reader.options_model(bbox=BOX, max_segment_bytes=10_000)
    with pytest.raises(ValueError, match="beyond the size cap"):
        reader.read(Payload(path.name, path=path), options)
    cut = bz2.compress(bz2.decompress(path.read_bytes())[:-10])
    with pytest.raises(ValueError, match="but its header states"):
        reader.read(
            Payload(path.name, data=cut), options.model_copy(update={"max_segment_bytes": 10**6})
        )
    with pytest.raises(ValueError, match="not named like an HSD segment"):
        reader.read(Payload("x.tar", data=pack({"evil.DAT": b"1"})), options)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("../HS_H08_20221111_1200_B13_FLDK_R20_S0410.DAT"))
    with pytest.raises(ValueError, match="unexpected bundle member"):
        unpack(buffer.getvalue())


def setup(tmp_path: Path, base: str) -> Path:
    """Settings with one `himawari-test` pipeline reading the local bucket."""
    config = write_settings(tmp_path)
    pipeline = tmp_path / "pipelines" / "himawari-test.toml"
    pipeline.write_text(PIPELINE.replace("BASE", base))
    return config


def test_missing_satellite_extra_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = tmp_path / "bucket"
    write_hsd_frame(bucket, START, (20.0, 135.0), range(3, 6))
    monkeypatch.setitem(sys.modules, "satpy", None)
    with faulty_server(bucket, {}) as base:
        config = setup(tmp_path, base)
        result = cli(
            config,
            "ingest",
            "-p",
            "himawari-test",
            "--since",
            "2022-11-11T12:00Z",
            "--until",
            "2022-11-11T12:00Z",
        )
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "error: ingest failed: himawari-test: ConfigError: "
        "the ahi_hsd format needs the satellite extra (satpy is missing): "
        "pip install 'nowcast[satellite]'"
    )
    assert not (tmp_path / "archive" / "quarantine").exists()


def test_ingest_from_the_bucket_with_a_corrupt_and_an_oversize_segment(tmp_path: Path) -> None:
    pytest.importorskip("satpy")
    bucket = tmp_path / "bucket"
    for minute, centre in ((0, (20.0, 135.0)), (10, (20.5, 134.5)), (20, (21.0, 134.0))):
        write_hsd_frame(bucket, START.replace(minute=minute), centre, range(3, 6))
    write_hsd_frame(bucket, START.replace(minute=30), (21.0, 134.0), range(3, 6))
    write_hsd_frame(bucket, START.replace(minute=40), (21.0, 134.0), range(3, 5))  # S05 late
    corrupt = bucket / "AHI-L1b-FLDK/2022/11/11/1220" / hsd_name(START.replace(minute=20), 4)
    corrupt.write_bytes(corrupt.read_bytes()[:400] + b"not bz2 any more")
    oversize = bucket / "AHI-L1b-FLDK/2022/11/11/1230" / hsd_name(START.replace(minute=30), 3)
    oversize.write_bytes(np.random.default_rng(0).bytes(600_000))
    with faulty_server(bucket, {}) as base:
        config = setup(tmp_path, base)
        result = cli(
            config,
            "ingest",
            "-p",
            "himawari-test",
            "--since",
            "2022-11-11T12:00Z",
            "--until",
            "2022-11-11T12:40Z",
        )
    assert result.exit_code == 0, result.output
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    series = archive.read("himawari-test")
    assert [t.strftime("%H%M") for t in archive.times("himawari-test")] == ["1200", "1210"]
    assert series.sizes == {"time": 2, "y": 16, "x": 16}
    kelvin = series.isel(time=0).values
    assert 190.0 < kelvin.min() < 230.0 and 290.0 < kelvin.max() <= 295.5
    row, col = np.unravel_index(np.argmin(kelvin), kelvin.shape)
    assert abs(float(series.lat[row, col]) - 20.0) < 1.6
    assert abs(float(series.lon[row, col]) - 135.0) < 1.6
    notes = sorted((tmp_path / "archive" / "quarantine" / "himawari-test").glob("*.reason.json"))
    reasons = {json.loads(n.read_text())["valid_time"]: json.loads(n.read_text()) for n in notes}
    assert set(reasons) == {"2022-11-11T12:20:00Z", "2022-11-11T12:30:00Z"}
    bad_bz2 = reasons["2022-11-11T12:20:00Z"]
    assert bad_bz2["reason"].startswith("undecodable: ValueError: HS_H08_20221111_1220_B13")
    assert "bz2 data" in bad_bz2["reason"] and bad_bz2["file"].endswith("_S03-S05.tar")
    assert reasons["2022-11-11T12:30:00Z"]["reason"].startswith("download of 600000 bytes")
    entries = list(Ledger(archive.path, "himawari-test").entries())
    assert [e.time for e in entries if e.status == "pending"] == ["2022-11-11T12:40:00Z"]


def test_the_box_comes_from_the_grid_or_is_required(tmp_path: Path) -> None:
    path = tmp_path / "himawari.toml"
    path.write_text(PIPELINE.replace("BASE", "http://127.0.0.1:9"))
    config = read_pipeline(path)
    assert make_source(config).segments == range(3, 6)
    assert make_reader(config)[1].bbox == BOX
    path.write_text(PIPELINE.replace("bbox = [125.0, 10.0, 150.0, 30.0]\n", ""))
    with pytest.raises(ConfigError, match=r"\[source\].*bbox"):
        read_pipeline(path)
