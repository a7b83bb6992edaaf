"""A harness run's outputs (metrics.json, report.md, figures) and the published numbers they
are compared with: the MoDeRNN paper (arXiv:2110.12978), Table 1."""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from matplotlib.figure import Figure

from nowcast.core import CONVENTION, METRICS
from nowcast.mmnist.budget import PAPER_ITERATIONS

LABELS = {"model": "model", "copy_last_frame": "copy last frame", "all_zero": "all zero"}
ARROWS = {"mse": "MSE ↓", "mae": "MAE ↓", "ssim": "SSIM ↑", "psnr": "PSNR ↑ (dB)"}
DIGITS = {"mse": 1, "mae": 1, "ssim": 3, "psnr": 3}
# Published Moving MNIST results we compare against.
SOURCE = "Chai, Xu & Yuan, MoDeRNN (arXiv:2110.12978), Table 1, Moving MNIST 10 -> 10 frames"


class ValidationRecord(TypedDict):
    """What one Moving MNIST run records in `metrics.json`, and its report shows."""

    harness: str
    repeat_command: str  # the command with every setting explicit
    created_utc: str
    code_version: str
    device: str
    precision: str
    convention: str
    reproducibility: str
    budget: dict[str, Any]
    model: dict[str, Any]  # preset, parameters
    training: dict[str, Any]  # iterations, batch size, time, checkpoint, curve
    data: dict[str, Any]  # digits, test set, frames in and out
    results: dict[str, dict[str, Any]]  # method -> mean scores and per-frame curves
    checks: dict[str, Any]
    evaluation_wall_s: float
    paper: dict[str, Any] | None  # the paper's row for this model family


@dataclass(frozen=True)
class PaperRow:
    """One row of Table 1; None marks a number we do not cite (not reported or not certain)."""

    model: str
    mse: float | None
    mae: float | None
    ssim: float | None
    psnr: float | None
    training: str


TABLE1 = {
    "modernn": PaperRow("MoDeRNN (paper)", 30.6, 68.7, 0.936, 22.472, "80,000 iterations"),
    "convlstm": PaperRow(
        "ConvLSTM (paper)", 103.3, 182.9, 0.707, None, "as reported in the paper's Table 1"
    ),
}


def paper_row(preset: str) -> PaperRow | None:
    """The Table 1 row for the model family of a preset name (e.g. `modernn-mmnist-small`)."""
    family = preset.split("-", 1)[0].lower()
    return TABLE1.get(family)


def number(value: float | None, metric: str) -> str:
    """A metric formatted to its usual precision, or n/a."""
    return "n/a" if value is None else f"{value:.{DIGITS[metric]}f}"


def write_metrics(out: Path, record: ValidationRecord) -> Path:
    """Every number of the run, with its convention, budget, device and code version."""
    path = out / "metrics.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def _results_table(record: ValidationRecord) -> list[str]:
    """Markdown rows: ours and the baselines, then the paper's Table 1 rows."""
    trained = record["training"]
    ours = f"{record['model']['preset']} (ours)"
    budget = trained_for(trained)
    header = "| model | trained for | " + " | ".join(ARROWS[m] for m in METRICS) + " |"
    rows = [header, "|" + " --- |" * (2 + len(METRICS))]
    for key, label in LABELS.items():
        name, when = (ours, budget) if key == "model" else (label, "no training (baseline)")
        means = record["results"][key]["mean"]
        rows.append(
            f"| {name} | {when} | " + " | ".join(number(means[m], m) for m in METRICS) + " |"
        )
    for row in TABLE1.values():
        values = " | ".join(number(getattr(row, m), m) for m in METRICS)
        rows.append(f"| {row.model} | {row.training} | {values} |")
    return rows


def trained_for(training: dict[str, Any]) -> str:
    """'N iterations at batch B', the batch marked unknown for foreign checkpoints."""
    batch = training["batch_size"]
    return f"{training['iterations']:,} iterations at batch {batch or 'unknown'}"


def _lead_curves(record: ValidationRecord) -> dict[str, dict[str, list[float]]]:
    """The per-frame scores of the model and both baselines, by label."""
    return {label: record["results"][key]["per_frame"] for key, label in LABELS.items()}


def lead_table(curves: dict[str, dict[str, list[float]]], first: str) -> list[str]:
    """Markdown rows: MSE and SSIM of each named curve at each lead frame (`first`: the column)."""
    header = f"| {first} | " + " | ".join(f"{name} MSE" for name in curves)
    rows = [header + " | " + " | ".join(f"{name} SSIM" for name in curves) + " |"]
    rows.append("|" + " --- |" * (1 + 2 * len(curves)))
    for lead in range(len(next(iter(curves.values()))["mse"])):
        cells = [number(curve["mse"][lead], "mse") for curve in curves.values()]
        cells += [number(curve["ssim"][lead], "ssim") for curve in curves.values()]
        rows.append(f"| {lead + 1} | " + " | ".join(cells) + " |")
    return rows


