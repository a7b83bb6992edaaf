"""Frame validation before anything is archived: shape, missing data, value range, time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nowcast.core import iso

# One pixel in a thousand: radar clutter and isolated bad pixels become missing, the frame is
# kept; a frame with more such pixels is rejected as a whole.
DEFAULT_MAX_OUTLIERS = 0.001


class FrameChecks(BaseModel):
    """What a physical frame must satisfy to be archived (the pipeline's `[checks]`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: tuple[int, int] | None = Field(None, description="expected (ny, nx) as read")
    valid_range: tuple[float, float] | None = Field(None, description="physical min, max")
    max_outliers: float = Field(
        DEFAULT_MAX_OUTLIERS,
        ge=0.0,
        le=1.0,
        description="share of valid pixels that may lie outside valid_range (they become NaN)",
    )
    max_missing: float = Field(0.99, ge=0.0, le=1.0, description="largest NaN fraction")
    time_tolerance_s: float = Field(0.0, ge=0.0, description="file time vs name time")

    @field_validator("valid_range")
    @classmethod
    def _low_below_high(cls, bounds: tuple[float, float] | None) -> tuple[float, float] | None:
        """A range whose minimum is not below its maximum would reject every frame."""
        if bounds is not None and not bounds[0] < bounds[1]:
            raise ValueError(f"the minimum {bounds[0]} must be below the maximum {bounds[1]}")
        return bounds


def _outliers(values: np.ndarray, checks: FrameChecks) -> np.ndarray | None:
    """Mask of finite values outside the valid range (None when no range is set)."""
    if checks.valid_range is None:
        return None
    low, high = checks.valid_range
    with np.errstate(invalid="ignore"):
        return (values < low) | (values > high)


def frame_problem(frame: xr.DataArray, expected: pd.Timestamp, checks: FrameChecks) -> str | None:
    """Why `frame` must be rejected, or None when it is fit to archive."""
    values = frame.values
    if values.ndim != 2:
        return f"wrong shape: {values.shape} is not a 2D frame"
    if checks.shape is not None and tuple(values.shape) != tuple(checks.shape):
        return f"wrong shape: {values.shape[0]}x{values.shape[1]}, expected {checks.shape}"
    count = int(np.count_nonzero(np.isfinite(values)))
    if count == 0:
        return "all values missing (NaN)"
    missing = 1.0 - count / values.size
    if missing > checks.max_missing:
        return f"{missing:.1%} of values missing (more than {checks.max_missing:.1%})"
    if checks.valid_range is not None:
        low, high = checks.valid_range
        whole = count == values.size
        vmin = float(values.min() if whole else np.nanmin(values))
        vmax = float(values.max() if whole else np.nanmax(values))
        outside = _outliers(values, checks) if vmin < low or vmax > high else None
        if outside is not None and outside.sum() > checks.max_outliers * count:
            bad = values[outside]
            return (
                f"values out of range: {int(outside.sum())} pixels in {bad.min():g}..{bad.max():g}"
                f" outside [{low:g}, {high:g}]"
            )
    stamp = frame.coords.variables.get("time")
    if stamp is not None and stamp.ndim == 0:
        stated = pd.Timestamp(stamp.values)
        if abs(stated - expected) > pd.Timedelta(seconds=checks.time_tolerance_s):
            return f"timestamp mismatch: file says {iso(stated)}, its name says {iso(expected)}"
    return None


def mask_outliers(values: np.ndarray, checks: FrameChecks) -> tuple[np.ndarray, int]:
    """Values with the few tolerated out-of-range pixels set to NaN (missing), and how many."""
    if checks.max_outliers == 0:
        return values, 0  # frames with any outlier were rejected already
    outside = _outliers(values, checks)
    if outside is None or not outside.any():
        return values, 0
    return np.where(outside, np.float32(np.nan), values), int(outside.sum())
