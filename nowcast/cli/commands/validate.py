"""`nowcast validate --mmnist`: prove on Moving MNIST that the model learns what the paper says."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from nowcast.cli.choices import BudgetName, Device, value_of
from nowcast.cli.console import output_console
from nowcast.cli.options import DEVICE, out_option
from nowcast.cli.state import app_state
from nowcast.core import ConfigError, NotDoneError
from nowcast.mmnist import resolve_budget

if TYPE_CHECKING:
    from nowcast.mmnist import HarnessOptions


def summary_table(record: dict[str, Any]) -> Table:
    """The run's mean scores, the model beside both baselines and the paper's row."""
    from nowcast.mmnist import ARROWS, LABELS, number

    table = Table(title=f"Moving MNIST, {record['budget']['description']}")
    table.add_column("forecast")
    for metric in ARROWS:
        table.add_column(ARROWS[metric], justify="right")
    for key, label in LABELS.items():
        name = record["model"]["preset"] if key == "model" else label
        means = record["results"][key]["mean"]
        table.add_row(name, *(number(means[m], m) for m in ARROWS))
    paper = record["paper"]
    if paper:
        table.add_row(paper["model"], *(number(paper[m], m) for m in ARROWS), style="dim")
    table.caption = record["convention"]
    return table


def comparison_table(record: dict[str, Any]) -> Table:
    """Mean scores of every compared model at the same budget, then both baselines."""
    from nowcast.mmnist import ARROWS, number

    table = Table(title=f"Moving MNIST comparison, {record['budget']['description']}")
    table.add_column("forecast")
    for metric in ARROWS:
        table.add_column(ARROWS[metric], justify="right")
    for name, means in record["rows"].items():
        table.add_row(name, *(number(means[m], m) for m in ARROWS))
    table.caption = record["convention"]
    return table


def check_compare_options(models: list[str], model: str | None, checkpoint: Path | None) -> None:
    """--compare needs two or more distinct known presets, and trains them all."""
    from nowcast.models import load_preset

    if len(models) < 2:
        raise ConfigError(f"--compare needs at least two model presets, got {len(models)}")
    if len(set(models)) < len(models):
        raise ConfigError(f"--compare got a model twice: {' '.join(models)}")
    for flag, value in (("--model", model), ("--checkpoint", checkpoint)):
        if value:
            raise ConfigError(f"{flag} cannot be used with --compare (it trains every MODEL)")
    for name in models:
        load_preset(name)


def run_comparison(
    options: HarnessOptions, models: list[str], console: Console, out_console: Console
) -> None:
    """Train and score every model on the same budget, write the side-by-side report."""
    from nowcast.mmnist import compare_models

    record = compare_models(options, models, console)
    out_console.print(comparison_table(record))
    console.print(f"outputs in {options.out}")
    failed = [m for m, run in record["models"].items() if not run["checks"]["passes"]]
    if failed:
        raise NotDoneError(
            f"validation failed: {', '.join(failed)} did not pass every check (see {options.out})"
        )


def validate(
    ctx: typer.Context,
    mmnist: bool = typer.Option(False, "--mmnist", help="Run the Moving MNIST harness."),
    models: list[str] | None = typer.Argument(
        None, metavar="MODEL", help="With --compare: two or more model presets."
    ),
    compare: bool = typer.Option(
        False,
        "--compare",
        help="Train each MODEL with the same seed, data order and budget; report side by side.",
    ),
    budget: BudgetName = typer.Option(
        BudgetName.quick,
        "--budget",
        help="Training budget (fixed iterations; paper needs a GPU).",
    ),
    iterations: int | None = typer.Option(
        None, "--iterations", help="Train exactly N iterations (overrides the budget's count)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model preset, e.g. modernn-mmnist or convlstm-mmnist."
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="Evaluate this checkpoint without training."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue training from the checkpoint in --out; with --compare, each model from "
        "its folder under --out (a model that finished is scored again, not retrained).",
    ),
    out: Path | None = out_option("Output folder (default runs/mmnist-<UTC timestamp>)."),
    mnist_dir: Path | None = typer.Option(
        None,
        "--mnist-dir",
        envvar="NOWCAST_MNIST_DIR",
        help="Folder with train-images-idx3-ubyte.gz and/or t10k-images-idx3-ubyte.gz.",
    ),
    download: bool = typer.Option(
        True, "--download/--no-download", help="Download missing MNIST files into the cache."
    ),
    test_file: Path | None = typer.Option(
        None, "--test-file", help="Standard mnist_test_seq.npy to score on instead."
    ),
    test_size: int | None = typer.Option(
        None, "--test-size", help="Test sequences to score (quick 500, paper 10,000)."
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Training batch size (overrides the budget's)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the training data and model init."),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="CPU threads for torch (default: the faster of torch's default and 1, measured).",
    ),
    device: Device | None = DEVICE,
    time_limit: float | None = typer.Option(
        None,
        "--time-limit",
        min=1,
        help="Safety stop in seconds of training per model: reaching it fails the run (exit 5).",
    ),
) -> None:
    """Train (or load) a model on Moving MNIST and report MSE, MAE, SSIM and PSNR per frame.

    Exit codes: 0 every check passed, 5 a check failed (a model does not beat a floor) or
    training reached --time-limit.
    """
    if not mmnist:
        raise typer.BadParameter(
            "choose a harness: --mmnist is the only one", param_hint="--mmnist"
        )
    if resume and out is None:
        raise ConfigError("--resume needs --out pointing at the run folder to continue")
    if models and not compare:
        raise ConfigError("model names as arguments need --compare (or use --model for one)")
    if compare:
        check_compare_options(models or [], model, checkpoint)
    # torch, scikit-image and matplotlib load here, not when the CLI starts.
    from nowcast.mmnist import HarnessOptions, check_lines, default_out_dir, run_harness

    state = app_state(ctx)
    options = HarnessOptions(
        budget=resolve_budget(budget.value, model, iterations, test_size, batch_size),
        out=out or default_out_dir(),
        mnist_dir=mnist_dir,
        download=download,
        test_file=test_file,
        checkpoint=checkpoint,
        resume=resume,
        device=value_of(device) or state.settings.device,
        seed=seed,
        threads=threads,
        time_limit_s=time_limit,
    )
    console = output_console(stderr=True, quiet=state.quiet)
    if compare:
        run_comparison(options, models or [], console, output_console(quiet=state.quiet))
        return
    record = run_harness(options, console)
    out_console = output_console(quiet=state.quiet)
    out_console.print(summary_table(record))
    out_console.print("\n".join(check_lines(record)), highlight=False)
    console.print(f"outputs in {options.out}")
    if not record["checks"]["passes"]:
        raise NotDoneError(f"validation failed: a check did not pass (see {options.out})")
