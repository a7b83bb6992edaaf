"""Skill-vs-lead-time plots and a markdown summary from the accumulated score table."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from nowcast.core.metrics import CONVENTION  # noqa: E402
from nowcast.verify.table import ScoreTable  # noqa: E402

METHOD_STYLE = {"model": "-o", "persistence": "--s", "extrapolation": ":^"}
ORIENTATION = {
    "MSE": "lower is better",
    "MAE": "lower is better",
    "RMSE": "lower is better",
    "SSIM": "higher is better",
    "PSNR": "higher is better",
    "CSI": "higher is better",
    "POD": "higher is better",
    "FAR": "lower is better",
    "FSS": "higher is better",
    "BIAS": "0 is best",
}


def score_frame(table: ScoreTable, pipeline: str | None = None) -> pd.DataFrame:
    """The table as a DataFrame with a readable `key` per score, threshold and scale."""
    frame = pd.DataFrame([asdict(row) for row in table.rows(pipeline)])
    if frame.empty:
        return frame
    thresholds = frame["threshold"].map(lambda t: "" if pd.isna(t) else f" @ {t:g}")
    scales = frame["scale"].map(lambda s: "" if pd.isna(s) else f", {int(s)} px")
    frame["key"] = frame["score"] + thresholds + scales
    frame["lead_h"] = frame["lead_time"] / 60.0
    return frame


def skill_by_lead(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean of each defined score per pipeline, key, method and lead, with the case counts."""
    defined = frame.dropna(subset=["value"])
    grouped = defined.groupby(["pipeline", "key", "method", "lead_time", "lead_h"])["value"]
    return grouped.agg(["mean", "count"]).reset_index()


def plot_skill(skill: pd.DataFrame, pipeline: str, key: str, path: Path) -> Path:
    """One skill-vs-lead-time chart: each method a line, case counts in the legend."""
    subset = skill[(skill["pipeline"] == pipeline) & (skill["key"] == key)]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    try:
        for method, rows in subset.groupby("method"):
            cases = int(rows["count"].max())
            style = METHOD_STYLE.get(str(method), "-.")
            ax.plot(rows["lead_h"], rows["mean"], style, label=f"{method} (n={cases})")
        score = key.split(" ")[0]
        ax.set_title(f"{pipeline}: {key} ({ORIENTATION.get(score, '')})")
        ax.set_xlabel("lead time (h)")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def write_report(table: ScoreTable, folder: Path, pipeline: str | None = None) -> Path:
    """Write a PNG per score and `report.md` with the per-lead means; return the markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = score_frame(table, pipeline)
    lines = ["# Verification report", ""]
    if frame.empty:
        lines.append("No scores yet: run `nowcast verify` or `nowcast verify --backtest`.")
        path = folder / "report.md"
        path.write_text("\n".join(lines) + "\n")
        return path
    skill = skill_by_lead(frame)
    undefined = frame[frame["value"].isna()].groupby(["key", "method"]).size()
    lines += [
        f"Scores from `{table.path}`. Image metrics on the model's [0, 1] scale ({CONVENTION}).",
        "RMSE, BIAS, CSI, POD, FAR and FSS in physical units at the thresholds shown.",
        "Every score is computed on the archive's block-averaged grid (the pipeline's `[grid]`),",
        "not at the source's resolution; pixels without data are left out.",
        "",
    ]
    for name in sorted(skill["pipeline"].unique()):
        lines += [f"## {name}", ""]
        for key in sorted(skill[skill["pipeline"] == name]["key"].unique()):
            slug = "".join(c if c.isalnum() else "_" for c in f"{name}_{key}")
            image = plot_skill(skill, name, key, folder / f"{slug}.png")
            rows = skill[(skill["pipeline"] == name) & (skill["key"] == key)]
            pivot = rows.pivot_table(index="lead_time", columns="method", values="mean")
            lines += [f"### {key}", "", f"![{key}]({image.name})", "", _markdown(pivot), ""]
    if len(undefined):
        lines += ["## Undefined scores (no events), not counted in the means", ""]
        lines += [
            f"- {key} / {method}: {count} case-leads" for (key, method), count in undefined.items()
        ]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _markdown(pivot: pd.DataFrame) -> str:
    """A pivot of means (lead minutes x method) as a markdown table."""
    header = "| lead (min) | " + " | ".join(str(c) for c in pivot.columns) + " |"
    rule = "|---" * (len(pivot.columns) + 1) + "|"
    body = [
        f"| {lead} | " + " | ".join(f"{v:.4g}" for v in row) + " |"
        for lead, row in zip(pivot.index, pivot.to_numpy(), strict=True)
    ]
    return "\n".join([header, rule, *body])
