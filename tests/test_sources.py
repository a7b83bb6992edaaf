"""Sources: file-name patterns, the directory walk, the synthetic storm, HTTP with faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_path
from ingest_fixtures import BOM, faulty_server

from nowcast.core.errors import ConfigError
from nowcast.ingest.sources import BadInput, NotPublished, SourceUnavailable, get_source
from nowcast.ingest.sources.directory import DirectoryOptions, DirectorySource
from nowcast.ingest.sources.http import HttpOptions, HttpSource, redact
from nowcast.ingest.sources.pattern import compile_pattern
from nowcast.ingest.sources.synthetic import SyntheticOptions, SyntheticSource

BOM_NAME = "66_20201031_{:%H%M%S}.prcp-c10.nc"


def test_pattern_reads_time_and_group() -> None:
    pattern = compile_pattern("image/*/%Y%m%d%H-{group}-*-1.h5")
    assert pattern.glob == "image/*/*-*-*-1.h5"
    assert pattern.match("image/202224/2022111112-202224-HMW8-1.h5") == (
        pd.Timestamp("2022-11-11T12"),
        "202224",
    )
    assert pattern.match("image/202224/notes.txt") is None
    day_of_year = compile_pattern("AQC%y%j%H%MV_00005.801.gif")
    assert day_of_year.match("AQC161932045V_00005.801.gif")[0] == pd.Timestamp("2016-07-11T20:45")
    repeated = compile_pattern("%Y/%m/%d/%Y%m%d%H%M.nc")
    assert repeated.match("2020/10/31/202010311200.nc")[0] == pd.Timestamp("2020-10-31T12:00")
    assert repeated.match("2020/10/30/202010311200.nc") is None  # folder and name disagree
    with pytest.raises(ValueError, match="unsupported time code"):
        compile_pattern("%Q.nc")


def test_directory_lists_the_bom_day_in_a_window() -> None:
    folder = shared_data_path(*BOM)
    options = DirectoryOptions(path=folder, pattern="66_%Y%m%d_%H%M%S.prcp-c10.nc")
    source = DirectorySource(options, pd.Timedelta("10min"), None)
    everything = source.candidates(None, pd.Timestamp("2030-01-01"))
    assert len(everything) == 144 and everything[0].time == pd.Timestamp("2020-10-31")
    window = source.candidates(pd.Timestamp("2020-10-31T12:00"), pd.Timestamp("2020-10-31T13:00"))
    assert [c.time.strftime("%H%M") for c in window] == [
        "1200",
        "1210",
        "1220",
        "1230",
        "1240",
        "1250",
        "1300",
    ]
    assert window[0].fingerprint and source.keeps_originals
    fetched = source.fetch(window[0])
    assert fetched.payload.path == folder / window[0].name


def test_directory_missing_folder_is_unavailable(tmp_path: Path) -> None:
    options = DirectoryOptions(path=tmp_path / "unmounted", pattern="%Y%m%d.nc")
    source = DirectorySource(options, pd.Timedelta("1D"), None)
    with pytest.raises(SourceUnavailable, match="not mounted"):
        source.candidates(None, pd.Timestamp("2030-01-01"))


def test_synthetic_storm_is_deterministic_and_realistic() -> None:
    cadence = pd.Timedelta("1h")
    first = SyntheticSource(SyntheticOptions(seed=3), cadence, None)
    again = SyntheticSource(SyntheticOptions(seed=3), cadence, None)
    other = SyntheticSource(SyntheticOptions(seed=4), cadence, None)
    until = pd.Timestamp("2024-09-01T05:37")
    candidates = first.candidates(pd.Timestamp("2024-09-01T00:10"), until)
    assert [c.time.hour for c in candidates] == [1, 2, 3, 4, 5]  # whole hours, up to "now"
    frame = first.fetch(candidates[2]).frame
    np.testing.assert_array_equal(frame.values, again.fetch(candidates[2]).frame.values)
    assert not np.array_equal(frame.values, other.fetch(candidates[2]).frame.values)
    assert frame.attrs["units"] == "K"
    assert 180.0 <= float(frame.min()) < 215.0 and 285.0 < float(frame.max()) <= 300.0
    later = first.fetch(candidates[3]).frame
    assert 0 < float(np.abs(later - frame).mean()) < 15  # the storm moves, but smoothly
    start = SyntheticSource(SyntheticOptions(), cadence, pd.Timestamp("2024-09-01T03:00"))
    assert start.candidates(None, until)[0].time == pd.Timestamp("2024-09-01T03:00")


def http_source(base: str, **options: object) -> HttpSource:
    """An HTTP source over the BOM day with short timeouts and quick retries."""
    settings = {"timeout_s": 0.4, "connect_timeout_s": 0.4, "retries": 2, "backoff_s": 0.01}
    url = base + "/66_{time:%Y%m%d_%H%M%S}.prcp-c10.nc"
    return HttpSource(HttpOptions(url=url, **{**settings, **options}), pd.Timedelta("10min"), None)


def one(source: HttpSource, hhmm: str):  # noqa: ANN201 - a Candidate
    """The candidate of the BOM day at HH:MM."""
    time = pd.Timestamp(f"2020-10-31T{hhmm}")
    return source.candidates(time, time)[0]


def test_http_faults_are_retried_or_reported() -> None:
    folder = shared_data_path(*BOM)
    faults = {
        BOM_NAME.format(pd.Timestamp("2020-10-31T00:10")): ["500"],
        BOM_NAME.format(pd.Timestamp("2020-10-31T00:20")): ["reset"],
        BOM_NAME.format(pd.Timestamp("2020-10-31T00:30")): ["truncate"],
        BOM_NAME.format(pd.Timestamp("2020-10-31T00:40")): ["slow"],
        BOM_NAME.format(pd.Timestamp("2020-10-31T00:50")): ["500", "500", "500"],
    }
    with faulty_server(folder, faults, slow_s=1.0) as base:
        source = http_source(base)
        size = (folder / BOM_NAME.format(pd.Timestamp("2020-10-31T00:00"))).stat().st_size
        fetched = source.fetch(one(source, "00:00"))
        assert len(fetched.payload.data) == size and "ETag" in fetched.provenance
        for hhmm in ("00:10", "00:20", "00:40"):
            candidate = one(source, hhmm)
            body = source.fetch(candidate).payload.data
            assert body == (folder / candidate.name).read_bytes()
        # A body cut short fails this fetch; the next fetch (next run) gets the whole file.
        truncated = one(source, "00:30")
        with pytest.raises(SourceUnavailable, match="IncompleteRead|truncated body"):
            source.fetch(truncated)
        assert source.fetch(truncated).payload.data == (folder / truncated.name).read_bytes()
        with pytest.raises(SourceUnavailable, match="500"):
            source.fetch(one(source, "00:50"))
        tomorrow = pd.Timestamp("2020-11-01")
        with pytest.raises(NotPublished, match="404"):
            source.fetch(source.candidates(tomorrow, tomorrow)[0])


@pytest.mark.parametrize("retries", [0, 3])
def test_http_retries_mean_requests_per_file(retries: int) -> None:
    folder = shared_data_path(*BOM)
    name = BOM_NAME.format(pd.Timestamp("2020-10-31T00:10"))
    hits: dict[str, int] = {}
    with faulty_server(folder, {name: ["500"] * 10}, hits=hits) as base:
        source = http_source(base, retries=retries)
        with pytest.raises(SourceUnavailable, match="500"):
            source.fetch(one(source, "00:10"))
    assert hits == {name: retries + 1}


def test_http_limits_size_and_checks_sums(tmp_path: Path) -> None:
    (tmp_path / "66_20201031_000000.prcp-c10.nc").write_bytes(b"x" * 1000)
    (tmp_path / "66_20201031_000000.prcp-c10.nc.sha256").write_text("0" * 64 + "  file\n")
    with faulty_server(tmp_path, {}) as base:
        small = http_source(base, max_bytes=100)
        with pytest.raises(BadInput, match="exceeds max_bytes"):
            small.fetch(one(small, "00:00"))
        summed = http_source(base, checksum_url="{url}.sha256")
        with pytest.raises(BadInput, match="sha256 mismatch") as caught:
            summed.fetch(one(summed, "00:00"))
        assert caught.value.payload.data == b"x" * 1000


def test_http_unreachable_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    source = http_source("http://127.0.0.1:9", retries=0)
    with pytest.raises(SourceUnavailable, match="ConnectionError"):
        source.fetch(one(source, "00:00"))
    monkeypatch.setenv("NOWCAST_TEST_TOKEN", "s3cret")
    with_token = http_source("http://127.0.0.1:9", token_env="NOWCAST_TEST_TOKEN")
    assert with_token.session.headers["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in one(with_token, "00:00").location
    with pytest.raises(ConfigError, match="NOWCAST_UNSET_VAR"):
        http_source("http://127.0.0.1:9", username_env="NOWCAST_UNSET_VAR")


def test_redact_hides_every_query_value_but_public_keys() -> None:
    url = "https://user:pw@host:8443/a/b.nc?api_key=XYZ&X-Amz-Credential=AKIA&p=pw&x=1"
    assert redact(url) == "https://host:8443/a/b.nc?api_key=***&X-Amz-Credential=***&p=***&x=***"
    assert redact(url, frozenset({"x"})).endswith("&p=***&x=1")


def test_every_kind_has_an_options_model() -> None:
    for kind in ("directory", "http", "synthetic"):
        assert get_source(kind).options_model.model_config["extra"] == "forbid"
