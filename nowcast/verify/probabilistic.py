"""Ensemble and probability scores accumulated over cases per method and lead, with pysteps.

CRPS (`probscores.CRPS_init/accum/compute`), the reliability diagram (`reldiag_*`), the ROC
curve and its area (`ROC_curve_*`) at each threshold, and the rank histogram
(`ensscores.rankhist_*`) sum over every valid pixel of every case before a score is taken.
Rain is scored as a rate in mm/h (CRPS in mm/h, thresholds such as 1 mm/h), whatever the
archive stores; an event is a value at or above the threshold, as pysteps defines it.
A reliability bin counts as populated with at least `MIN_BIN_COUNT` pixels over the period;
`RELIABILITY_GAP` is the largest |observed frequency - forecast probability| over those bins.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nowcast.core import atomic_path, silenced_stdout
from nowcast.forecasting import Exceedance, exceedance_for, judged_values
from nowcast.store import is_rain
from nowcast.verify.table import ScoreRow

with silenced_stdout():
    from pysteps.verification import ensscores, probscores

RELIABILITY_BINS = 10
ROC_THRESHOLDS = 10
MIN_BIN_COUNT = 10
RANK_FLOOR_MM_H = 0.1  # below is no rain: ties, as pysteps' rank histogram treats them
PROBABILISTIC_FILE = "probabilistic.json"
SCORES = ("CRPS", "ROC_AREA", "RELIABILITY_GAP")


@dataclass
class _LeadState:
    """pysteps' accumulators of one method at one lead."""

    crps: dict[str, Any]
    rank: dict[str, Any]
    reliability: dict[float, dict[str, Any]]
    roc: dict[float, dict[str, Any]]
    cases: int = 0


@dataclass
class ProbabilisticAccumulator:
    """Per (method, lead) ensemble accumulators over all cases of one pipeline."""

    pipeline: str
    units: str
    cadence: pd.Timedelta
    standard_name: str = ""
    states: dict[tuple[str, int], _LeadState] = field(default_factory=dict)

    @property
    def exceedance(self) -> Exceedance:
        """The thresholds probabilities are scored at (mm/h for rain)."""
        return exceedance_for(self.units, self.standard_name)

    def _new(self, members: int) -> _LeadState:
        floor = RANK_FLOOR_MM_H if is_rain(self.units) else None
        sign = -1.0 if self.exceedance.below else 1.0
        return _LeadState(
            crps=probscores.CRPS_init(),
            rank=ensscores.rankhist_init(members, floor),
            reliability={
                t: probscores.reldiag_init(sign * t, RELIABILITY_BINS, 1)
                for t in self.exceedance.thresholds
            },
            roc={
                t: probscores.ROC_curve_init(sign * t, ROC_THRESHOLDS)
                for t in self.exceedance.thresholds
            },
        )

    def add(
        self, method: str, lead_minutes: list[int], members: np.ndarray, observed: np.ndarray
    ) -> None:
        """Accumulate one ensemble case: members (M, lead, y, x) and observations (lead, y, x),
        both in stored units; pixels without data in either count in no score."""
        forecast = judged_values(members, self.units, self.cadence).astype(np.float64)
        truth = judged_values(observed, self.units, self.cadence).astype(np.float64)
        sign = -1.0 if self.exceedance.below else 1.0
        for index, lead in enumerate(lead_minutes):
            state = self.states.setdefault((method, int(lead)), self._new(members.shape[0]))
            ensemble, seen = forecast[:, index], truth[index]
            valid = np.isfinite(seen) & np.isfinite(ensemble).all(axis=0)
            if not valid.any():
                continue
            ensemble = np.where(valid, ensemble, np.nan)
            seen = np.where(valid, seen, np.nan)
            probscores.CRPS_accum(state.crps, ensemble, seen)
            ensscores.rankhist_accum(state.rank, ensemble, seen)
            for threshold in self.exceedance.thresholds:
                hits = sign * ensemble >= sign * threshold
                chance = np.where(valid, hits.mean(axis=0), np.nan)
                probscores.reldiag_accum(state.reliability[threshold], chance, sign * seen)
                probscores.ROC_curve_accum(state.roc[threshold], chance, sign * seen)
            state.cases += 1

    def curves(self) -> dict[str, Any]:
        """Every accumulated curve (reliability, ROC, rank histogram) per method and lead, plus
        all leads pooled (`lead` 0), ready for JSON and the plots."""
        out: dict[str, Any] = {
            "pipeline": self.pipeline,
            "units": "mm/h" if is_rain(self.units) else self.units,
            "thresholds": list(self.exceedance.thresholds),
            "below": self.exceedance.below,
            "methods": {},
        }
        for method in sorted({m for m, _ in self.states}):
            leads = sorted(lead for m, lead in self.states if m == method)
            states = [self.states[(method, lead)] for lead in leads]
            entry = {str(lead): _summary(state) for lead, state in zip(leads, states, strict=True)}
            entry["0"] = _summary(_pooled(states))
            out["methods"][method] = entry
        return out

    def rows(self, period: str) -> list[ScoreRow]:
        """CRPS, ROC area and reliability gap per method and lead over the period."""
        units = "mm/h" if is_rain(self.units) else self.units
        rows: list[ScoreRow] = []
        for (method, lead), state in sorted(self.states.items()):
            summary = _summary(state)
            found = [("CRPS", summary["crps"], f"{units}; {state.cases} cases", None)]
            for threshold, curve in summary["thresholds"].items():
                label = f"{float(threshold):g} {units}"
                found.append(("ROC_AREA", curve["roc_area"], label, float(threshold)))
                found.append(("RELIABILITY_GAP", curve["reliability_gap"], label, float(threshold)))
            for score, value, note, threshold in found:
                finite = value if value is not None and math.isfinite(value) else None
                rows.append(
                    ScoreRow(
                        self.pipeline, period, lead, method, score, finite, threshold, note=note
                    )
                )
        return rows


