"""The forecasts a forecaster would use instead of the model: persistence and extrapolation."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from nowcast.core.quiet import silenced_stdout


def persistence(history: np.ndarray, steps: int, stride: int = 1) -> np.ndarray:
    """Eulerian persistence: the last frame of `history` (T, H, W), repeated `steps` times."""
    return np.repeat(history[-1:].astype(np.float32), steps, axis=0)


def extrapolation(history: np.ndarray, steps: int, stride: int = 1) -> np.ndarray:
    """Lagrangian extrapolation: pysteps Lucas-Kanade motion and semi-Lagrangian advection.

    `history` is at the archive's native cadence; motion comes from its last 3 frames and the
    forecast is taken every `stride` native steps (leads of a strided model). No-data (NaN) is
    masked by pysteps in the motion, advected as the field's minimum and NaN again where the
    last frame has none (a fixed domain); pixels advected in from outside the domain take the
    last frame's value there, so the edges stay comparable to persistence.
    """
    with silenced_stdout():
        from pysteps import extrapolation as pysteps_extrapolation
        from pysteps import motion

    frames = history[-3:].astype(np.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Singular matrix", category=UserWarning)
        velocity = motion.get_method("LK")(frames)
    advect = pysteps_extrapolation.get_method("semilagrangian")
    timesteps = [float(stride * (i + 1)) for i in range(steps)]
    missing = np.isnan(frames[-1])
    start = np.where(missing, np.nanmin(frames[-1]), frames[-1]) if missing.any() else frames[-1]
    forecast = advect(start, velocity, timesteps, outval=np.nan)
    last = np.broadcast_to(frames[-1], forecast.shape)
    forecast = np.where(np.isfinite(forecast), forecast, last)
    return np.where(missing, np.nan, forecast).astype(np.float32)


BASELINES: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "persistence": persistence,
    "extrapolation": extrapolation,
}


def get_baseline(name: str) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """The baseline called `name`; unknown names list the valid ones."""
    try:
        return BASELINES[name]
    except KeyError:
        valid = ", ".join(sorted(BASELINES))
        raise ValueError(f"unknown baseline {name!r}; valid: {valid}") from None
