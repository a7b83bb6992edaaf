"""Skill-vs-lead-time plots and a markdown summary from the accumulated score table."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from nowcast.core import CONVENTION  # noqa: E402
from nowcast.verify.probabilistic import PROBABILISTIC_FILE, read_curves  # noqa: E402
from nowcast.verify.probability_plots import save_plot  # noqa: E402
from nowcast.verify.runner import SUMMARY_TABLE, TABLE_FILE  # noqa: E402
from nowcast.verify.table import ScoreTable  # noqa: E402

METHOD_STYLE = {"model": "-o", "persistence": "--s", "extrapolation": ":^", "sprog": "-.d"}
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
    "RMSE_SKILL": "higher is better",
    "VALID_FRACTION": "share of pixels with data in both fields",
    "CRPS": "lower is better",
    "ROC_AREA": "higher is better",
    "RELIABILITY_GAP": "largest distance from the diagonal; lower is better",
}


# Report order: errors, skill, then events and neighbourhoods; the valid fraction last.
ACCUMULATED = (
    "RMSE",
    "RMSE_SKILL",
    "MAE",
    "BIAS",
    "CSI",
    "POD",
    "FAR",
    "FSS",
    "CRPS",
    "ROC_AREA",
    "RELIABILITY_GAP",
    "VALID_FRACTION",
)
IMAGE_SCORES = ("MSE", "MAE", "SSIM", "PSNR")


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


def accumulated_skill(summary: pd.DataFrame, period: str | None) -> pd.DataFrame:
    """The accumulated scores of one period (default: each pipeline's latest) in the shape of
    `skill_by_lead`: the value as `mean`, the cases behind it as `count`."""
    if summary.empty:
        return summary
    frame = summary[summary["score"].isin(ACCUMULATED)]
    if period is not None:
        frame = frame[frame["init_time"] == period]
    else:
        latest = summary.groupby("pipeline")["init_time"].transform("max")
        frame = frame[frame["init_time"] == latest[frame.index]]
    valid = summary[summary["score"] == "VALID_FRACTION"]
    cases = {
        (r.pipeline, r.init_time, r.method, r.lead_time): int(str(r.note).split()[0])
        for r in valid.itertuples()
    }
    frame = frame.copy()
    frame["key"] = [_accumulated_key(row) for row in frame.itertuples()]
    frame["mean"] = frame["value"]
    frame["count"] = [
        cases.get((r.pipeline, r.init_time, r.method, r.lead_time), 0) for r in frame.itertuples()
    ]
    return frame


def _accumulated_key(row: Any) -> str:
    """A summary row's label with its units: `RMSE (mm h-1)`, `CSI @ 1 mm h-1`, `FSS @ .., 4 px`."""
    note = str(row.note)
    if pd.notna(row.threshold):
        scale = f", {int(row.scale)} px" if pd.notna(row.scale) else ""
        return f"{row.score} @ {note}{scale}"
    if row.score in ("RMSE", "MAE", "BIAS", "CRPS"):
        return f"{row.score} ({note.split(';')[0]})"
    return str(row.score)


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


def _sections(skill: pd.DataFrame, name: str, folder: Path, suffix: str = "") -> list[str]:
    """A chart and a lead x method table for every score key of one pipeline."""
    lines: list[str] = []
    rows_of = skill[skill["pipeline"] == name]
    order = {score: index for index, score in enumerate((*ACCUMULATED, *IMAGE_SCORES))}
    keys = sorted(rows_of["key"].unique(), key=lambda k: (order.get(k.split(" ")[0], 99), k))
    for key in keys:
        slug = "".join(c if c.isalnum() else "_" for c in f"{name}_{key}{suffix}")
        image = plot_skill(skill, name, key, folder / f"{slug}.png")
        rows = rows_of[rows_of["key"] == key]
        pivot = rows.pivot_table(index="lead_time", columns="method", values="mean")
        lines += [f"### {key}", "", f"![{key}]({image.name})", "", _markdown(pivot), ""]
    return lines


def write_report(scores: Path, pipeline: str | None = None, period: str | None = None) -> Path:
    """Write `report.md` and a PNG per score into `<scores>/report`; return the markdown.

    The headline scores (RMSE, MAE, bias, CSI, POD, FAR, FSS, skill against persistence) are
    the accumulated ones of the summary table for `period` (default: each pipeline's latest),
    as pysteps computes them; the image metrics, which have no accumulated form, are means
    over the cases of the per-case table.
    """
    table = ScoreTable(scores / TABLE_FILE)
    summary = ScoreTable(scores / SUMMARY_TABLE) if (scores / SUMMARY_TABLE).exists() else None
    folder = scores / "report"
    folder.mkdir(parents=True, exist_ok=True)
    frame = score_frame(table, pipeline)
    lines = ["# Verification report", ""]
    if frame.empty:
        lines.append("No scores yet: run `nowcast verify` or `nowcast verify --backtest`.")
        path = folder / "report.md"
        path.write_text("\n".join(lines) + "\n")
        return path
    totals = accumulated_skill(score_frame(summary, pipeline), period) if summary else frame[:0]
    images = frame[frame["score"].isin(IMAGE_SCORES)]
    sources = f"`{table.path.name}` (one row per case)"
    if summary is not None:
        sources += f" and `{summary.path.name}` (accumulated)"
    lines += [
        f"Scores from {sources}.",
        "Every score is computed on the archive's block-averaged grid (the pipeline's `[grid]`),",
        "not at the source's resolution; pixels without data are left out.",
        "",
    ]
    for name in sorted(frame["pipeline"].unique()):
        lines += [f"## {name}", ""]
        mine = totals[totals["pipeline"] == name] if len(totals) else totals
        if len(mine):
            defined = mine.dropna(subset=["value"])
            lines += [
                f"Accumulated over every case initialised in {mine['init_time'].iloc[0]},",
                "per lead time, as pysteps does: contingency tables and FSS summed over the",
                "cases before the score is taken (cases without events count); RMSE, MAE and",
                "BIAS over every valid pixel, in physical units. An event is a value above the",
                "threshold (rain, reflectivity) or, for brightness temperature in K, below it",
                "(cold cloud tops). Case counts are in each chart's legend.",
                "",
                *_sections(defined, name, folder),
            ]
            undefined = mine[mine["value"].isna()].groupby(["key", "method"]).size()
            if len(undefined):
                lines += ["Undefined over the whole period (no event forecast or observed):", ""]
                lines += [f"- {key} / {method}" for (key, method) in undefined.index]
                lines.append("")
        else:
            lines += ["No accumulated scores for this pipeline yet.", ""]
        lines += _ensemble_sections(read_curves(scores / PROBABILISTIC_FILE).get(name), folder)
        own = images[images["pipeline"] == name]
        if len(own):
            lines += [
                f"## {name}: image metrics, mean over cases",
                "",
                f"MSE, MAE, SSIM and PSNR per frame on the model's [0, 1] scale ({CONVENTION}).",
                "",
                *_sections(skill_by_lead(own), name, folder, "_per_case"),
            ]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ensemble_sections(curves: dict[str, Any] | None, folder: Path) -> list[str]:
    """Reliability diagrams and ROC curves per threshold and the rank histogram of a
    pipeline's ensembles, all leads pooled (CRPS and per-lead values are in the tables)."""
    if not curves or not curves.get("methods"):
        return []
    name = curves["pipeline"]
    lines = [
        f"## {name}: ensembles, all leads pooled ({curves.get('period', '')})",
        "",
        "Reliability (populated bins: at least 10 pixels), ROC (10 probability thresholds) and",
        "rank histograms with pysteps, accumulated over every case and lead; per-lead CRPS,",
        "ROC area and the largest reliability gap are in the tables above.",
        "",
    ]
    plots = [("rank", None)] + [
        (kind, f"{t:g}") for t in curves["thresholds"] for kind in ("reliability", "roc")
    ]
    for kind, threshold in plots:
        slug = "".join(c if c.isalnum() else "_" for c in f"{name}_{kind}_{threshold or ''}")
        path = folder / f"{slug}.png"
        save_plot(curves, kind, threshold, str(path))
        title = kind if threshold is None else f"{kind} @ {threshold} {curves['units']}"
        lines += [f"### {title}", "", f"![{title}]({path.name})", ""]
    return lines


def _markdown(pivot: pd.DataFrame) -> str:
    """A pivot of means (lead minutes x method) as a markdown table."""
    header = "| lead (min) | " + " | ".join(str(c) for c in pivot.columns) + " |"
    rule = "|---" * (len(pivot.columns) + 1) + "|"
    body = [
        f"| {lead} | " + " | ".join(f"{v:.4g}" for v in row) + " |"
        for lead, row in zip(pivot.index, pivot.to_numpy(), strict=True)
    ]
    return "\n".join([header, rule, *body])
