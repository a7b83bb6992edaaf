"""Frames between frames: moved along the motion, not faded from one place into the next."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nowcast.models.motion import MotionSpace
from nowcast.models.retiming import history_motion, needs_retiming, retime

RAIN = MotionSpace("mm", pd.Timedelta("6min"))
SIX = pd.Timedelta("6min")


def block_at(column: int, frames: int = 1) -> np.ndarray:
    """A 1 mm block 12 px wide whose left edge is at `column`, on a dry 64x64 field."""
    field = np.zeros((frames, 64, 64), dtype=np.float32)
    field[:, 20:34, column : column + 12] = 1.0
    return field


def left_edge(frame: np.ndarray) -> int:
    """The first column where the block holds more than half its rain."""
    return int(np.argmax(frame[27] > 0.5))


def test_a_frame_between_two_is_the_block_moved_half_way() -> None:
    history = np.concatenate([block_at(10), block_at(16), block_at(22)])  # 6 px per 6 min
    times = pd.date_range("2021-07-04T12:00", periods=3, freq=SIX)
    velocity = history_motion(history, RAIN)
    wanted = pd.DatetimeIndex([times[1] + pd.Timedelta("3min")])
    (between,) = retime(history, times, wanted, velocity, SIX, RAIN)
    assert abs(left_edge(between) - 19) <= 1
    assert between.max() == pytest.approx(1.0, abs=0.05)  # moved whole, not two half blocks
    faded = 0.5 * (history[1] + history[2])
    assert faded.max() == pytest.approx(1.0) and (faded == 0.5).sum() > 100
    assert ((between > 0.2) & (between < 0.8)).sum() < 0.5 * (faded == 0.5).sum()


def test_known_times_are_copied_and_others_outside_refused() -> None:
    history = np.concatenate([block_at(10), block_at(16)])
    times = pd.date_range("2021-07-04T12:00", periods=2, freq=SIX)
    velocity = np.zeros((2, 64, 64))
    assert not needs_retiming(times, times[1:])
    same = retime(history, times, times[1:], velocity, SIX, RAIN)
    np.testing.assert_array_equal(same[0], history[1])
    with pytest.raises(ValueError, match="outside"):
        retime(history, times, times + pd.Timedelta("1min"), velocity, SIX, RAIN)


def test_no_data_stays_no_data_between_frames() -> None:
    history = np.concatenate([block_at(10), block_at(16)])
    history[:, :, 60:] = np.nan
    times = pd.date_range("2021-07-04T12:00", periods=2, freq=SIX)
    (between,) = retime(
        history, times, times[:1] + pd.Timedelta("2min"), np.zeros((2, 64, 64)), SIX, RAIN
    )
    assert np.isnan(between[:, 60:]).all() and np.isfinite(between[:, :60]).all()
