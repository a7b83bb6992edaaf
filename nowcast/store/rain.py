"""Rain in one physical space: stored accumulations, rates or reflectivity <-> rain rate (mm/h).

Radar pipelines store what their importer gives: mm per cadence, mm/h or dBZ. A model trained
on several of them works in rain rate on one log scale (`RAIN_RATE_SCALE`, dBR-like), and the
conversions are pysteps' (`to_rainrate`, `to_raindepth`, `to_reflectivity`, Marshall-Palmer
Z = 200 R^1.6 for dBZ), so a value means the same rain whichever radar it came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nowcast.core import ConfigError, silenced_stdout
from nowcast.store.transform import Transform

RAIN_RATE_UNITS = "mm/h"
RAIN_RATE_SCALE = Transform(kind="log10", vmin=0.1, vmax=100.0)  # 0.1-100 mm/h -> [0, 1]
DBZ_THRESHOLD = -10.0  # dBZ below this is no rain, as pysteps' default
MARSHALL_PALMER = (200.0, 1.6)  # Z = a R^b

# Stored unit spellings -> the pysteps unit they mean (values in dBZ carry the "dB" transform).
PYSTEPS_UNITS = {
    "mm/h": "mm/h",
    "mm h-1": "mm/h",
    "mm hr-1": "mm/h",
    "kg m-2 h-1": "mm/h",
    "mm": "mm",
    "kg m-2": "mm",
    "dbz": "dBZ",
}


def is_rain(units: str) -> bool:
    """Whether values in `units` are rain that converts to a rate (mm, mm/h or dBZ)."""
    return units.strip().lower() in PYSTEPS_UNITS


def _metadata(units: str, cadence: pd.Timedelta) -> dict:
    """pysteps metadata for values in `units`, accumulated over `cadence` when in mm."""
    unit = PYSTEPS_UNITS.get(units.strip().lower())
    if unit is None:
        raise ConfigError(f"values in {units!r} are not rain in mm, mm/h or dBZ")
    reflectivity = unit == "dBZ"
    return {
        "unit": unit,
        "transform": "dB" if reflectivity else None,
        "accutime": cadence / pd.Timedelta("1min"),
        "threshold": DBZ_THRESHOLD if reflectivity else 0.0,
        "zerovalue": 0.0,
    }


def to_rain_rate(values: np.ndarray, units: str, cadence: pd.Timedelta) -> np.ndarray:
    """Stored rain values (`units`, accumulated over `cadence` when mm) -> mm/h, NaN kept."""
    with silenced_stdout():
        from pysteps.utils import conversion

    rate, _ = conversion.to_rainrate(
        np.asarray(values, dtype=np.float64), _metadata(units, cadence)
    )
    return rate.astype(np.float32)


def from_rain_rate(rate: np.ndarray, units: str, cadence: pd.Timedelta) -> np.ndarray:
    """Rain rate (mm/h) -> the stored `units` (accumulated over `cadence` when mm), NaN kept."""
    with silenced_stdout():
        from pysteps.utils import conversion

    target = _metadata(units, cadence)
    values = np.asarray(rate, dtype=np.float64)
    source = {**target, "unit": RAIN_RATE_UNITS, "transform": None, "threshold": 0.0}
    if target["unit"] == "mm":
        values, _ = conversion.to_raindepth(values, source)
    elif target["unit"] == "dBZ":
        a, b = MARSHALL_PALMER
        source["threshold"] = (10 ** (DBZ_THRESHOLD / 10) / a) ** (1 / b)
        values, _ = conversion.to_reflectivity(values, source)
    return values.astype(np.float32)
