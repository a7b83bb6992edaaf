"""Print the per-lead held-out table of a radar checkpoint card from a backtest summary.csv.

Usage: python scripts/heldout_table.py SUMMARY_CSV [STORED_MM_PER_HOUR]

SUMMARY_CSV is `nowcast verify --backtest ... --thresholds T1,T5 --scales 1`'s summary.csv with
T1 and T5 the stored values of 1 and 5 mm/h; STORED_MM_PER_HOUR converts stored values to mm/h
(12 for 5-minute accumulations in mm), so RMSE is printed in mm/h.
"""

from __future__ import annotations

import sys

import pandas as pd

METHODS = ("model", "persistence", "extrapolation")


def table(summary: pd.DataFrame, per_hour: float) -> str:
    """Markdown rows: lead, RMSE (mm/h), CSI at 1 and 5 mm/h, FSS at 1 mm/h on one pixel."""
    thresholds = sorted(summary["threshold"].dropna().unique())
    if len(thresholds) != 2:
        raise SystemExit(f"expected two thresholds (1 and 5 mm/h), found {thresholds}")
    low, high = thresholds

    def pick(score: str, threshold: float | None = None) -> pd.DataFrame:
        rows = summary[summary["score"] == score]
        chosen = rows["threshold"].isna() if threshold is None else rows["threshold"] == threshold
        return rows[chosen].pivot_table(index="lead_time", columns="method", values="value")

    columns = {
        "RMSE (mm/h)": pick("RMSE") * per_hour,
        "CSI 1 mm/h": pick("CSI", low),
        "CSI 5 mm/h": pick("CSI", high),
        "FSS 1 mm/h, 1 px": pick("FSS", low),
    }
    header = ["lead"] + [f"{name} {method}" for name in columns for method in METHODS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for lead in columns["RMSE (mm/h)"].index:
        cells = [f"+{lead} min"]
        for frame in columns.values():
            cells += [f"{frame.loc[lead, method]:.4f}" for method in METHODS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    per_hour = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    print(table(pd.read_csv(sys.argv[1]), per_hour))
