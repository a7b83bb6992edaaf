"""Score one forecast case (all its lead times) against what was observed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nowcast.core.metrics import score_frames
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
