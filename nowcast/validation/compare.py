"""`--compare`: train several presets on one budget, seed and data order, score them alike."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from nowcast.core.metrics import CONVENTION
from nowcast.training import load_model, resolve_device
from nowcast.validation import compare_report
from nowcast.validation.generator import SequenceSpec
from nowcast.validation.harness import (
    REPRODUCIBILITY,
    HarnessOptions,
    code_version,
    load_data,
    run_harness,
    sample_forecasts,
)
from nowcast.validation.report import LABELS

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
    compare_report.plot_samples(out, inputs, truth, predictions)
    compare_report.plot_per_frame(out, record)
    losses = {name: training_losses(out / name) for name in models}
    final_from = runs[models[0]]["training"]["final_loss_from"]
    compare_report.plot_curves(out, losses, final_from)
    compare_report.write_report(out, record)
    return record