def write_markdown(
    out: Path,
    head: list[str],
    curves: dict[str, dict[str, list[float]]],
    first: str,
    figures: list[tuple[str, str]],
) -> Path:
    """`out/report.md`: the given head, then the per-lead table and the figures (alt, file)."""
    lines = [*head, "## Per lead frame", "", *lead_table(curves, first), ""]
    for alt, name in figures:
        lines += [f"![{alt}]({name})", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def _budget_gap(record: ValidationRecord) -> str:
    """An honest sentence on how far this run's training is from the paper's."""
    done = record["training"]["iterations"]
    batch = record["training"]["batch_size"] or record["budget"]["batch_size"]
    share = 100.0 * done * batch / (PAPER_ITERATIONS * 32)
    if done >= PAPER_ITERATIONS and batch >= 32:
        return "This run trained for the paper's full budget, so its row is comparable with theirs."
    return (
        f"This run trained for {done:,} iterations at batch {batch}: {share:.2f}% of the "
        f"training sequences of the paper's {PAPER_ITERATIONS:,} iterations at batch 32. "
        "It shows whether the model learns, not the paper's accuracy; only "
        "`--budget paper` is comparable with the paper's rows."
    )


def check_lines(record: ValidationRecord) -> list[str]:
    """Markdown bullets: does the model beat each floor on MSE and SSIM."""
    found = record["checks"]
    means = {key: record["results"][key]["mean"] for key in LABELS}

    def verdict(key: str, metric: str) -> str:
        passed = found[f"beats_{key}_{metric}"]
        ours, floor = number(means["model"][metric], metric), number(means[key][metric], metric)
        return (
            f"- {metric.upper()} vs {LABELS[key]}: {'yes' if passed else 'no'} ({ours} vs {floor})"
        )

    return [
        verdict("all_zero", "mse") + f", {100 * found['all_zero_mse_margin']:.1f}% lower "
        "(the quick budget's bar is 5%)",
        verdict("all_zero", "ssim"),
        verdict("copy_last_frame", "mse"),
        verdict("copy_last_frame", "ssim"),
        f"- All checks passed: {'yes' if found['passes'] else 'no'}",
    ]


def _objective_lines(training: dict[str, Any], budget: dict[str, Any]) -> list[str]:
    """A bullet saying from which iteration the budget's final objective took over, if any."""
    start = training.get("final_loss_from")
    if start is None:
        return []
    return [
        f"- Objective: the preset's loss until iteration {start - 1:,}, then "
        f"{budget['final_loss']} (1 - SSIM in the convention below, added so the model learns "
        "to keep empty areas empty); the paper's rows come from the paper's own recipe"
    ]


def write_report(out: Path, record: ValidationRecord) -> Path:
    """report.md: our numbers beside the paper's Table 1, each labelled with its budget."""
    data, training, budget = record["data"], record["training"], record["budget"]
    lines = [
        f"# Moving MNIST validation: {record['model']['preset']}, {budget['name']} budget",
        "",
        f"- Command (repeats this run): `{record['repeat_command']}`",
        f"- Created: {record['created_utc']}, code {record['code_version']}, "
        f"device {record['device']}, {record['precision']}",
        f"- Budget: {budget['description']}",
        f"- Training: {training['iterations']:,} iterations in {training['wall_s']:.0f} s, "
        f"ended by {training['stopped_by']}",
        *_objective_lines(training, budget),
        f"- Digits: {data['digits']}",
        f"- Test set: {data['test_set']}; {data['input_frames']} frames in, "
        f"{data['output_frames']} out",
        f"- Metrics: {CONVENTION}",
        f"- Reproducibility: {record['reproducibility']}",
        "",
        "## Results",
        "",
        *_results_table(record),
        "",
        f"Paper rows: {SOURCE}. {_budget_gap(record)}",
        "",
        "## Checks",
        "",
        *check_lines(record),
        "",
    ]
    figures = [
        ("MSE and SSIM per lead frame", "per_frame.png"),
        ("input, truth and prediction", "samples.png"),
        ("training loss", "curve.png"),
    ]
    return write_markdown(out, lines, _lead_curves(record), "lead frame", figures)


def plot_lead_curves(
    out: Path,
    curves: dict[str, dict[str, list[float]]],
    title: str,
    dashed: Collection[str] = (),
    dpi: int = 100,
) -> Path:
    """per_frame.png: MSE and SSIM at each lead frame, one line per named curve (`dashed` ones:
    the baselines)."""
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots(1, 2)
    for axis, metric in zip(axes, ("mse", "ssim"), strict=True):
        for label, curve in curves.items():
            values = curve[metric]
            style = "--" if label in dashed else "-"
            axis.plot(range(1, len(values) + 1), values, marker="o", linestyle=style, label=label)
        axis.set_xlabel("lead frame")
        axis.set_title(ARROWS[metric] + (" (sum over pixels)" if metric == "mse" else ""))
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path = out / "per_frame.png"
    figure.savefig(path, dpi=dpi)
    return path


def plot_per_frame(out: Path, record: ValidationRecord) -> Path:
    """per_frame.png: MSE and SSIM at each lead frame, the model against both baselines."""
    title = f"{record['model']['preset']}, {record['budget']['name']} budget"
    return plot_lead_curves(out, _lead_curves(record), title)


def mosaic(rows: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Tile rows of (T, H, W) frames into one image, frames and rows separated by `gap` pixels."""
    height, width = rows[0].shape[-2:]
    columns = max(len(row) for row in rows)
    canvas = np.full(
        (len(rows) * (height + gap) - gap, columns * (width + gap) - gap), 0.5, dtype=np.float32
    )
    for r, row in enumerate(rows):
        for t, frame in enumerate(row):
            top, left = r * (height + gap), t * (width + gap)
            canvas[top : top + height, left : left + width] = np.clip(frame, 0, 1)
    return canvas


def plot_samples(out: Path, inputs: np.ndarray, truth: np.ndarray, prediction: np.ndarray) -> Path:
    """samples.png: for each sequence, rows of input frames, true future and predicted future."""
    rows, labels = [], []
    for s in range(inputs.shape[0]):
        for label, row in (
            ("input", inputs[s]),
            ("truth", truth[s]),
            ("prediction", prediction[s]),
        ):
            rows.append(row)
            labels.append(f"{s + 1}: {label}")
    return plot_sample_rows(out, rows, labels, dpi=100)


def plot_sample_rows(out: Path, rows: list[np.ndarray], labels: list[str], dpi: int) -> Path:
    """samples.png: rows of (T, H, W) frames tiled in grey, each row labelled on the left."""
    image = mosaic(rows)
    height = rows[0].shape[-2] + 2
    figure = Figure(figsize=(image.shape[1] / 60, image.shape[0] / 60))
    axis = figure.subplots()
    axis.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axis.set_yticks([r * height + height / 2 for r in range(len(rows))], labels, fontsize=7)
    axis.set_xticks([])
    path = out / "samples.png"
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def plot_curve(out: Path, losses: list[float], final_loss_from: int | None = None) -> Path:
    """curve.png: training loss per iteration, its running mean, and where the objective
    changes (the loss jumps there because the final objective adds a term)."""
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    if losses:
        axis.plot(np.arange(1, len(losses) + 1), losses, alpha=0.3, label="loss")
        window, pieces = running_means(losses, final_loss_from)
        for start, steps, smooth in pieces:
            label = f"mean of {window}" if start == 0 else None
            axis.plot(steps, smooth, color="tab:orange", label=label)
        if final_loss_from is not None:
            axis.axvline(final_loss_from, color="grey", linestyle="--", label="final objective")
        axis.set_yscale("log")
        axis.legend()
    else:
        axis.text(0.5, 0.5, "no training in this run", ha="center", va="center")
    axis.set_xlabel("iteration")
    axis.set_ylabel("training loss")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    path = out / "curve.png"
    figure.savefig(path, dpi=100)
    return path


def running_means(
    losses: list[float], final_loss_from: int | None
) -> tuple[int, list[tuple[int, np.ndarray, np.ndarray]]]:
    """The running-mean window and its pieces (start, iterations, mean), smoothed apart on each
    side of the objective change so the mean shows no false ramp where the loss jumps."""
    window = max(1, len(losses) // 20)
    edges = [0, len(losses)]
    if final_loss_from is not None and 1 < final_loss_from <= len(losses):
        edges.insert(1, final_loss_from - 1)
    pieces = []
    for start, stop in itertools.pairwise(edges):
        part = losses[start:stop]
        if len(part) >= window:
            smooth = np.convolve(part, np.ones(window) / window, mode="valid")
            pieces.append((start, np.arange(start + window, stop + 1), smooth))
    return window, pieces
