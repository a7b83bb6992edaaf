"""The model card beside a checkpoint: `card.json` for machines and `card.md` for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

from nowcast.core import CONVENTION, json_safe, write_text_atomic


class TrainingCard(TypedDict):
    """What one training run records in `card.json` (and `card.md` shows)."""

    name: str
    preset: str
    model: dict[str, Any]  # the model config, as in the checkpoint
    parameters: int
    sequence: dict[str, int]  # input_frames, output_frames
    recipe: dict[str, Any]  # the training recipe used
    freeze_layers: int
    data: dict[str, Any]  # pipelines, groups, cadence, step, retimed groups, split, excluded
    parent: dict[str, Any] | None  # the checkpoint a fine-tune started from
    iterations_done: int
    stopped_early: bool
    best_validation_mse: float | None
    validation_score: str  # mse or csi
    best_iteration: int | None
    final_training_loss: float | None
    test_scores_per_lead: dict[str, dict[str, list[float]]]  # method -> score -> per lead
    test_scores_checkpoint: str
    hardware: dict[str, Any]
    wall_time_s: float
    checkpoint: str
    code_version: str


def _lead_table(scores: dict[str, dict[str, list[float]]], step: str) -> list[str]:
    """Markdown rows of per-lead test scores, model beside persistence."""
    if not scores:
        return ["No test windows: every window went to training or validation."]
    methods = list(scores)
    metrics = list(next(iter(scores.values())))
    header = "| lead | " + " | ".join(f"{m} {k.upper()}" for k in metrics for m in methods) + " |"
    lines = [header, "|---" * (1 + len(metrics) * len(methods)) + "|"]
    leads = len(next(iter(next(iter(scores.values())).values())))
    for lead in range(leads):
        values = [scores[m][k][lead] for k in metrics for m in methods]
        lines.append(f"| {lead + 1} x {step} | " + " | ".join(f"{v:.4g}" for v in values) + " |")
    return lines


def card_markdown(card: TrainingCard) -> str:
    """A model card a forecaster can read: data, recipe, scores beside persistence, hardware."""
    data = card["data"]
    split = data["split"]
    parent = card.get("parent")
    lines = [
        f"# Model card: {card['name']}",
        "",
        f"- Preset: `{card['preset']}` ({card['parameters']:,} parameters), "
        f"{card['sequence']['input_frames']} frames in, {card['sequence']['output_frames']} out "
        f"every {data['step']}",
        f"- Parent: `{parent['path']}` (pipeline {parent['pipeline']})"
        if parent
        else "- Parent: none",
        f"- Data: pipeline `{data['pipeline']}`, groups {', '.join(data['groups'])}, cadence "
        f"{data['cadence']}, stride {data['stride']}",
        f"- Split by {split['method']} {split['boundaries']}: "
        + ", ".join(
            f"{name} {split[name]['windows']} windows" for name in ("train", "val", "test")
        ),
        f"- Recipe: {card['recipe']}, frozen layers {card['freeze_layers']}",
        f"- Trained {card['iterations_done']} iterations"
        + (" (stopped early)" if card["stopped_early"] else "")
        + f"; best validation MSE (mean per pixel) {card['best_validation_mse']} at iteration "
        f"{card['best_iteration']}",
        f"- Hardware: {card['hardware']['device']} x {card['hardware']['world_size']}, "
        f"{card['hardware']['cpu_count']} CPUs, torch {card['hardware']['torch']}; wall time "
        f"{card['wall_time_s']} s; nowcast {card['code_version']}",
        "",
        "## Test scores per lead time",
        "",
        f"Convention: {CONVENTION}.",
        "",
        *_lead_table(card["test_scores_per_lead"], data["step"]),
        "",
    ]
    return "\n".join(lines)


def write_card(folder: Path, card: TrainingCard) -> tuple[Path, Path]:
    """Write `card.json` and `card.md` into `folder`, each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("card.json", json.dumps(json_safe(card), indent=2) + "\n"),
        ("card.md", card_markdown(card)),
    ):
        written.append(write_text_atomic(folder / name, text))
    return written[0], written[1]
