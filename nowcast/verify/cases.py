"""Verification cases: a forecast (stored, hindcast or baseline) beside the archive's truth,
and the scores of one case (all its lead times)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.core import iso, score_frames
from nowcast.forecasting import baseline_forecaster
from nowcast.models import described_values
from nowcast.store import Transform, from_attrs
from nowcast.verify.categorical import categorical_scores, fractions_skill_score
from nowcast.verify.table import ScoreRow

# Event thresholds by physical quantity: cold cloud tops are events below, rain above.
DEFAULT_THRESHOLDS: dict[str, tuple[tuple[float, ...], bool]] = {
    "toa_brightness_temperature": ((220.0, 240.0), True),
    "brightness_temperature": ((220.0, 240.0), True),
    "rainfall_rate": ((1.0, 5.0, 10.0), False),
    "lwe_precipitation_rate": ((1.0, 5.0, 10.0), False),
    "equivalent_reflectivity_factor": ((20.0, 35.0, 45.0), False),
    "precipitation_amount": ((0.1, 0.5, 1.0), False),
}
DEFAULT_SCALES = (1, 4, 16)
# Frames a baseline needs at least (of the 3 it reads): motion needs two, an AR(2) three.
MIN_FRAMES = {"persistence": 1, "extrapolation": 2}


@dataclass(frozen=True)
class EventDefinition:
    """Thresholds in physical units, whether events lie below them, and FSS scales in pixels."""

    thresholds: tuple[float, ...]
    below: bool
    scales: tuple[int, ...] = DEFAULT_SCALES


def default_events(standard_name: str) -> EventDefinition:
    """Thresholds a forecaster would use for this quantity (rain-like when unknown)."""
    thresholds, below = DEFAULT_THRESHOLDS.get(standard_name, ((1.0, 5.0, 10.0), False))
    return EventDefinition(thresholds, below)


@dataclass(frozen=True)
class Case:
    """One forecast and its verifying observations, on the model scale and in physical units."""

    pipeline: str
    init_time: str
    method: str
    lead_minutes: Sequence[int]
    forecast_scaled: np.ndarray
    observed_scaled: np.ndarray
    forecast_physical: np.ndarray
    observed_physical: np.ndarray


def score_case(case: Case, events: EventDefinition) -> list[ScoreRow]:
    """Every score for every lead time of `case`, as table rows."""
    image_scores = score_frames(case.forecast_scaled, case.observed_scaled)
    rows: list[ScoreRow] = []

    def add(lead: int, name: str, value: float | None, **extra: object) -> None:
        rows.append(
            ScoreRow(case.pipeline, case.init_time, lead, case.method, name, value, **extra)
        )

    for index, lead in enumerate(case.lead_minutes):
        for name, values in image_scores.items():
            add(lead, name.upper(), float(values[index]))
        error = case.forecast_physical[index].astype(np.float64) - case.observed_physical[index]
        add(lead, "RMSE", float(np.sqrt(np.nanmean(error**2))))
        add(lead, "BIAS", float(np.nanmean(error)))
        for threshold in events.thresholds:
            for score in categorical_scores(
                case.forecast_physical[index],
                case.observed_physical[index],
                threshold,
                events.below,
            ):
                add(lead, score.name, score.value, threshold=threshold, note=score.note)
            for scale in events.scales:
                score = fractions_skill_score(
                    case.forecast_physical[index],
                    case.observed_physical[index],
                    threshold,
                    scale,
                    events.below,
                )
                add(lead, "FSS", score.value, threshold=threshold, scale=scale, note=score.note)
    return rows


def observed_frames(
    series: xr.DataArray, valid_times: pd.DatetimeIndex
) -> tuple[np.ndarray, list[int]]:
    """Archive frames (physical units) at the valid times that are present, and their indices."""
    available = pd.DatetimeIndex(series.time.values)
    present = [i for i, t in enumerate(valid_times) if t in available]
    if not present:
        return np.empty((0, *series.shape[1:]), dtype=np.float32), []
    frames = series.sel(time=valid_times[present]).values.astype(np.float32)
    return frames, present


def _scaled(values: np.ndarray, transform: Transform, missing: np.ndarray) -> np.ndarray:
    """Model-scale values with no-data pixels set to 0 in both fields (they add no error)."""
    return np.where(missing, np.float32(0), np.nan_to_num(transform.to_model(values)))


def make_case(
    pipeline: str,
    init: pd.Timestamp,
    method: str,
    lead_times: pd.TimedeltaIndex,
    forecast_physical: np.ndarray,
    series: xr.DataArray,
    transform: Transform,
) -> Case | None:
    """A case over the lead times already observed; None when none is yet."""
    observed, present = observed_frames(series, init + lead_times)
    if not present:
        return None
    forecast = np.asarray(forecast_physical, dtype=np.float32)[present]
    missing = np.isnan(observed)
    return Case(
        pipeline=pipeline,
        init_time=iso(init),
        method=method,
        lead_minutes=[int(lead_times[i] / pd.Timedelta("1min")) for i in present],
        forecast_scaled=_scaled(forecast, transform, missing),
        observed_scaled=_scaled(observed, transform, missing),
        forecast_physical=np.where(missing, np.float32(np.nan), forecast),
        observed_physical=observed,
    )


def stored_case(dataset: xr.Dataset, series: xr.DataArray) -> Case | None:
    """The case for a forecast file against the archive's frames, both in physical units."""
    lead_times = pd.TimedeltaIndex(dataset.lead_time.values)
    init = pd.Timestamp(dataset.forecast_reference_time.values)
    return make_case(
        str(dataset.attrs["pipeline"]),
        init,
        str(dataset.attrs.get("method", "model")),
        lead_times,
        dataset["forecast"].values,
        series,
        from_attrs(dataset.attrs),
    )


def baseline_case(
    method: str,
    pipeline: str,
    init: pd.Timestamp,
    lead_times: pd.TimedeltaIndex,
    series: xr.DataArray,
    native: pd.Timedelta | None = None,
) -> Case | None:
    """The case of a baseline run from the archive frames up to `init` (None if unobserved).

    Motion is estimated from the last 3 frames at the archive's `native` cadence (default: the
    lead step), then extrapolated to each lead.
    """
    native = native or lead_times[0]
    forecaster = baseline_forecaster(method)
    wanted = forecaster.native_frames(1, native)
    usable = pd.date_range(end=init, periods=wanted, freq=native)
    available = pd.DatetimeIndex(series.time.values)
    while len(usable) and not usable.isin(available).all():
        usable = usable[1:]  # the frames up to init without a gap
    if len(usable) < MIN_FRAMES.get(method, wanted):
        return None
    history = series.sel(time=usable).values.astype(np.float32)
    stored = described_values(series.attrs, native)
    forecast = forecaster.forecast(history, usable, 1, lead_times, stored, native)
    return make_case(pipeline, init, method, lead_times, forecast, series, stored.transform)
