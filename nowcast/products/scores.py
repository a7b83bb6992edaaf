"""The verification scores a daily sheet shows: the day's mean score per method and lead time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = {"pipeline", "init_time", "lead_time", "method", "score", "value"}
TABLE_NAMES = ("scores.parquet", "scores.csv")


@dataclass(frozen=True)
class DayScores:
    """Mean scores (columns key, method, lead_h, value) or None, and where they came from."""

    table: pd.DataFrame | None
    note: str


def read_score_table(folder: Path) -> tuple[pd.DataFrame | None, str]:
    """The first readable `scores.parquet`/`scores.csv` in `folder`, or None and why not."""
    for name in TABLE_NAMES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (ImportError, OSError, ValueError) as exc:
            log.warning("could not read %s: %s", path, exc)
            continue
        missing = REQUIRED_COLUMNS - set(table.columns)
        if missing:
            log.warning("%s lacks columns %s", path, ", ".join(sorted(missing)))
            continue
        return table, f"scores from {path}"
    return None, f"no verification scores table in {folder} (run `nowcast verify`)"


def _lead_hours(column: pd.Series) -> pd.Series:
    """Lead times in hours from integer minutes or timedelta text."""
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all():
        return numeric / 60.0
    return pd.to_timedelta(column).dt.total_seconds() / 3600.0


def _score_key(row: pd.Series) -> str:
    """`CSI (thr 1)`, `FSS (thr 1, 4 px)` or just the score's name."""
    details = []
    threshold = row.get("threshold")
    if threshold is not None and pd.notna(threshold):
        details.append(f"thr {float(threshold):g}")
    scale = row.get("scale")
    if scale is not None and pd.notna(scale) and float(scale) > 0:
        details.append(f"{int(scale)} px")
    return f"{row['score']} ({', '.join(details)})" if details else str(row["score"])


def day_scores(folder: Path, pipeline: str, day: date) -> DayScores:
    """Mean of each score over the day's inits of one pipeline, per method and lead time."""
    table, note = read_score_table(folder)
    if table is None:
        return DayScores(None, note)
    init = pd.to_datetime(table["init_time"], utc=True, errors="coerce")
    rows = table[(table["pipeline"] == pipeline) & (init.dt.date == day)].copy()
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows.dropna(subset=["value"])
    if rows.empty:
        return DayScores(None, f"no scores for {pipeline} on {day.isoformat()} ({note})")
    rows["lead_h"] = _lead_hours(rows["lead_time"])
    rows["key"] = rows.apply(_score_key, axis=1)
    means = rows.groupby(["key", "method", "lead_h"], as_index=False)["value"].mean()
    inits = rows["init_time"].nunique()
    return DayScores(means, f"mean over {inits} init(s); {note}")
