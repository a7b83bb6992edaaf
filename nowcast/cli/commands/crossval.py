"""`nowcast crossval`: leave-one-day-out cross-validation of a training recipe."""

from __future__ import annotations

from pathlib import Path

import typer

from nowcast.cli.choices import Device, value_of
from nowcast.cli.console import output_console
from nowcast.cli.options import (
    DEVICE,
    EVERY,
    ITERATIONS,
    PATIENCE,
    PRESET,
    SEED,
    STEP,
    out_option,
    pipeline_option,
)
from nowcast.cli.state import app_state


def crossval(
    ctx: typer.Context,
    pipelines: list[str] = pipeline_option(
        "Pipeline whose days take part; repeat for several.", ...
    ),
    preset: str | None = PRESET,
    iterations: int | None = ITERATIONS,
    step: str | None = STEP,
    every: int = EVERY,
    patience: int = PATIENCE,
    seed: int = SEED,
    device: Device | None = DEVICE,
    out: Path = out_option("Folder for each fold's run and the table.", Path("runs/crossval")),
) -> None:
    """Train on every day but one and backtest that day, each day in turn.

    A day is a run of a pipeline's archived frames with no gap over 6 h. Each fold trains the
    recipe with the day's frames excluded and backtests the whole day against persistence,
    extrapolation and S-PROG. Writes crossval.csv and crossval.md (RMSE in mm/h, CSI at 1 and
    5 mm/h at +30 and +60 min, per day and the mean over days) under --out. Exits 3 with
    fewer than two days.
    """
    from nowcast.training import TrainRequest
    from nowcast.verify import CROSSVAL_TABLE_FILE, run_crossval

    settings = app_state(ctx).settings
    template = TrainRequest(
        pipeline=pipelines[0],
        preset=preset,
        iterations=iterations,
        step=step,
        every=every,
        patience=patience,
        seed=seed,
        device=value_of(device),
    )
    console = output_console()
    run_crossval(settings, pipelines, template, out, progress=console.print)
    console.print((out / CROSSVAL_TABLE_FILE).read_text())
    console.print(f"table: {out / CROSSVAL_TABLE_FILE}")
