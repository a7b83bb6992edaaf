"""Threshold scores (CSI, POD, FAR) and FSS from pysteps, with undefined cases made explicit."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nowcast.core import silenced_stdout

with silenced_stdout():
    from pysteps.verification.detcatscores import det_cat_fct
    from pysteps.verification.spatialscores import fss

CATEGORICAL_SCORES = ("CSI", "POD", "FAR")


@dataclass(frozen=True)
class Score:
    """One score value, or `None` with the reason when the score is undefined for the case."""

    name: str
    value: float | None
    threshold: float | None = None
    scale: int | None = None
    note: str = ""


def _events(field: np.ndarray, threshold: float, below: bool) -> tuple[np.ndarray, float]:
    """Field and threshold arranged so that pysteps' `>= threshold` means an event."""
    return (-field, -threshold) if below else (field, threshold)


def _undefined_reason(name: str) -> str:
    """Why a categorical score has no value: its denominator counted no events."""
    if name == "FAR":
        return "undefined: no forecast events"
    if name == "POD":
        return "undefined: no observed events"
    return "undefined: no forecast or observed events"


def categorical_scores(
    forecast: np.ndarray, observed: np.ndarray, threshold: float, below: bool = False
) -> list[Score]:
    """CSI, POD and FAR at `threshold` (events are values >= it, or <= it with `below`)."""
    f, thr = _events(np.asarray(forecast, dtype=np.float64), threshold, below)
    o, _ = _events(np.asarray(observed, dtype=np.float64), threshold, below)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = det_cat_fct(f, o, thr, scores=list(CATEGORICAL_SCORES))
    scores = []
    for name in CATEGORICAL_SCORES:
        value = float(values[name])
        if math.isfinite(value):
            scores.append(Score(name, value, threshold))
        else:
            scores.append(Score(name, None, threshold, note=_undefined_reason(name)))
    return scores


def fractions_skill_score(
    forecast: np.ndarray, observed: np.ndarray, threshold: float, scale: int, below: bool = False
) -> Score:
    """FSS at `threshold` over square neighbourhoods of `scale` pixels."""
    f, thr = _events(np.asarray(forecast, dtype=np.float64), threshold, below)
    o, _ = _events(np.asarray(observed, dtype=np.float64), threshold, below)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(fss(f, o, thr, scale))
    if math.isfinite(value):
        return Score("FSS", value, threshold, scale)
    return Score("FSS", None, threshold, scale, note="undefined: no forecast or observed events")
