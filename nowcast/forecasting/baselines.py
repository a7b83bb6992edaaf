"""The forecasts a forecaster would use instead of the model: persistence and extrapolation."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable

import numpy as np


def persistence(history: np.ndarray, steps: int) -> np.ndarray:
    """Eulerian persistence: the last frame of `history` (T, H, W), repeated `steps` times."""
    return np.repeat(history[-1:].astype(np.float32), steps, axis=0)


def extrapolation(history: np.ndarray, steps: int) -> np.ndarray:
    """Lagrangian extrapolation: pysteps Lucas-Kanade motion and semi-Lagrangian advection.

    Pixels advected in from outside the domain take the last frame's value there, so the
    result has no NaN and stays comparable to persistence at the edges.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        from pysteps import extrapolation as pysteps_extrapolation
        from pysteps import motion

    frames = np.nan_to_num(history[-3:].astype(np.float64))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Singular matrix", category=UserWarning)
        velocity = motion.get_method("LK")(frames)
    advect = pysteps_extrapolation.get_method("semilagrangian")
    forecast = advect(frames[-1], velocity, steps, outval=np.nan)
    last = np.broadcast_to(frames[-1], forecast.shape)
    return np.where(np.isfinite(forecast), forecast, last).astype(np.float32)


BASELINES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "persistence": persistence,
    "extrapolation": extrapolation,
}


def get_baseline(name: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """The baseline called `name`; unknown names list the valid ones."""
    try:
        return BASELINES[name]
    except KeyError:
        valid = ", ".join(sorted(BASELINES))
        raise ValueError(f"unknown baseline {name!r}; valid: {valid}") from None
