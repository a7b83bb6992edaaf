"""Stored verification scores read without writing: per pipeline, score, method and lead."""

from __future__ import annotations

import io
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from nowcast.verify import (
    PROBABILISTIC_FILE,
    TABLE_FILE,
    ScoreTable,
    plot_skill,
    read_curves,
    save_plot,
    score_frame,
    skill_by_lead,
)

PLOT_LOCK = threading.Lock()


class ReadOnlyScoreTable(ScoreTable):
    """The score table opened read-only: no folder or schema is created, nothing is written."""

    def __init__(self, path: Path) -> None:  # noqa: D107 - no schema creation, on purpose
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


class Scores:
    """Per-lead mean scores from `<verification>/scores.sqlite`, cached by the file's mtime."""

    def __init__(self, verification_dir: Path) -> None:
        self.path = verification_dir / TABLE_FILE
        self.curves_path = verification_dir / PROBABILISTIC_FILE
        self._lock = threading.Lock()
        self._cached: tuple[int, pd.DataFrame] | None = None

    def skill(self) -> pd.DataFrame:
        """Mean and case count per pipeline, score key, method and lead (empty when none)."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return pd.DataFrame()
        with self._lock:
            if self._cached is None or self._cached[0] != mtime:
                frame = score_frame(ReadOnlyScoreTable(self.path))
                self._cached = (mtime, frame if frame.empty else skill_by_lead(frame))
            return self._cached[1]

    def keys(self, pipeline: str) -> list[str]:
        """The score keys stored for a pipeline (e.g. `MAE`, `CSI @ 1`), sorted."""
        skill = self.skill()
        if skill.empty:
            return []
        return sorted(skill[skill["pipeline"] == pipeline]["key"].unique())

    def table(self, pipeline: str) -> dict[str, dict[str, list[dict[str, float | int]]]]:
        """`{key: {method: [{lead_minutes, mean, cases}, ...]}}` for one pipeline."""
        skill = self.skill()
        out: dict[str, dict[str, list[dict[str, float | int]]]] = {}
        if skill.empty:
            return out
        rows = skill[skill["pipeline"] == pipeline].sort_values(["key", "method", "lead_time"])
        for (key, method), group in rows.groupby(["key", "method"], sort=True):
            out.setdefault(str(key), {})[str(method)] = [
                {
                    "lead_minutes": int(r["lead_time"]),
                    "mean": float(r["mean"]),
                    "cases": int(r["count"]),
                }
                for r in group.to_dict("records")
            ]
        return out

    def plot(self, pipeline: str, key: str) -> bytes:
        """The skill-vs-lead chart of one score as PNG (each method a line)."""
        buffer = io.BytesIO()
        with PLOT_LOCK:
            plot_skill(self.skill(), pipeline, key, buffer)  # type: ignore[arg-type]
        return buffer.getvalue()

    def curves(self, pipeline: str) -> dict[str, Any] | None:
        """The ensemble curves verify last accumulated for a pipeline (None when none)."""
        found = read_curves(self.curves_path).get(pipeline)
        return found if isinstance(found, dict) and found.get("methods") else None

    def ensemble_plot(self, curves: dict[str, Any], kind: str, threshold: str | None) -> bytes:
        """A reliability diagram, ROC curve or rank histogram as PNG; KeyError if unknown."""
        buffer = io.BytesIO()
        with PLOT_LOCK:
            save_plot(curves, kind, threshold, buffer)
        return buffer.getvalue()
