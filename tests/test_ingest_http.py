"""The BOM day served over HTTP on 127.0.0.1 and ingested through the `http` source, with faults."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import shared_data_path
from ingest_fixtures import BOM, cli, faulty_server, write_settings

from nowcast.ingest.ledger import Ledger
from nowcast.store.archive import Archive

NAME = "66_20201031_{}00.prcp-c10.nc".format
PIPELINE = """
[source]
kind = "http"
url = "{base}/66_{{time:%Y%m%d_%H%M%S}}.prcp-c10.nc"
format = "netcdf"
variable = "precipitation"
cadence = "10min"
connect_timeout_s = 0.5
timeout_s = 0.5
retries = 2
backoff_s = 0.01

[grid]
shape = [64, 64]

[transform]
kind = "log10"
vmin = 0.01
vmax = 20.0
fill = 0.0

[checks]
shape = [512, 512]
valid_range = [0.0, 500.0]
max_outliers = 0.001

[ingest]
max_failures = 2
"""
SINCE, UNTIL = "2020-10-31T00:00Z", "2020-10-31T01:30Z"


def setup(tmp_path: Path, base: str) -> Path:
    """Settings with one `bom-http` pipeline pointing at the local server."""
    config = write_settings(tmp_path)
    (tmp_path / "pipelines" / "bom-http.toml").write_text(PIPELINE.format(base=base))
    return config


def ingest(config: Path, *extra: str):  # noqa: ANN201 - CliRunner Result
    """`nowcast ingest -p bom-http` over the first 90 minutes of the day."""
    return cli(config, "ingest", "-p", "bom-http", "--since", SINCE, "--until", UNTIL, *extra)


def test_faults_are_survived_and_late_frames_arrive_later(tmp_path: Path) -> None:
    faults = {
        NAME("0010"): ["500"],
        NAME("0020"): ["reset"],
        NAME("0030"): ["truncate"],
        NAME("0040"): ["slow"],
        NAME("0050"): ["404"],
    }
    with faulty_server(shared_data_path(*BOM), faults, slow_s=1.0) as base:
        config = setup(tmp_path, base)
        first = ingest(config)
        # 00:30's body was cut short: that frame failed (exit 4); the next run fetches it.
        assert first.exit_code == 4, first.output
        assert "IncompleteRead" in first.output
        archive = Archive(tmp_path / "archive" / "nowcast.zarr")
        times = archive.times("bom-http")
        assert len(times) == 8 and pd.Timestamp("2020-10-31T00:50") not in times
        ledger = Ledger(archive.path, "bom-http")
        assert [e.time for e in ledger.entries() if e.status == "pending"] == [
            "2020-10-31T00:50:00Z"
        ]
        second = ingest(config)  # 00:50 is published now
        assert second.exit_code == 0, second.output
        assert len(archive.times("bom-http")) == 10


def test_unreachable_source_exits_4_and_keeps_what_was_fetched(tmp_path: Path) -> None:
    faults = {NAME("0030"): ["500"] * 20, NAME("0040"): ["500"] * 20}
    with faulty_server(shared_data_path(*BOM), faults) as base:
        config = setup(tmp_path, base)
        result = ingest(config)
    assert result.exit_code == 4, result.output
    assert "error: ingest failed: bom-http" in result.output
    assert "gave up after 2 failed fetches" in result.output
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    assert [t.strftime("%H%M") for t in archive.times("bom-http")] == ["0000", "0010", "0020"]


def test_no_server_at_all_exits_4(tmp_path: Path) -> None:
    config = setup(tmp_path, "http://127.0.0.1:9")
    result = ingest(config)
    assert result.exit_code == 4
    assert result.output.strip().splitlines()[-1].startswith("error: ingest failed: ")
