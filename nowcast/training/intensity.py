"""Rain rate (mm/h) of model-scale frames, for intensity-weighted (balanced) losses.

Archives hold accumulations (mm per cadence), rain rates (mm/h) or reflectivity (dBZ); all are
brought to mm/h: accumulations divided by their period, dBZ through Marshall-Palmer
(Z = 200 R^1.6, as pysteps' `to_rainrate`).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from torch import Tensor

from nowcast.core import ConfigError
from nowcast.store import MARSHALL_PALMER, PYSTEPS_UNITS, Transform
from nowcast.training.loss import balanced_weights


def physical(transform: Transform, model: Tensor) -> Tensor:
    """Model-scale values -> physical values, the torch twin of `Transform.to_physical`."""
    if transform.kind == "identity":
        return model
    values = model.clamp(0.0, 1.0)
    if transform.kind == "linear":
        span = transform.vmax - transform.vmin
        if transform.invert:
            return transform.vmax - values * span
        return transform.vmin + values * span
    out = transform.vmin * torch.pow(torch.tensor(transform.vmax / transform.vmin), values)
    return torch.where(values <= 0, torch.full_like(out, transform.zero), out)


def to_rain_rate(units: str, cadence: pd.Timedelta) -> Callable[[Tensor], Tensor]:
    """Physical values in `units` (accumulated over `cadence` when mm) -> mm/h; the units are
    read as `nowcast.store.rain` reads them."""
    unit = PYSTEPS_UNITS.get(units.strip().lower())
    if unit == "mm/h":
        return lambda values: values
    if unit == "mm":
        per_hour = pd.Timedelta("1h") / cadence
        return lambda values: values * per_hour
    if unit == "dBZ":
        a, b = MARSHALL_PALMER
        return lambda values: torch.pow(torch.pow(10.0, values / 10.0) / a, 1.0 / b)
    raise ConfigError(f"balanced losses need rain in mm, mm/h or dBZ, not {units!r}")


def model_rain_rate(
    transform: Transform, units: str, cadence: pd.Timedelta
) -> Callable[[Tensor], Tensor]:
    """Model-scale frames -> rain rate in mm/h."""
    rate = to_rain_rate(units, cadence)
    return lambda frames: rate(physical(transform, frames))


def rain_weighting(
    transform: Transform, units: str, cadence: pd.Timedelta
) -> Callable[[Tensor], Tensor]:
    """Model-scale frames -> HKO-7 balanced weights of their rain rate."""
    rate = model_rain_rate(transform, units, cadence)
    return lambda frames: balanced_weights(rate(frames))