def _pooled(states: list[_LeadState]) -> _LeadState:
    """One state summing several (every lead of a method)."""
    first = states[0]
    pooled = _LeadState(
        crps=dict(first.crps),
        rank=dict(first.rank),
        reliability={t: dict(s) for t, s in first.reliability.items()},
        roc={t: dict(s) for t, s in first.roc.items()},
        cases=sum(s.cases for s in states),
    )
    for state in states[1:]:
        _add_into(pooled.crps, state.crps, ("CRPS_sum", "n"))
        _add_into(pooled.rank, state.rank, ("n",))
        for t in pooled.reliability:
            keys = ("X_sum", "Y_sum", "num_idx", "sample_size")
            _add_into(pooled.reliability[t], state.reliability[t], keys)
            _add_into(pooled.roc[t], state.roc[t], ("hits", "misses", "false_alarms", "corr_neg"))
    return pooled


def _add_into(target: dict[str, Any], extra: dict[str, Any], keys: tuple[str, ...]) -> None:
    """target[key] += extra[key] for summable counts (copied, never aliased)."""
    for key in keys:
        target[key] = np.asarray(target[key]) + np.asarray(extra[key])


def _summary(state: _LeadState) -> dict[str, Any]:
    """The scores and curves of one state as plain numbers."""
    crps = float(probscores.CRPS_compute(state.crps)) if state.crps["n"] else None
    thresholds: dict[str, Any] = {}
    for threshold, reliability in state.reliability.items():
        counts = np.asarray(reliability["num_idx"], dtype=np.float64)
        populated = counts >= MIN_BIN_COUNT
        with np.errstate(invalid="ignore", divide="ignore"):
            forecast = np.asarray(reliability["X_sum"]) / counts
            observed = np.asarray(reliability["Y_sum"]) / counts
        gaps = np.abs(observed - forecast)[populated]
        roc = state.roc[threshold]
        pofd, pod, area = _roc(roc)
        thresholds[f"{threshold:g}"] = {
            "forecast": [_number(v) for v in forecast],
            "observed": [_number(v) for v in observed],
            "counts": [int(c) for c in counts],
            "reliability_gap": float(gaps.max()) if gaps.size else None,
            "pofd": pofd,
            "pod": pod,
            "roc_area": area,
        }
    return {
        "cases": state.cases,
        "crps": crps,
        "rank": [int(n) for n in np.asarray(state.rank["n"])],
        "thresholds": thresholds,
    }


def _roc(roc: dict[str, Any]) -> tuple[list[float | None], list[float | None], float | None]:
    """POFD, POD and area of a ROC state; None where no event or no non-event was seen."""
    hits, misses = np.asarray(roc["hits"]), np.asarray(roc["misses"])
    alarms, negatives = np.asarray(roc["false_alarms"]), np.asarray(roc["corr_neg"])
    if not (hits + misses).any() or not (alarms + negatives).any():
        return [], [], None
    pofd, pod, area = probscores.ROC_curve_compute(roc, compute_area=True)
    return [_number(v) for v in pofd], [_number(v) for v in pod], _number(area)


def _number(value: float) -> float | None:
    """A finite float, or None."""
    value = float(value)
    return value if math.isfinite(value) else None


def write_curves(folder: Path, curves: list[dict[str, Any]], period: str) -> Path:
    """Write the curves of each pipeline to `<folder>/probabilistic.json` (replacing that
    pipeline's entry), atomically."""
    path = folder / PROBABILISTIC_FILE
    stored = read_curves(path)
    for entry in curves:
        stored[entry["pipeline"]] = {**entry, "period": period}
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(stored, indent=1))
    return path


def read_curves(path: Path) -> dict[str, Any]:
    """The stored curves by pipeline (empty when none or unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
