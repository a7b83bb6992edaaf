"""Write a `--compare` run's outputs: report.md, per-frame curves, samples, learning curves."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from nowcast.core.metrics import METRICS
from nowcast.validation.paper import SOURCE, paper_row
from nowcast.validation.report import ARROWS, mosaic, number, plot_lead_curves, trained_for


def _results_table(record: dict[str, Any]) -> list[str]:
    """Markdown rows: every model at the shared budget, then the baselines and paper rows."""
    header = "| forecast | parameters | trained for | " + " | ".join(ARROWS[m] for m in METRICS)
    rows = [header + " |", "|" + " --- |" * (3 + len(METRICS))]
    for name, run in record["models"].items():
        values = " | ".join(number(run["mean"][m], m) for m in METRICS)
        rows.append(
            f"| {name} | {run['parameters']:,} | {trained_for(run['training'])} | {values} |"
        )
    for label, scores in record["baselines"].items():
        values = " | ".join(number(scores["mean"][m], m) for m in METRICS)
        rows.append(f"| {label} | 0 | no training (baseline) | {values} |")
    paper = {row.model: row for row in map(paper_row, record["models"]) if row is not None}
    for row in paper.values():
        values = " | ".join(number(getattr(row, m), m) for m in METRICS)
        rows.append(f"| {row.model} | n/a | {row.training} | {values} |")
    return rows


def verdict_lines(record: dict[str, Any]) -> list[str]:
    """Bullets: each model against the first on MSE and SSIM, in plain words."""
    names = list(record["models"])
    first = record["models"][names[0]]["mean"]
    lines = []
    for name in names[1:]:
        other = record["models"][name]["mean"]
        mse_gain = 100.0 * (other["mse"] - first["mse"]) / other["mse"]
        ssim_gain = first["ssim"] - other["ssim"]
        better = "lower" if mse_gain > 0 else "higher"
        lines.append(
            f"- MSE: {names[0]} {number(first['mse'], 'mse')} vs {name} "
            f"{number(other['mse'], 'mse')}: {abs(mse_gain):.1f}% {better}"
        )
        lines.append(
            f"- SSIM: {names[0]} {number(first['ssim'], 'ssim')} vs {name} "
            f"{number(other['ssim'], 'ssim')}: {ssim_gain:+.3f}"
        )
    for name, run in record["models"].items():
        verdict = "yes" if run["checks"]["passes"] else "no"
        lines.append(f"- {name} passes the single-model checks (beats both floors): {verdict}")
    return lines


def _per_frame_table(record: dict[str, Any]) -> list[str]:
    """Markdown rows: MSE and SSIM at each lead frame, models then baselines."""
    curves = {name: run["per_frame"] for name, run in record["models"].items()}
    curves |= {label: scores["per_frame"] for label, scores in record["baselines"].items()}
    header = "| lead | " + " | ".join(f"{n} MSE" for n in curves)
    rows = [header + " | " + " | ".join(f"{n} SSIM" for n in curves) + " |"]
    rows.append("|" + " --- |" * (1 + 2 * len(curves)))
    for lead in range(len(next(iter(curves.values()))["mse"])):
        cells = [number(c["mse"][lead], "mse") for c in curves.values()]
        cells += [number(c["ssim"][lead], "ssim") for c in curves.values()]
        rows.append(f"| {lead + 1} | " + " | ".join(cells) + " |")
    return rows


def write_report(out: Path, record: dict[str, Any]) -> Path:
    """report.md: the models side by side at one budget, with baselines and verdicts."""
    data, budget = record["data"], record["budget"]
    lines = [
        f"# Moving MNIST comparison at equal budget: {', '.join(record['models'])}",
        "",
        f"- Command (repeats this run): `{record['repeat_command']}`",
        f"- Created: {record['created_utc']}, code {record['code_version']}, "
        f"device {record['device']}, {record['precision']}",
        f"- Budget, the same for every model: {budget['description']}, seed {record['seed']} "
        "(same initialisation seed, same training sequences in the same order)",
        *(
            f"- {name}: {run['training']['iterations']:,} iterations in "
            f"{run['training']['wall_s']:.0f} s of training (see `{run['report']}`)"
            for name, run in record["models"].items()
        ),
        f"- Test set: {data['test_set']}; {data['input_frames']} frames in, "
        f"{data['output_frames']} out",
        f"- Metrics: {record['convention']}",
        f"- Reproducibility: {record['reproducibility']}",
        "",
        "## Results",
        "",
        *_results_table(record),
        "",
        f"Paper rows: {SOURCE}, at the paper's own budget, not this one.",
        "",
        "## Verdict at this budget",
        "",
        *verdict_lines(record),
        "",
        "## Per lead frame",
        "",
        *_per_frame_table(record),
        "",
        "![MSE and SSIM per lead frame](per_frame.png)",
        "",
        "![input, truth and each model's prediction](samples.png)",
        "",
        "![training loss of each model](curves.png)",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def plot_per_frame(out: Path, record: dict[str, Any]) -> Path:
    """per_frame.png: MSE and SSIM at each lead frame, every model against both baselines."""
    curves = {name: run["per_frame"] for name, run in record["models"].items()}
    curves |= {label: scores["per_frame"] for label, scores in record["baselines"].items()}
    title = f"equal budget: {record['budget']['description']}"
    return plot_lead_curves(out, curves, title, dashed=record["baselines"], dpi=80)


def plot_samples(
    out: Path, inputs: np.ndarray, truth: np.ndarray, predictions: dict[str, np.ndarray]
) -> Path:
    """samples.png: for two sequences, input, truth and every model's prediction as rows."""
    rows, labels = [], []
    for s in range(min(2, inputs.shape[0])):
        for label, row in (("input", inputs[s]), ("truth", truth[s])):
            rows.append(row)
            labels.append(f"{s + 1}: {label}")
        for name, prediction in predictions.items():
            rows.append(prediction[s])
            labels.append(f"{s + 1}: {name}")
    image = mosaic(rows)
    height = inputs.shape[-2] + 2
    figure = Figure(figsize=(image.shape[1] / 60, image.shape[0] / 60))
    axis = figure.subplots()
    axis.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axis.set_yticks([r * height + height / 2 for r in range(len(rows))], labels, fontsize=7)
    axis.set_xticks([])
    path = out / "samples.png"
    figure.savefig(path, dpi=60, bbox_inches="tight")
    return path


def plot_curves(out: Path, losses: dict[str, list[float]], final_loss_from: int | None) -> Path:
    """curves.png: each model's training loss, smoothed apart on each side of the objective
    change (the loss jumps there because the final objective adds a term)."""
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    for index, (name, values) in enumerate(losses.items()):
        window = max(1, len(values) // 20)
        edges = [0, len(values)]
        if final_loss_from is not None and 1 < final_loss_from <= len(values):
            edges.insert(1, final_loss_from - 1)
        for start, stop in itertools.pairwise(edges):
            part = values[start:stop]
            if len(part) >= window:
                smooth = np.convolve(part, np.ones(window) / window, mode="valid")
                label = f"{name} (mean of {window})" if start == 0 else None
                steps = np.arange(start + window, stop + 1)
                axis.plot(steps, smooth, color=f"C{index}", label=label)
    if final_loss_from is not None:
        axis.axvline(final_loss_from, color="grey", linestyle="--", label="final objective")
    axis.set_yscale("log")
    axis.set_xlabel("iteration")
    axis.set_ylabel("training loss")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = out / "curves.png"
    figure.savefig(path, dpi=80)
    return path
