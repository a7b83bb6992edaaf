"""Exceedance probabilities of an ensemble: the share of members at or beyond each threshold.

Rain is judged as a rate in mm/h whatever the archive stores (mm per cadence, mm/h or dBZ);
other quantities in their own units, events below the threshold where that is what matters
(cold cloud tops in brightness temperature).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nowcast.store import RAIN_RATE_UNITS, is_rain, to_rain_rate

RAIN_RATE_THRESHOLDS = (1.0, 5.0, 10.0)  # mm/h, as the verification's rain events
COLD_THRESHOLDS = (220.0, 240.0)  # K: cold cloud tops
COLD_NAMES = {"toa_brightness_temperature", "brightness_temperature"}


@dataclass(frozen=True)
class Exceedance:
    """Thresholds (in `units`), whether the event lies below them, and their CF description."""

    thresholds: tuple[float, ...]
    units: str
    below: bool
    standard_name: str

    @property
    def relation(self) -> str:
        """The CF-style `relative_to_threshold` of the probabilities."""
        return "less_than_or_equal_to" if self.below else "greater_than_or_equal_to"


def exceedance_for(units: str, standard_name: str) -> Exceedance:
    """The thresholds a forecaster asks probabilities for, for values in `units`."""
    if is_rain(units):
        return Exceedance(RAIN_RATE_THRESHOLDS, RAIN_RATE_UNITS, False, "lwe_precipitation_rate")
    if standard_name in COLD_NAMES:
        return Exceedance(COLD_THRESHOLDS, units, True, standard_name)
    return Exceedance(RAIN_RATE_THRESHOLDS, units, False, standard_name or "unknown")


def judged_values(members: np.ndarray, units: str, cadence: pd.Timedelta) -> np.ndarray:
    """Stored values -> the values thresholds apply to: mm/h for rain, else as stored."""
    if is_rain(units):
        return to_rain_rate(members, units, cadence)
    return np.asarray(members, dtype=np.float32)


def probabilities(
    members: np.ndarray, exceedance: Exceedance, units: str, cadence: pd.Timedelta
) -> np.ndarray:
    """Members (M, lead, y, x) in stored units -> (threshold, lead, y, x) probabilities in
    [0, 1]; NaN where any member has no data."""
    values = judged_values(members, units, cadence)
    missing = np.isnan(values).any(axis=0)
    out = np.empty((len(exceedance.thresholds), *values.shape[1:]), dtype=np.float32)
    for index, threshold in enumerate(exceedance.thresholds):
        hits = values <= threshold if exceedance.below else values >= threshold
        out[index] = np.where(missing, np.nan, hits.mean(axis=0))
    return out
