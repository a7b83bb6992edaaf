"""The forecasts a forecaster would use instead of the model: persistence, pysteps
extrapolation and pysteps S-PROG, each run on stored frames at the archive's own cadence.

Motion is estimated as pysteps does it (`motion.MotionSpace`: Lucas-Kanade on dB-transformed
rain). Pixels with no data in the last frame stay NaN (a fixed radar domain); pixels advected
in from outside the domain take the last frame's value there, so edges stay comparable to
persistence.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nowcast.core import ConfigError, Registry, silenced_stdout
from nowcast.models.motion import (
    DBR_THRESHOLD,
    MotionSpace,
    advect,
    estimate_motion,
)

Baseline = Callable[[np.ndarray, int, MotionSpace], np.ndarray]
SPROG_LEVELS = 6  # cascade levels, as pysteps' default
SPROG_FRAMES = 3  # an AR(2) process needs three frames


def persistence(history: np.ndarray, steps: int, space: MotionSpace) -> np.ndarray:
    """Eulerian persistence: the last frame of `history` (T, H, W), repeated `steps` times."""
    return np.repeat(history[-1:].astype(np.float32), steps, axis=0)


def extrapolation(history: np.ndarray, steps: int, space: MotionSpace) -> np.ndarray:
    """Lagrangian extrapolation as pysteps' example nowcast: Lucas-Kanade motion from the last
    3 frames in dBR, the last frame advected in dBR (semi-Lagrangian), back to stored units."""
    moved = space.forward(history[-3:])
    velocity = estimate_motion(moved)
    forecast = advect(moved[-1], velocity, [float(i + 1) for i in range(steps)])
    return _within_domain(space.inverse(forecast), history[-1])


def sprog(history: np.ndarray, steps: int, space: MotionSpace) -> np.ndarray:
    """S-PROG (pysteps `sprog`): the extrapolated dBR field decomposed into a cascade of
    scales, each scale evolving as an AR(2) process, so small scales fade as they lose skill."""
    with silenced_stdout():
        from pysteps import nowcasts

    if history.shape[0] < SPROG_FRAMES:
        raise ConfigError(f"S-PROG needs {SPROG_FRAMES} frames of history, got {history.shape[0]}")
    moved = space.forward(history[-SPROG_FRAMES:])
    velocity = estimate_motion(moved)
    threshold = 10.0 * np.log10(DBR_THRESHOLD) if space.rain else float(np.nanmin(moved))
    if not np.isfinite(moved[-1]).any() or np.nanmax(moved[-1]) <= threshold:
        return persistence(history, steps, space)
    with silenced_stdout():
        forecast = nowcasts.get_method("sprog")(
            moved,
            velocity,
            steps,
            precip_thr=threshold,
            n_cascade_levels=SPROG_LEVELS,
            ar_order=2,
        )
    return _within_domain(space.inverse(forecast), history[-1])


def _within_domain(forecast: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Values advected in from outside -> the last frame's value; NaN where it has no data."""
    filled = np.where(np.isfinite(forecast), forecast, np.broadcast_to(last, forecast.shape))
    return np.where(np.isnan(last), np.nan, filled).astype(np.float32)


BASELINES: Registry[Baseline] = Registry(
    "baseline", {"persistence": persistence, "extrapolation": extrapolation, "sprog": sprog}
)


def get_baseline(name: str) -> Baseline:
    """The baseline called `name`; UnknownNameError listing the valid ones when unknown."""
    return BASELINES.get(name)
