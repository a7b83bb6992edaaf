"""Frames at any time from frames at other times: motion-compensated interpolation.

A model works at its own step (10 min); archives come at 2, 5, 6, 10 or 15 min. The history is
brought to the model's step and its forecast back to the archive's cadence by moving the two
frames around each wanted time along pysteps' motion field (forward from the earlier, backward
from the later) and blending them by their distance in time, so rain moves between the frames
instead of fading out of one place and into the next.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nowcast.models.motion import MotionSpace, advect, estimate_motion


def needs_retiming(known: pd.DatetimeIndex, wanted: pd.DatetimeIndex) -> bool:
    """Whether any wanted time is not among the known ones."""
    return not wanted.isin(known).all()


def history_motion(frames: np.ndarray, space: MotionSpace) -> np.ndarray:
    """Motion (2, H, W) in pixels per frame interval from the last frames of a history."""
    return estimate_motion(space.forward(frames[-3:]))


def retime(
    frames: np.ndarray,
    known: pd.DatetimeIndex,
    wanted: pd.DatetimeIndex,
    velocity: np.ndarray | None,
    interval: pd.Timedelta,
    space: MotionSpace,
) -> np.ndarray:
    """Frames (N, H, W) valid at `known` (ascending) -> frames at `wanted`, each within
    [known[0], known[-1]]; `velocity` moves `interval` per unit (None when every wanted time is
    known: those frames are copied). No-data (NaN) where the nearer of the two frames has none."""
    out = np.empty((len(wanted), *frames.shape[1:]), dtype=np.float32)
    for index, time in enumerate(wanted):
        if time in known:
            out[index] = frames[known.get_loc(time)]
            continue
        later = int(known.searchsorted(time))
        if later == 0 or later == len(known):
            raise ValueError(f"{time} lies outside the frames' times {known[0]}..{known[-1]}")
        if velocity is None:
            raise ValueError(f"{time} lies between the frames' times: retiming needs a motion")
        out[index] = _between(
            frames[later - 1],
            frames[later],
            known[later - 1],
            known[later],
            time,
            velocity,
            interval,
            space,
        )
    return out


def _between(
    before: np.ndarray,
    after: np.ndarray,
    start: pd.Timestamp,
    end: pd.Timestamp,
    time: pd.Timestamp,
    velocity: np.ndarray,
    interval: pd.Timedelta,
    space: MotionSpace,
) -> np.ndarray:
    """The frame at `time` between `before` (at `start`) and `after` (at `end`)."""
    weight = (time - start) / (end - start)
    forward = space.inverse(advect(space.forward(before), velocity, [(time - start) / interval]))
    backward = space.inverse(advect(space.forward(after), -velocity, [(end - time) / interval]))
    forward = np.where(np.isfinite(forward[0]), forward[0], before)
    backward = np.where(np.isfinite(backward[0]), backward[0], after)
    blended = np.where(
        np.isnan(forward),
        backward,
        np.where(np.isnan(backward), forward, (1.0 - weight) * forward + weight * backward),
    )
    nearer = before if weight < 0.5 else after
    return np.where(np.isnan(nearer), np.nan, blended).astype(np.float32)
