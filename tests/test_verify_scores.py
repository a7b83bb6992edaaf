"""Verification scores on hand-made fields whose answers are known, and the score table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nowcast.verify.cases import Case, EventDefinition, score_case
from nowcast.verify.categorical import categorical_scores, fractions_skill_score
from nowcast.verify.table import ScoreRow, ScoreTable


def rain_cell(column: int) -> np.ndarray:
    """A 32x32 dry field with one 4x4 cell of 8 mm/h whose left edge is at `column`."""
    field = np.zeros((32, 32))
    field[10:14, column : column + 4] = 8.0
    return field


def test_perfect_forecast_scores() -> None:
    field = rain_cell(10)
    scores = {s.name: s.value for s in categorical_scores(field, field, 1.0)}
    assert scores == {"CSI": 1.0, "POD": 1.0, "FAR": 0.0}
    assert fractions_skill_score(field, field, 1.0, 3).value == pytest.approx(1.0)


def test_shifted_field_scores() -> None:
    # 16 observed and 16 forecast pixels; shifting by 2 columns leaves 8 hits, 8 misses, 8 false.
    scores = {s.name: s.value for s in categorical_scores(rain_cell(12), rain_cell(10), 1.0)}
    assert scores["CSI"] == pytest.approx(8 / 24)
    assert scores["POD"] == pytest.approx(0.5)
    assert scores["FAR"] == pytest.approx(0.5)
    small = fractions_skill_score(rain_cell(12), rain_cell(10), 1.0, 1).value
    large = fractions_skill_score(rain_cell(12), rain_cell(10), 1.0, 9).value
    assert small == pytest.approx(0.5)
    assert large > small


def test_all_dry_case_is_undefined_not_zero() -> None:
    dry = np.zeros((32, 32))
    for score in categorical_scores(dry, dry, 1.0):
        assert score.value is None
        assert score.note.startswith("undefined")
    fss = fractions_skill_score(dry, dry, 1.0, 3)
    assert fss.value is None and "no forecast or observed events" in fss.note


def test_events_below_threshold_for_cold_cloud() -> None:
    warm = np.full((16, 16), 290.0)
    cold = warm.copy()
    cold[4:8, 4:8] = 210.0
    scores = {s.name: s.value for s in categorical_scores(cold, cold, 220.0, below=True)}
    assert scores["CSI"] == 1.0
    missed = {s.name: s.value for s in categorical_scores(warm, cold, 220.0, below=True)}
    assert missed["POD"] == 0.0


def make_case(init: str) -> Case:
    observed = np.stack([rain_cell(10), rain_cell(12)])
    forecast = np.stack([rain_cell(10), rain_cell(10)])
    return Case(
        pipeline="radar",
        init_time=init,
        method="persistence",
        lead_minutes=[10, 20],
        forecast_scaled=forecast / 10,
        observed_scaled=observed / 10,
        forecast_physical=forecast,
        observed_physical=observed,
    )


def test_score_case_rows_per_lead_time() -> None:
    rows = score_case(make_case("2020-10-31T06:00:00Z"), EventDefinition((1.0,), False, (1,)))
    by_key = {(r.lead_time, r.score, r.scale): r.value for r in rows}
    assert by_key[(10, "MSE", None)] == 0.0
    assert by_key[(10, "CSI", None)] == 1.0
    assert by_key[(20, "CSI", None)] == pytest.approx(8 / 24)
    assert by_key[(20, "RMSE", None)] == pytest.approx(np.sqrt(16 * 64 / 1024))
    assert by_key[(20, "BIAS", None)] == 0.0


def test_table_keeps_one_row_per_key_across_runs(tmp_path: Path) -> None:
    table = ScoreTable(tmp_path / "scores.sqlite")
    rows = score_case(make_case("2020-10-31T06:00:00Z"), EventDefinition((1.0,), False, (1,)))
    table.upsert(rows)
    table.upsert(rows)
    again = ScoreTable(tmp_path / "scores.sqlite")
    assert len(again.rows()) == len(rows)
    table.upsert([ScoreRow("radar", "2020-10-31T06:00:00Z", 10, "model", "CSI", None, 1.0)])
    stored = [r for r in again.rows() if r.method == "model"]
    assert stored[0].value is None and stored[0].threshold == 1.0
    exported = again.export_csv(tmp_path / "scores.csv").read_text().splitlines()
    assert exported[0].startswith("pipeline,init_time,lead_time,method,score,value")
    assert len(exported) == len(rows) + 2
