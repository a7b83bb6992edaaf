"""The history window a forecast starts from: complete, or filled and saying which times were."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.core import DataMissingError, iso, short_duration, utc

FILL_METHODS = ("persistence", "linear")
MAX_FILL_SHARE = 0.25  # --fill refuses a window with more than this share of invented frames


@dataclass(frozen=True)
class History:
    """`frames` (time, y, x) on the model scale, ending at the init time, and any filled times."""

    frames: xr.DataArray
    filled_times: tuple[pd.Timestamp, ...]

    @property
    def init_time(self) -> pd.Timestamp:
        """The valid time of the newest frame: the forecast's reference time."""
        return pd.Timestamp(self.frames.time.values[-1])


def expected_times(end: pd.Timestamp, frames: int, cadence: pd.Timedelta) -> pd.DatetimeIndex:
    """The `frames` valid times at `cadence` ending at `end`."""
    return pd.date_range(end=end, periods=frames, freq=cadence)


def select_history(
    series: xr.DataArray,
    frames: int,
    cadence: pd.Timedelta,
    at: pd.Timestamp | None = None,
    fill: str | None = None,
) -> History:
    """The `frames` frames ending at `at` (default: the newest), refusing or filling gaps."""
    if series.sizes.get("time", 0) == 0:
        raise DataMissingError("the archive holds no frames for this pipeline yet")
    available = pd.DatetimeIndex(series.time.values)
    end = available[-1] if at is None else utc(at)
    wanted = expected_times(end, frames, cadence)
    missing = wanted.difference(available)
    if len(missing) == len(wanted):
        raise DataMissingError(f"no frames in the archive between {iso(wanted[0])} and {iso(end)}")
    if wanted[0] < available[0]:
        raise DataMissingError(
            f"history needs frames from {iso(wanted[0])} but the archive starts at "
            f"{iso(available[0])}; ingest earlier data or forecast from a later --at"
        )
    share = len(missing) / len(wanted)
    if len(missing):
        _check_cadence(available, cadence)
    if len(missing) and (fill is None or share > MAX_FILL_SHARE):
        listed = ", ".join(iso(t) for t in missing)
        advice = (
            "rerun with --fill persistence|linear to fill them"
            if share <= MAX_FILL_SHARE
            else f"more than {MAX_FILL_SHARE:.0%} missing, too many to fill"
        )
        raise DataMissingError(
            f"history incomplete: {len(missing)} of {frames} frames missing ({listed}); {advice}"
        )
    if fill is not None and fill not in FILL_METHODS:
        raise ValueError(f"unknown fill {fill!r}; valid: {', '.join(FILL_METHODS)}")
    present = series.sel(time=wanted.intersection(available)).load()
    window = present.reindex(time=wanted)
    if len(missing):
        window = _fill(window, fill or "persistence")
    return History(window.astype(np.float32), tuple(missing))


def _check_cadence(available: pd.DatetimeIndex, cadence: pd.Timedelta) -> None:
    """Name the cause when frames are missing because the archive's cadence does not divide
    the step the forecaster needs (a 10-minute model on a 6- or 15-minute radar)."""
    recent = available[-13:]
    if len(recent) < 2:
        return
    spacing = pd.Timedelta(pd.Series(recent).diff().median())
    if spacing > pd.Timedelta(0) and cadence % spacing != pd.Timedelta(0):
        raise DataMissingError(
            f"the archive's frames are {short_duration(spacing)} apart but this forecaster steps"
            f" {short_duration(cadence)}: its history cannot be taken from this cadence; use a"
            f" model trained at a step that is a multiple of {short_duration(spacing)}, or a"
            " baseline (--baseline extrapolation)"
        )


def _fill(window: xr.DataArray, method: str) -> xr.DataArray:
    """Fill missing frames in time: carry the last frame forward, or interpolate linearly."""
    if method == "linear":
        filled = window.interpolate_na("time", method="linear")
    else:
        filled = window.ffill("time")
    return filled.bfill("time")
