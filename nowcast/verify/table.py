"""The score table: one row per forecast x lead time x score x method, kept across runs."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from nowcast.core import atomic_path

COLUMNS = (
    "pipeline",
    "init_time",
    "lead_time",
    "method",
    "score",
    "threshold",
    "scale",
    "value",
    "note",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    pipeline TEXT NOT NULL,
    init_time TEXT NOT NULL,
    lead_time INTEGER NOT NULL,
    method TEXT NOT NULL,
    score TEXT NOT NULL,
    threshold REAL NOT NULL DEFAULT -1e30,
    scale INTEGER NOT NULL DEFAULT 0,
    value REAL,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (pipeline, init_time, lead_time, method, score, threshold, scale)
)
"""
_NO_THRESHOLD = -1e30


@dataclass(frozen=True)
class ScoreRow:
    """One stored score; lead time in minutes, init time ISO 8601 UTC, value None if undefined."""

    pipeline: str
    init_time: str
    lead_time: int
    method: str
    score: str
    value: float | None
    threshold: float | None = None
    scale: int | None = None
    note: str = ""


class ScoreTable:
    """SQLite table of scores; re-scoring a case replaces its rows instead of duplicating them."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._connect() as connection:
            connection.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def upsert(self, rows: Iterable[ScoreRow]) -> int:
        """Insert or replace rows; returns how many were written."""
        records = [
            (
                r.pipeline,
                r.init_time,
                r.lead_time,
                r.method,
                r.score,
                _NO_THRESHOLD if r.threshold is None else r.threshold,
                r.scale or 0,
                r.value,
                r.note,
            )
            for r in rows
        ]
        with self._connect() as connection:
            connection.executemany(
                f"INSERT OR REPLACE INTO scores ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})",
                records,
            )
        return len(records)

    def scored_leads(self, pipeline: str, init_time: str, method: str) -> set[int]:
        """Lead times (minutes) already scored for one forecast and method."""
        query = (
            "SELECT DISTINCT lead_time FROM scores "
            "WHERE pipeline = ? AND init_time = ? AND method = ?"
        )
        with self._connect() as connection:
            found = connection.execute(query, (pipeline, init_time, method)).fetchall()
        return {lead for (lead,) in found}

    def rows(self, pipeline: str | None = None) -> list[ScoreRow]:
        """Every stored row, optionally for one pipeline, in a stable order."""
        query = f"SELECT {', '.join(COLUMNS)} FROM scores"
        params: tuple[str, ...] = ()
        if pipeline:
            query += " WHERE pipeline = ?"
            params = (pipeline,)
        query += " ORDER BY pipeline, init_time, method, score, threshold, scale, lead_time"
        with self._connect() as connection:
            fetched = connection.execute(query, params).fetchall()
        return [
            ScoreRow(
                pipeline=p,
                init_time=i,
                lead_time=lt,
                method=m,
                score=s,
                threshold=None if th == _NO_THRESHOLD else th,
                scale=sc or None,
                value=v,
                note=n,
            )
            for p, i, lt, m, s, th, sc, v, n in fetched
        ]

    def export_csv(self, path: Path) -> Path:
        """Write every row to CSV (empty cells for undefined values) for spreadsheets and maps."""
        with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(ScoreRow.__dataclass_fields__))
            writer.writeheader()
            for row in self.rows():
                writer.writerow(asdict(row))
        return path
