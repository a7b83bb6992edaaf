"""Verification cases: a forecast (stored, hindcast or baseline) beside the archive's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.core.timeutil import iso
from nowcast.data.transform import Transform, from_attrs
from nowcast.forecasting.baselines import get_baseline
from nowcast.verify.case import Case


def observed_frames(
    series: xr.DataArray, valid_times: pd.DatetimeIndex
) -> tuple[np.ndarray, list[int]]:
    """Archive frames (model scale) at the valid times that are present, and their indices."""
    available = pd.DatetimeIndex(series.time.values)
    present = [i for i, t in enumerate(valid_times) if t in available]
    if not present:
        return np.empty((0, *series.shape[1:]), dtype=np.float32), []
    frames = series.sel(time=valid_times[present]).values.astype(np.float32)
    return frames, present


def make_case(
    pipeline: str,
    init: pd.Timestamp,
    method: str,
    lead_times: pd.TimedeltaIndex,
    forecast_scaled: np.ndarray,
    series: xr.DataArray,
    transform: Transform,
) -> Case | None:
    """A case over the lead times already observed; None when none is yet."""
    observed, present = observed_frames(series, init + lead_times)
    if not present:
        return None
    forecast = forecast_scaled[present]
    return Case(
        pipeline=pipeline,
        init_time=iso(init),
        method=method,
        lead_minutes=[int(lead_times[i] / pd.Timedelta("1min")) for i in present],
        forecast_scaled=forecast,
        observed_scaled=observed,
        forecast_physical=transform.to_physical(forecast),
        observed_physical=transform.to_physical(observed),
    )


def stored_case(dataset: xr.Dataset, series: xr.DataArray) -> Case | None:
    """The case for a forecast file: its fields mapped to the model scale with its transform."""
    transform = from_attrs(dataset.attrs)
    lead_times = pd.TimedeltaIndex(dataset.lead_time.values)
    init = pd.Timestamp(dataset.forecast_reference_time.values)
    scaled = transform.to_model(dataset["forecast"].values)
    return make_case(
        str(dataset.attrs["pipeline"]),
        init,
        str(dataset.attrs.get("method", "model")),
        lead_times,
        scaled,
        series,
        transform,
    )


def baseline_case(
    method: str,
    pipeline: str,
    init: pd.Timestamp,
    lead_times: pd.TimedeltaIndex,
    series: xr.DataArray,
) -> Case | None:
    """The case of a baseline run from the archive frames up to `init` (None if unobserved)."""
    cadence = lead_times[0]
    history_times = pd.date_range(end=init, periods=3, freq=cadence)
    available = pd.DatetimeIndex(series.time.values)
    usable = history_times[history_times.isin(available)]
    if init not in available or len(usable) < (1 if method == "persistence" else 2):
        return None
    history = series.sel(time=usable).values.astype(np.float32)
    forecast = get_baseline(method)(history, len(lead_times))
    return make_case(pipeline, init, method, lead_times, forecast, series, from_attrs(series.attrs))
