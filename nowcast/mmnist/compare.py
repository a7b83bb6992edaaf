"""`--compare`: train several presets on one budget, seed and data order, score them alike, and
write them up side by side: report.md, per-frame curves, samples, learning curves."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from rich.console import Console

from nowcast.core import CONVENTION, METRICS
from nowcast.mmnist.data import SequenceSpec
from nowcast.mmnist.harness import (
    REPRODUCIBILITY,
    HarnessOptions,
    code_version,
    load_data,
    run_harness,
    sample_forecasts,
)
from nowcast.mmnist.report import (
    ARROWS,
    LABELS,
    SOURCE,
    number,
    paper_row,
    plot_lead_curves,
    plot_sample_rows,
    running_means,
    trained_for,
    write_markdown,
)
from nowcast.models import load_model, resolve_device

BASELINES = ("copy_last_frame", "all_zero")


def model_options(options: HarnessOptions, model: str) -> HarnessOptions:
    """One model's run: the shared budget, seed and threads, its own folder under `out`."""
    return replace(options, budget=replace(options.budget, preset=model), out=options.out / model)


def training_losses(run_dir: Path) -> list[float]:
    """The loss of every training iteration, from the run's training/metrics.csv."""
    with (run_dir / "training" / "metrics.csv").open() as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


def comparison_record(
    options: HarnessOptions, models: list[str], runs: dict[str, dict[str, Any]], version: str
) -> dict[str, Any]:
    """Every compared number: each model's means, per-frame curves and checks, the baselines."""
    first = runs[models[0]]
    rows = {name: runs[name]["results"]["model"]["mean"] for name in models}
    rows |= {LABELS[key]: first["results"][key]["mean"] for key in BASELINES}
    command = options.command().replace(f" --model {options.budget.preset}", "")
    return {
        "harness": "moving-mnist-compare",
        "repeat_command": command.replace("--mmnist", "--mmnist --compare " + " ".join(models)),
        "created_utc": first["created_utc"],
        "code_version": version,
        "device": first["device"],
        "precision": first["precision"],
        "convention": CONVENTION,
        "reproducibility": REPRODUCIBILITY,
        "budget": first["budget"],
        "seed": options.seed,
        "data": first["data"],
        "rows": rows,
        "models": {
            name: {
                "parameters": runs[name]["model"]["parameters"],
                "training": runs[name]["training"],
                "mean": runs[name]["results"]["model"]["mean"],
                "per_frame": runs[name]["results"]["model"]["per_frame"],
                "checks": runs[name]["checks"],
                "report": f"{name}/report.md",
            }
            for name in models
        },
        "baselines": {LABELS[key]: first["results"][key] for key in BASELINES},
    }


def compare_models(options: HarnessOptions, models: list[str], console: Console) -> dict[str, Any]:
    """Run the harness for each model, then write compare.json, report.md and the figures."""
    version, runs = code_version(), {}
    for name in models:
        console.print(f"[bold]{name}[/bold] ({models.index(name) + 1} of {len(models)})")
        runs[name] = run_harness(model_options(options, name), console)
    record = comparison_record(options, models, runs, version)
    out = options.out
    (out / "compare.json").write_text(json.dumps(record, indent=2) + "\n")
    device = resolve_device(options.device)
    _, test_set = load_data(options, SequenceSpec())
    predictions: dict[str, np.ndarray] = {}
    inputs = truth = np.empty(0)
    for name in models:
        model, _ = load_model(Path(runs[name]["training"]["checkpoint"]), device)
        inputs, truth, predictions[name] = sample_forecasts(test_set, model, device)
    plot_samples(out, inputs, truth, predictions)
    plot_per_frame(out, record)
    losses = {name: training_losses(out / name) for name in models}
    final_from = runs[models[0]]["training"]["final_loss_from"]
    plot_curves(out, losses, final_from)
    write_report(out, record)
    return record


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


def _lead_curves(record: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """The per-frame scores of every model, then of the baselines, by name."""
    curves = {name: run["per_frame"] for name, run in record["models"].items()}
    return curves | {label: scores["per_frame"] for label, scores in record["baselines"].items()}


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
    ]
    figures = [
        ("MSE and SSIM per lead frame", "per_frame.png"),
        ("input, truth and each model's prediction", "samples.png"),
        ("training loss of each model", "curves.png"),
    ]
    return write_markdown(out, lines, _lead_curves(record), "lead", figures)


def plot_per_frame(out: Path, record: dict[str, Any]) -> Path:
    """per_frame.png: MSE and SSIM at each lead frame, every model against both baselines."""
    title = f"equal budget: {record['budget']['description']}"
    return plot_lead_curves(out, _lead_curves(record), title, dashed=record["baselines"], dpi=80)


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
    return plot_sample_rows(out, rows, labels, dpi=60)


def plot_curves(out: Path, losses: dict[str, list[float]], final_loss_from: int | None) -> Path:
    """curves.png: each model's training loss, smoothed apart on each side of the objective
    change (the loss jumps there because the final objective adds a term)."""
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    for index, (name, values) in enumerate(losses.items()):
        window, pieces = running_means(values, final_loss_from)
        for start, steps, smooth in pieces:
            label = f"{name} (mean of {window})" if start == 0 else None
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
