"""`nowcast train` and `nowcast finetune`: fit MoDeRNN on windows cut from the archive."""

from __future__ import annotations

from pathlib import Path

import typer

from nowcast.cli.choices import Device, ValScore, value_of
from nowcast.cli.console import output_console
from nowcast.cli.options import (
    BATCH_SIZE,
    DEVICE,
    EVERY,
    ITERATIONS,
    PATIENCE,
    PRESET,
    RESUME,
    SEED,
    STEP,
    STRIDE,
    WORKERS,
    out_option,
    pipeline_option,
)
from nowcast.cli.state import app_state


def _report(result) -> None:  # noqa: ANN001 - TrainResult, imported lazily
    """Print where the checkpoint and card went, and the headline numbers."""
    console = output_console()
    card = result.card
    if card is None:
        return
    console.print(f"checkpoint: {result.checkpoint}")
    console.print(f"model card: {result.out_dir / 'card.md'}")
    console.print(
        f"iterations {card['iterations_done']}, best validation "
        f"{card['validation_score']} score {card['best_validation_mse']}"
        f" at {card['best_iteration']}, wall time {card['wall_time_s']} s"
    )
    scores = card["test_scores_per_lead"]
    if scores:
        model, persistence = scores["model"]["mse"], scores["persistence"]["mse"]
        console.print(
            "test MSE per frame (sum over pixels), first/last lead: "
            f"model {model[0]:.2f}/{model[-1]:.2f}, "
            f"persistence {persistence[0]:.2f}/{persistence[-1]:.2f}"
        )


def train(
    ctx: typer.Context,
    pipelines: list[str] = pipeline_option(
        "Pipeline whose archive to use; repeat to train on several in one rain-rate space.", ...
    ),
    preset: str | None = PRESET,
    iterations: int | None = ITERATIONS,
    batch_size: int | None = BATCH_SIZE,
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate."),
    device: Device | None = DEVICE,
    out: Path | None = out_option(
        "Run folder (default: <checkpoints>/<pipeline>, where forecast looks)."
    ),
    stride: int = STRIDE,
    step: str | None = STEP,
    every: int = EVERY,
    patience: int = PATIENCE,
    resume: bool = RESUME,
    seed: int = SEED,
    val_score: ValScore = typer.Option(
        ValScore.mse, "--val-score", help="Early-stopping score: mse, or csi (1 - CSI at 1 mm/h)."
    ),
    workers: int | None = WORKERS,
    amp: bool = typer.Option(False, "--amp", help="bf16 autocast (GPUs)."),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the model."),
) -> None:
    """Train a model on gap-free archive windows (history in, horizon out), split by time.

    Writes best/ and last/ checkpoints (safetensors + JSON), metrics.csv and a model card.
    Several GPUs: `torchrun --nproc_per_node N -m nowcast train ...`.
    """
    from nowcast.training import TrainRequest, run_train

    request = TrainRequest(
        pipeline=pipelines[0],
        also=tuple(pipelines[1:]),
        preset=preset,
        iterations=iterations,
        batch_size=batch_size,
        lr=lr,
        device=value_of(device),
        out=out,
        stride=stride,
        step=step,
        every=every,
        patience=patience,
        resume=resume,
        seed=seed,
        val_score=str(val_score.value),
        amp=amp,
        compile=compile_model,
        workers=workers,
        progress=not app_state(ctx).quiet,
    )
    _report(run_train(app_state(ctx).settings, request))


def finetune(
    ctx: typer.Context,
    parent: Path = typer.Option(..., "--from", help="Checkpoint (or run folder) to start from."),
    pipeline: str = pipeline_option("Pipeline whose archive to use.", ...),
    preset: str | None = typer.Option(None, "--preset", help="Must match the checkpoint's model."),
    freeze: int = typer.Option(0, "--freeze-layers", help="Freeze embedding + first k layers."),
    iterations: int | None = ITERATIONS,
    batch_size: int | None = BATCH_SIZE,
    lr: float = typer.Option(1e-4, "--lr", help="Peak learning rate (lower than training)."),
    device: Device | None = DEVICE,
    out: Path | None = out_option("Run folder for the fine-tuned model."),
    stride: int = STRIDE,
    step: str | None = STEP,
    every: int = EVERY,
    resume: bool = RESUME,
    workers: int | None = WORKERS,
) -> None:
    """Continue training a checkpoint on another pipeline's archive; the card names its parent."""
    from nowcast.training import TrainRequest, run_train

    request = TrainRequest(
        pipeline=pipeline,
        preset=preset,
        parent=parent,
        iterations=iterations,
        batch_size=batch_size,
        lr=lr,
        freeze_layers=freeze,
        device=value_of(device),
        out=out,
        stride=stride,
        step=step,
        every=every,
        resume=resume,
        workers=workers,
        progress=not app_state(ctx).quiet,
    )
    _report(run_train(app_state(ctx).settings, request))
