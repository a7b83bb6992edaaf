"""The backtest's closing table: RMSE and CSI per method and lead, rain in mm/h.

Rain stored as accumulations (mm per the archive's cadence) is shown as a rate: RMSE scales
linearly (mm per 10 min x 6 = mm/h) and each threshold is converted with pysteps; dBZ and
non-rain values keep their own units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nowcast.store import is_rain, to_rain_rate
from nowcast.verify.table import ScoreRow

ACCUMULATED = ("mm", "kg m-2")


@dataclass(frozen=True)
class Headline:
    """Column names and rows (method, lead in minutes, then one value per score column)."""

    columns: list[str]
    rows: list[list[str]]


def rate_factor(units: str, cadence: pd.Timedelta | None) -> tuple[float, str]:
    """How to turn a stored difference into the units people read, and those units."""
    if units.strip().lower() in ACCUMULATED and cadence is not None and cadence > pd.Timedelta(0):
        return pd.Timedelta("1h") / cadence, "mm/h"
    return 1.0, units or "units"


def _threshold_label(threshold: float, units: str, cadence: pd.Timedelta | None) -> str:
    """`1 mm/h` for a rain threshold, else the number with the archive's units."""
    if cadence is not None and is_rain(units) and units.strip().lower() != "dbz":
        rate = float(to_rain_rate(np.array([threshold]), units, cadence)[0])
        return f"{rate:.3g} mm/h"
    return f"{threshold:g} {units}".strip()


def headline(rows: Sequence[ScoreRow], units: str, cadence: pd.Timedelta | None) -> Headline:
    """RMSE (in readable units) and CSI at each threshold, per method and lead."""
    factor, shown = rate_factor(units, cadence)
    thresholds = sorted({r.threshold for r in rows if r.score == "CSI" and r.threshold is not None})
    columns = ["method", "lead", f"RMSE ({shown})"] + [
        f"CSI {_threshold_label(t, units, cadence)}" for t in thresholds
    ]
    values = {(r.method, r.lead_time, r.score, r.threshold): r.value for r in rows}
    keys = sorted({(r.method, r.lead_time) for r in rows}, key=lambda k: (k[0], k[1]))

    def cell(value: float | None, scale: float = 1.0) -> str:
        return "-" if value is None else f"{value * scale:.3f}"

    table = [
        [method, f"{lead} min", cell(values.get((method, lead, "RMSE", None)), factor)]
        + [cell(values.get((method, lead, "CSI", t))) for t in thresholds]
        for method, lead in keys
    ]
    return Headline(columns, table)


def ensemble_headline(rows: Sequence[ScoreRow]) -> Headline:
    """CRPS, and ROC area and reliability gap at each threshold, per ensemble and lead."""
    wanted = ("ROC_AREA", "RELIABILITY_GAP")
    thresholds = sorted({r.threshold for r in rows if r.score in wanted and r.threshold})
    units = next((r.note.split(";")[0] for r in rows if r.score == "CRPS"), "")
    columns = ["method", "lead", f"CRPS ({units})"]
    columns += [f"ROC area {t:g}" for t in thresholds]
    columns += [f"rel. gap {t:g}" for t in thresholds]
    values = {(r.method, r.lead_time, r.score, r.threshold): r.value for r in rows}
    keys = sorted({(r.method, r.lead_time) for r in rows if r.score == "CRPS"})

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    table = [
        [method, f"{lead} min", cell(values.get((method, lead, "CRPS", None)))]
        + [cell(values.get((method, lead, "ROC_AREA", t))) for t in thresholds]
        + [cell(values.get((method, lead, "RELIABILITY_GAP", t))) for t in thresholds]
        for method, lead in keys
    ]
    return Headline(columns, table)
