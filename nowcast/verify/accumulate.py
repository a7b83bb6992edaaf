"""Scores accumulated over cases per method and lead, as pysteps does (exact, not mean ratios).

Contingency tables (`det_cat_fct_init/accum/compute`) and FSS (`fss_init/accum/compute`)
gather every case of a lead before a score is taken, so cases without events still count.
Only pixels valid in both fields count: contingency tables get those pixels alone, FSS
sees no event at the others (pysteps' own NaN handling), and RMSE, MAE and bias, in the
variable's physical units, skip them; the valid fraction is reported beside them. An event
is value > threshold as in pysteps; below a threshold (cold cloud tops), -value > -threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nowcast.core import silenced_stdout
from nowcast.verify.cases import Case, EventDefinition
from nowcast.verify.table import ScoreRow

with silenced_stdout():
    from pysteps.verification.detcatscores import (
        det_cat_fct_accum,
        det_cat_fct_compute,
        det_cat_fct_init,
    )
    from pysteps.verification.spatialscores import fss_accum, fss_compute, fss_init

CATEGORICAL = ("CSI", "POD", "FAR")


@dataclass
class _LeadSums:
    """Running sums of one method at one lead over every case."""

    errors: float = 0.0
    absolute: float = 0.0
    squared: float = 0.0
    valid: int = 0
    pixels: int = 0
    cases: int = 0
    tables: dict[float, dict[str, Any]] = field(default_factory=dict)
    fss: dict[tuple[float, int], dict[str, Any]] = field(default_factory=dict)


@dataclass
class Accumulator:
    """Per (method, lead) accumulators over all cases of one pipeline."""

    pipeline: str
    events: EventDefinition
    period: str
    sums: dict[tuple[str, int], _LeadSums] = field(default_factory=dict)

    def add(self, case: Case | None) -> None:
        """Accumulate every lead of one case (None, an unobserved case, is ignored)."""
        if case is None:
            return
        sign = -1.0 if self.events.below else 1.0
        for index, lead in enumerate(case.lead_minutes):
            forecast = case.forecast_physical[index].astype(np.float64)
            observed = case.observed_physical[index].astype(np.float64)
            sums = self.sums.setdefault((case.method, int(lead)), _LeadSums())
            error = forecast - observed
            valid = np.isfinite(error)
            sums.errors += float(error[valid].sum())
            sums.absolute += float(np.abs(error[valid]).sum())
            sums.squared += float((error[valid] ** 2).sum())
            sums.valid += int(valid.sum())
            sums.pixels += int(error.size)
            sums.cases += 1
            masked_forecast = np.where(valid, sign * forecast, np.nan)
            masked_observed = np.where(valid, sign * observed, np.nan)
            for threshold in self.events.thresholds:
                table = sums.tables.setdefault(threshold, det_cat_fct_init(sign * threshold))
                det_cat_fct_accum(table, sign * forecast[valid], sign * observed[valid])
                for scale in self.events.scales:
                    key = (threshold, scale)
                    state = sums.fss.setdefault(key, fss_init(sign * threshold, scale))
                    fss_accum(state, masked_forecast, masked_observed)

    def rows(self, units: str) -> list[ScoreRow]:
        """One row per method, lead and score over the whole period (init time = `period`),
        plus `RMSE_SKILL`: 1 - RMSE / RMSE of persistence at the same lead."""
        rows = [
            row for key, sums in sorted(self.sums.items()) for row in self._lead(*key, sums, units)
        ]
        rmse = {(r.method, r.lead_time): r.value for r in rows if r.score == "RMSE"}
        for (method, lead), value in rmse.items():
            reference = rmse.get(("persistence", lead))
            if method == "persistence" or value is None or not reference:
                continue
            skill = 1.0 - value / reference
            note = "1 - RMSE / RMSE of persistence"
            rows.append(
                ScoreRow(self.pipeline, self.period, lead, method, "RMSE_SKILL", skill, note=note)
            )
        return rows

    def _lead(self, method: str, lead: int, sums: _LeadSums, units: str) -> list[ScoreRow]:
        """The rows of one method at one lead."""
        rows: list[ScoreRow] = []

        def add(name: str, value: float | None, note: str = "", **extra: Any) -> None:
            finite = value if value is not None and math.isfinite(value) else None
            row = ScoreRow(
                self.pipeline, self.period, lead, method, name, finite, note=note, **extra
            )
            rows.append(row)

        count = max(sums.valid, 1)
        fraction = sums.valid / max(sums.pixels, 1)
        note = f"{units}; {sums.cases} cases; valid {fraction:.1%}"
        add("RMSE", math.sqrt(sums.squared / count) if sums.valid else None, note)
        add("MAE", sums.absolute / count if sums.valid else None, note)
        add("BIAS", sums.errors / count if sums.valid else None, note)
        add("VALID_FRACTION", fraction, f"{sums.cases} cases")
        for threshold, table in sums.tables.items():
            scores = det_cat_fct_compute(table, CATEGORICAL)
            for name in CATEGORICAL:
                add(name, float(scores[name]), f"{threshold:g} {units}", threshold=threshold)
        for (threshold, scale), state in sums.fss.items():
            value = float(fss_compute(state))
            add("FSS", value, f"{threshold:g} {units}", threshold=threshold, scale=scale)
        return rows
