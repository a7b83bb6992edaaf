"""Selecting the forecast's history window: complete, refused with the gap list, or filled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nowcast.core.errors import DataMissingError
from nowcast.store.history import select_history

HOUR = pd.Timedelta("1h")


def series(hours: list[int]) -> xr.DataArray:
    """Frames whose value equals their hour, at the given hours of 2022-11-11."""
    times = pd.Timestamp("2022-11-11") + pd.to_timedelta(hours, unit="h")
    values = np.array([np.full((4, 4), float(h)) for h in hours]).reshape(len(hours), 4, 4)
    return xr.DataArray(values, dims=("time", "y", "x"), coords={"time": times})


def test_complete_window_ends_at_the_newest_frame() -> None:
    history = select_history(series(list(range(12))), 8, HOUR)
    assert history.init_time == pd.Timestamp("2022-11-11T11:00")
    assert history.frames.sizes["time"] == 8
    assert history.filled_times == ()


def test_window_at_an_earlier_time() -> None:
    history = select_history(series(list(range(12))), 4, HOUR, at=pd.Timestamp("2022-11-11T05"))
    assert list(history.frames.values[:, 0, 0]) == [2.0, 3.0, 4.0, 5.0]


def test_missing_frames_are_refused_with_their_times() -> None:
    with pytest.raises(DataMissingError, match="2 of 8 frames missing") as error:
        select_history(series([0, 1, 2, 3, 5, 6, 8, 9, 10, 11]), 8, HOUR)
    assert "2022-11-11T07:00:00Z" in str(error.value)
    assert "2022-11-11T04:00:00Z" in str(error.value)
    assert error.value.exit_code == 3


def test_fill_persistence_and_linear() -> None:
    gappy = series([4, 5, 7, 8, 9, 10, 11])
    carried = select_history(gappy, 8, HOUR, fill="persistence")
    assert carried.filled_times == (pd.Timestamp("2022-11-11T06:00"),)
    assert carried.frames.sel(time="2022-11-11T06").values[0, 0] == 5.0
    linear = select_history(gappy, 8, HOUR, fill="linear")
    assert linear.frames.sel(time="2022-11-11T06").values[0, 0] == pytest.approx(6.0)


def test_empty_archive() -> None:
    with pytest.raises(DataMissingError, match="no frames"):
        select_history(series([]), 8, HOUR)


@pytest.mark.parametrize(("archive_min", "model_min", "said"), [(6, 10, "6min"), (15, 10, "15min")])
def test_a_cadence_the_model_cannot_take_is_named(
    archive_min: int, model_min: int, said: str
) -> None:
    times = pd.Timestamp("2021-07-04T12:00") + pd.to_timedelta(
        np.arange(20) * archive_min, unit="min"
    )
    frames = xr.DataArray(np.ones((20, 4, 4)), dims=("time", "y", "x"), coords={"time": times})
    with pytest.raises(DataMissingError) as caught:
        select_history(frames, 3, pd.Timedelta(minutes=model_min))
    message = str(caught.value)
    assert f"frames are {said} apart but this forecaster steps {model_min}min" in message


def test_a_coarser_model_step_reads_a_finer_archive() -> None:
    """A 10-minute model on a 5-minute archive takes every second frame, no refusal."""
    times = pd.Timestamp("2021-07-04T12:00") + pd.to_timedelta(np.arange(12) * 5, unit="min")
    values = np.arange(12, dtype=float)[:, None, None] * np.ones((12, 4, 4))
    frames = xr.DataArray(values, dims=("time", "y", "x"), coords={"time": times})
    history = select_history(frames, 3, pd.Timedelta(minutes=10))
    assert history.frames.values[:, 0, 0].tolist() == [7.0, 9.0, 11.0]
