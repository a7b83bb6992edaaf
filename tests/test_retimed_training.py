"""Training at a step the archive's cadence does not divide: 15-min frames seen every 10 min by
motion-compensated interpolation, so the satellite rain-rate day gives training windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, shared_data_path
from ingest_fixtures import cli

from nowcast.store.archive import FrameRows
from nowcast.training.retimed import off_step, retimed_rows

QUARTER = pd.Timedelta("15min")
TEN = pd.Timedelta("10min")


def blob(centre_column: float, size: int = 48) -> np.ndarray:
    """A round rain cell (mm/h) centred on row 24 and `centre_column`."""
    rows, columns = np.mgrid[:size, :size]
    return (20.0 * np.exp(-((rows - 24) ** 2 + (columns - centre_column) ** 2) / 18.0)).astype(
        np.float32
    )


def moving_rows(times: pd.DatetimeIndex, pixels_per_quarter: float) -> FrameRows:
    """A cell moving east `pixels_per_quarter` every 15 minutes, one frame per time."""
    columns = [10.0 + pixels_per_quarter * (t - times[0]) / QUARTER for t in times]
    frames = np.stack([blob(c) for c in columns])
    attrs = {"units": "mm h-1", "cadence_s": 900.0}
    return FrameRows(times.as_unit("ns").asi8, None, frames, attrs)


def centre_column(frame: np.ndarray) -> float:
    """The rain-weighted mean column of a frame."""
    weights = np.nan_to_num(frame)
    return float((weights.sum(axis=0) * np.arange(frame.shape[1])).sum() / weights.sum())


def test_off_step_says_which_cadences_give_no_windows() -> None:
    assert off_step(QUARTER, TEN) and off_step(pd.Timedelta("6min"), TEN)
    assert off_step(TEN, pd.Timedelta("5min"))  # a finer step is reached by retiming too
    assert not off_step(pd.Timedelta("5min"), TEN) and not off_step(TEN, TEN)


def test_frames_between_two_are_moved_not_faded() -> None:
    times = pd.date_range("2018-06-01T07:00", periods=5, freq=QUARTER)
    rows = moving_rows(times, 3.0)
    retimed = retimed_rows(rows, QUARTER, TEN)
    at = pd.DatetimeIndex(retimed.times.view("datetime64[ns]"))
    assert list(at) == list(pd.date_range("2018-06-01T07:00", "2018-06-01T08:00", freq=TEN))
    frames = retimed.read(slice(None))
    for time, frame in zip(at, frames, strict=True):
        expected = 10.0 + 3.0 * (time - times[0]) / QUARTER
        assert centre_column(frame) == pytest.approx(expected, abs=0.5), time
        assert np.nanmax(frame) > 0.8 * 20.0, f"{time}: the cell faded instead of moving"
    np.testing.assert_array_equal(frames[3], rows.read(slice(2, 3))[0])  # 07:30 is copied
    assert retimed.attrs["cadence_s"] == 900.0 and retimed.attrs["units"] == "mm h-1"


def test_no_frame_is_made_across_a_gap() -> None:
    first = pd.date_range("2018-06-01T07:00", periods=3, freq=QUARTER)
    second = pd.date_range("2018-06-01T09:00", periods=3, freq=QUARTER)
    retimed = retimed_rows(moving_rows(first.append(second), 3.0), QUARTER, TEN)
    at = pd.DatetimeIndex(retimed.times.view("datetime64[ns]"))
    assert not ((at > first[-1]) & (at < second[0])).any()
    assert list(at) == [
        *pd.date_range("2018-06-01T07:00", "2018-06-01T07:30", freq=TEN),
        *pd.date_range("2018-06-01T09:00", "2018-06-01T09:30", freq=TEN),
    ]


@pytest.fixture(scope="module")
def saf_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The satellite rain-rate day (15-min frames) ingested with the shipped pipeline."""
    source = shared_data_path("satellite", "saf-crr-20180601")
    root = tmp_path_factory.mktemp("saf")
    (root / "nowcast.toml").write_text(
        f'archive = "{root / "archive.zarr"}"\npipelines_dir = "{REPO / "pipelines"}"\n'
    )
    (root / "tiny.toml").write_text(
        (REPO / "models" / "modernn-radar-guided.toml")
        .read_text()
        .replace("hidden = 16", "hidden = 4")
    )
    result = run(root, source, "ingest", "-p", "saf-crr", "--since", "2018-06-01T06:00Z",
                 "--until", "2018-06-01T18:00Z")  # fmt: skip
    assert result.exit_code == 0, result.output
    return root


def run(site: Path, source: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    return cli(site / "nowcast.toml", *args, env={"NOWCAST_SAF_DIR": str(source)})


@pytest.mark.parametrize("workers", ["0", "1"])
def test_the_satellite_day_trains_at_the_radar_models_step(saf_site: Path, workers: str) -> None:
    source = shared_data_path("satellite", "saf-crr-20180601")
    out = saf_site / f"trained-{workers}"
    result = run(saf_site, source, "train", "-p", "saf-crr", "--preset",
                 str(saf_site / "tiny.toml"), "--step", "10min", "--iterations", "2", "--every",
                 "2", "--workers", workers, "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((out / "card.json").read_text())["data"]
    assert data["retimed"] == ["saf-crr"] and data["step"] == "10min"
    assert data["cadence"] == "15min"
    train = data["split"]["train"]
    assert train["windows"] > 20
    starts = pd.DatetimeIndex([train["first_start"], train["last_start"]])
    assert all(start.minute % 10 == 0 for start in starts)


def test_a_step_the_windows_do_not_fit_is_refused_before_retiming(saf_site: Path) -> None:
    source = shared_data_path("satellite", "saf-crr-20180601")
    out = saf_site / "refused"
    result = run(saf_site, source, "train", "-p", "saf-crr", "--step", "7min", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "not whole multiples of the sampling step 7min" in result.output
    assert "Traceback" not in result.output and not out.exists()
