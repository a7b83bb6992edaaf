"""Options several commands take, declared once: the same flag, type and check everywhere.

Where a flag means the same in every command it is one constant; where only its subject
differs (which pipelines, which folder), a command states it in its own words through the
factory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nowcast.cli.choices import Device


def pipeline_option(help: str, default: Any = None) -> Any:
    """`--pipeline` / `-p`: the pipeline(s) a command works on (repeatable where the
    parameter is a list)."""
    return typer.Option(default, "--pipeline", "-p", help=help)


def since_option(help: str) -> Any:
    """`--since`: a duration before now (8h, 2d) or an ISO 8601 UTC time."""
    return typer.Option(None, "--since", help=help)


def out_option(help: str, default: Path | None = None) -> Any:
    """`--out`: where a command writes."""
    return typer.Option(default, "--out", help=help)


def ensemble_option(help: str) -> Any:
    """`--ensemble N`: members of an ensemble, at least two."""
    return typer.Option(None, "--ensemble", min=2, help=help)


DEVICE: Device | None = typer.Option(
    None, "--device", help="Where to run: auto, cpu or cuda (default: the config's device)."
)
FROM_TIME: str | None = typer.Option(
    None, "--from", help="First init time (ISO 8601 UTC date or time; backtest: required)."
)
TO_TIME: str | None = typer.Option(
    None, "--to", help="Last init time (ISO 8601 UTC date or time; backtest: required)."
)

# Training: train, finetune, crossval and validate.
ITERATIONS: int | None = typer.Option(None, "--iterations", help="Training iterations.")
BATCH_SIZE: int | None = typer.Option(None, "--batch-size", help="Global batch size.")
SEED: int = typer.Option(0, "--seed", help="Seed for weights and batch order.")
STRIDE: int = typer.Option(1, "--stride", help="Use every k-th frame (e.g. 6 at 10 min).")
STEP: str | None = typer.Option(
    None,
    "--step",
    help="One sampling step for every pipeline, e.g. 10min: 5-min radars use every 2nd "
    "frame, 10-min ones every frame, 15-min ones are brought to the step along the motion "
    "(instead of --stride; finetune defaults to the parent's).",
)
EVERY: int = typer.Option(50, "--every", help="Validate and checkpoint every N iterations.")
PRESET: str | None = typer.Option(
    None, "--preset", help="Model preset (default: the first pipeline's), see models/."
)
PATIENCE: int = typer.Option(5, "--patience", help="Validations without gain before stop.")
RESUME: bool = typer.Option(False, "--resume", help="Continue from <out>/last.")
WORKERS: int | None = typer.Option(
    None,
    "--workers",
    help="Processes reading training windows (default: training.loader_workers); each "
    "keeps its own training.cache_mb cache.",
)
