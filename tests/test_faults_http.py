"""Slow and hostile HTTP upstreams on 127.0.0.1: every fetch ends by its deadline."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import shared_data_path
from ingest_fixtures import BOM, cli, faulty_server, write_settings

from nowcast.ingest.ledger import Ledger
from nowcast.store.archive import Archive

NAME = "66_20201031_{}00.prcp-c10.nc".format
PIPELINE = """
[source]
kind = "http"
url = "{base}/66_{{time:%Y%m%d_%H%M%S}}.prcp-c10.nc?token=T0PSECRET&p=hunter2"
format = "netcdf"
variable = "precipitation"
cadence = "10min"
connect_timeout_s = 0.5
timeout_s = 1.5
total_timeout_s = 2.0
max_retry_after_s = {cap}
retries = 2
backoff_s = 0.01

[grid]
shape = [32, 32]

[checks]
shape = [512, 512]
valid_range = [0.0, 500.0]
max_outliers = 0.001
"""
SINCE, UNTIL = "2020-10-31T00:00Z", "2020-10-31T00:30Z"


def run(tmp_path: Path, faults: dict[str, list[str]], cap: float = 3600.0, hits=None):  # noqa: ANN001, ANN201
    """Ingest 00:00..00:30 from the faulty server; (result, seconds taken, archived HHMM)."""
    config = write_settings(tmp_path)
    with faulty_server(shared_data_path(*BOM), faults, hits=hits) as base:
        (tmp_path / "pipelines" / "bom-http.toml").write_text(PIPELINE.format(base=base, cap=cap))
        began = time.monotonic()
        result = cli(config, "ingest", "-p", "bom-http", "--since", SINCE, "--until", UNTIL)
        took = time.monotonic() - began
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    return result, took, [t.strftime("%H%M") for t in archive.times("bom-http")]


def test_retry_after_3600_ends_at_the_total_deadline(tmp_path: Path) -> None:
    result, took, landed = run(tmp_path, {NAME("0010"): ["retry-after"] * 50})
    assert result.exit_code == 4, result.output
    assert "HTTP 503" in result.output or "total_timeout_s" in result.output
    assert landed == ["0000", "0020", "0030"]
    assert took < 8.0  # one 2 s deadline plus three quick frames, not an hour


def test_retry_after_is_capped_and_retries_stay_one_layer(tmp_path: Path) -> None:
    hits: dict[str, int] = {}
    result, took, landed = run(tmp_path, {NAME("0010"): ["retry-after"] * 50}, cap=0.1, hits=hits)
    assert result.exit_code == 4, result.output
    assert "HTTP 503" in result.output
    assert hits[NAME("0010")] == 3  # retries = 2: at most three requests
    assert took < 6.0


def test_two_bytes_per_second_body_ends_at_the_total_deadline(tmp_path: Path) -> None:
    result, took, landed = run(tmp_path, {NAME("0020"): ["drip"]})
    assert result.exit_code == 4, result.output
    assert "no complete answer within total_timeout_s = 2 s" in result.output
    assert landed == ["0000", "0010", "0030"]
    assert took < 8.0


def test_headers_dripping_a_byte_at_a_time_end_at_the_total_deadline(tmp_path: Path) -> None:
    result, took, landed = run(tmp_path, {NAME("0020"): ["drip-headers"]})
    assert result.exit_code == 4, result.output
    assert "no complete answer within total_timeout_s = 2 s" in result.output
    assert landed == ["0000", "0010", "0030"]
    assert took < 8.0  # each byte comes well within timeout_s = 1.5 s: only the total ends it


def test_redirect_to_another_host_is_refused_and_secrets_never_shown(tmp_path: Path) -> None:
    result, _, landed = run(tmp_path, {NAME("0000"): ["redirect-away"]})
    assert result.exit_code == 4, result.output
    assert "redirect to another host (localhost) refused" in result.output
    assert landed == ["0010", "0020", "0030"]
    ledger = Ledger(tmp_path / "archive" / "nowcast.zarr", "bom-http")
    stored = " ".join(f"{e.source} {e.reason}" for e in ledger.entries())
    for secret in ("T0PSECRET", "hunter2", "abc"):
        assert secret not in result.output and secret not in stored
    assert "token=***&p=***" in stored


def test_a_quarantined_http_file_is_fetched_again_only_once_it_changed(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    for hhmm in ("0000", "0020", "0030"):
        (served / NAME(hhmm)).write_bytes(shared_data_path(*BOM, NAME(hhmm)).read_bytes())
    (served / NAME("0010")).write_bytes(b"not a netcdf file" * 100)
    hits: dict[str, int] = {}
    config = write_settings(tmp_path)
    with faulty_server(served, {}, hits=hits) as base:
        (tmp_path / "pipelines" / "bom-http.toml").write_text(PIPELINE.format(base=base, cap=60))
        window = ("--since", SINCE, "--until", UNTIL)
        for _ in range(2):
            result = cli(config, "ingest", "-p", "bom-http", *window)
            assert result.exit_code == 0, result.output
        assert hits[NAME("0010")] == 1 and hits[f"HEAD {NAME('0010')}"] == 1
        (served / NAME("0010")).write_bytes(shared_data_path(*BOM, NAME("0010")).read_bytes())
        changed = cli(config, "ingest", "-p", "bom-http", *window)
        assert changed.exit_code == 0, changed.output
    assert hits[NAME("0010")] == 2
    archive = Archive(tmp_path / "archive" / "nowcast.zarr")
    landed = [t.strftime("%H%M") for t in archive.times("bom-http")]
    assert landed == ["0000", "0010", "0020", "0030"]


def test_a_same_host_redirect_is_followed_and_its_final_url_recorded(tmp_path: Path) -> None:
    result, _, landed = run(tmp_path, {NAME("0010"): ["redirect-here"]})
    assert result.exit_code == 0, result.output
    assert landed == ["0000", "0010", "0020", "0030"]
    ledger = Ledger(tmp_path / "archive" / "nowcast.zarr", "bom-http")
    (entry,) = [e for e in ledger.entries() if e.status == "fetched" and "moved" in e.reason]
    assert entry.time == "2020-10-31T00:10:00Z"
    assert entry.reason.startswith("http://127.0.0.1:") and "/moved/" + NAME("0010") in entry.reason
    assert "sig=***" in entry.reason and "abc" not in entry.reason
