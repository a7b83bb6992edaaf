"""Motion as pysteps estimates it, and advection along it.

Rain moves in dB-transformed rain rate (dBR: 10 log10 R, R below 0.1 mm/h set to -15 dBR), the
space pysteps' own examples estimate Lucas-Kanade motion and extrapolate in; other quantities
(brightness temperature) move in their stored values. `MotionSpace` maps stored values there
and back, so every baseline, the model's guidance and the retiming of frames share one motion.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nowcast.core import silenced_stdout
from nowcast.store import from_rain_rate as _from_rain_rate
from nowcast.store import is_rain, to_rain_rate

DBR_THRESHOLD = 0.1  # mm/h: below is no rain, as in pysteps' examples
DBR_ZERO = -15.0  # dBR given to no rain (pysteps' examples' zerovalue)


@dataclass(frozen=True)
class MotionSpace:
    """Stored values <-> the space motion is estimated and extrapolated in.

    `units` and `cadence` say what the stored values are (mm accumulate over `cadence`); for
    values that are not rain, the space is the stored values themselves.
    """

    units: str = ""
    cadence: pd.Timedelta = pd.Timedelta("5min")

    @property
    def rain(self) -> bool:
        """Whether values are rain (moved in dBR)."""
        return is_rain(self.units)

    def forward(self, stored: np.ndarray) -> np.ndarray:
        """Stored values -> dBR for rain, no-data as no rain (pysteps' examples fill it so);
        else float64 values as they are, NaN kept."""
        values = np.asarray(stored, dtype=np.float64)
        if not self.rain:
            return values
        dbr = to_dbr(to_rain_rate(values, self.units, self.cadence))
        return np.where(np.isnan(dbr), DBR_ZERO, dbr)

    def inverse(self, moved: np.ndarray) -> np.ndarray:
        """dBR (or plain values) -> stored values as float32, NaN kept."""
        if not self.rain:
            return np.asarray(moved, dtype=np.float32)
        rate = from_dbr(moved)
        return _from_rain_rate(rate, self.units, self.cadence)


def to_dbr(rate: np.ndarray) -> np.ndarray:
    """Rain rate (mm/h) -> dBR with pysteps' `dB_transform` (threshold 0.1, zero -15)."""
    with silenced_stdout():
        from pysteps.utils.transformation import dB_transform

    meta = {"unit": "mm/h", "transform": None, "threshold": 0.0, "zerovalue": 0.0}
    values, _ = dB_transform(
        np.asarray(rate, dtype=np.float64), meta, threshold=DBR_THRESHOLD, zerovalue=DBR_ZERO
    )
    return values


def from_dbr(dbr: np.ndarray) -> np.ndarray:
    """dBR -> rain rate (mm/h) with pysteps' inverse `dB_transform`: below 0.1 mm/h is 0."""
    with silenced_stdout():
        from pysteps.utils.transformation import dB_transform

    rate, _ = dB_transform(
        np.asarray(dbr, dtype=np.float64),
        {"transform": "dB"},
        threshold=10.0 * np.log10(DBR_THRESHOLD),
        inverse=True,
    )
    return rate


def estimate_motion(frames: np.ndarray) -> np.ndarray:
    """(T >= 2, H, W) frames in motion space -> (2, H, W) pysteps Lucas-Kanade motion, pixels
    per frame interval. No-data (NaN) is masked by pysteps."""
    with silenced_stdout():
        from pysteps import motion

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Singular matrix", category=UserWarning)
        return motion.get_method("LK")(np.asarray(frames[-3:], dtype=np.float64))


def advect(field: np.ndarray, velocity: np.ndarray, times: list[float]) -> np.ndarray:
    """`field` moved along `velocity` to each of `times` (ascending, > 0, in frame intervals;
    fractions allowed) by pysteps' semi-Lagrangian scheme. No-data is advected as the field's
    minimum; pixels advected in from outside the domain are NaN."""
    with silenced_stdout():
        from pysteps import extrapolation

    missing = np.isnan(field)
    floor = np.nanmin(field) if (~missing).any() else 0.0
    start = np.where(missing, floor, field)
    return extrapolation.get_method("semilagrangian")(start, velocity, times, outval=np.nan)
