"""The Moving MNIST harness end to end: data, train or load, score, write every output."""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nowcast.core import CONVENTION, ConfigError, LeadTimeScores, __version__, pin_threads
from nowcast.mmnist import report
from nowcast.mmnist.budget import Budget
from nowcast.mmnist.data import (
    DigitPools,
    SequenceSpec,
    TestSet,
    generated_test_set,
    load_digit_pools,
    load_sequence_file,
    to_unit,
)
from nowcast.mmnist.evaluate import all_zero, copy_last_frame, evaluate, model_predictor
from nowcast.mmnist.training import TrainingSummary, train
from nowcast.models import load_model, resolve_device

INPUT_FRAMES = 10
EVAL_BATCH = 50
SAMPLES = 4
# Done means beating the all-zero floor on MSE by at least this fraction.
ALL_ZERO_MARGIN = 0.05
REPRODUCIBILITY = (
    "A budget is iterations, batch, recipe and seed, never elapsed time: the same command gives "
    "the same iterations and, on the same machine type, torch build and thread count, the same "
    "metrics whatever the load (tested: relative difference below 1e-6). Another CPU type or "
    "thread count may change them by float rounding only."
)


@dataclass(frozen=True)
class HarnessOptions:
    """Everything one harness run needs, resolved from the command line and the config."""

    budget: Budget
    out: Path
    mnist_dir: Path | None = None
    download: bool = True
    test_file: Path | None = None
    checkpoint: Path | None = None
    resume: bool = False
    device: str = "auto"
    seed: int = 0
    threads: int | None = None
    time_limit_s: float | None = None

    def command(self) -> str:
        """The `nowcast validate` command line that repeats this run, every setting explicit."""
        budget = self.budget
        parts = ["nowcast", "validate", "--mmnist", "--budget", budget.name]
        parts += ["--iterations", str(budget.iterations), "--model", budget.preset]
        parts += ["--batch-size", str(budget.batch_size), "--test-size", str(budget.test_size)]
        parts += [
            "--seed",
            str(self.seed),
            "--threads",
            str(self.threads or torch.get_num_threads()),
        ]
        if self.time_limit_s is not None:
            parts += ["--time-limit", f"{self.time_limit_s:g}"]
        for flag, value in (
            ("--test-file", self.test_file),
            ("--checkpoint", self.checkpoint),
            ("--mnist-dir", self.mnist_dir),
        ):
            if value is not None:
                parts += [flag, str(value)]
        return shlex.join([*parts, "--out", str(self.out)])


def default_out_dir() -> Path:
    """runs/mmnist-<UTC timestamp>, one folder per run."""
    return Path("runs") / f"mmnist-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def code_version() -> str:
    """Package version plus the git commit (and `+dirty`) when run from a checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return __version__
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty=+dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__} ({commit})"


def describe_device(device: torch.device) -> str:
    """The device in words: GPU name, or CPU with its torch thread count."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} torch threads)"


def precision(options: HarnessOptions) -> str:
    """Number formats of this run: evaluation is always fp32."""
    if options.checkpoint is not None:
        return "evaluation fp32"
    return f"training {'bf16 autocast' if options.budget.bf16 else 'fp32'}, evaluation fp32"


def load_data(options: HarnessOptions, spec: SequenceSpec) -> tuple[DigitPools | None, TestSet]:
    """Digit pools when training or generating needs them, and the fixed test set."""
    needs_digits = options.checkpoint is None or options.test_file is None
    pools = load_digit_pools(options.mnist_dir, options.download) if needs_digits else None
    if options.test_file is not None:
        return pools, load_sequence_file(options.test_file, options.budget.test_size, spec)
    return pools, generated_test_set(pools.test, options.budget.test_size, spec)


def _trained_model(
    options: HarnessOptions, pools: DigitPools | None, device: torch.device, console: Console
) -> tuple[torch.nn.Module, str, TrainingSummary]:
    """Load `--checkpoint`, or train the budget's preset into the run folder."""
    if options.checkpoint is not None:
        model, meta = load_model(options.checkpoint, device)
        if meta.sequence is not None and meta.sequence.input_frames != INPUT_FRAMES:
            raise ConfigError(
                f"{options.checkpoint} takes {meta.sequence.input_frames} input frames; "
                f"Moving MNIST needs {INPUT_FRAMES}"
            )
        batch = meta.extra.get("batch_size")
        summary = TrainingSummary(meta.iteration, batch, 0.0, "loaded checkpoint", [])
        return model, meta.preset or "checkpoint", summary
    console.print(f"training {options.budget.preset}: {options.budget.describe()}")
    model, summary = train(
        options.budget,
        pools.train,
        options.out / "training",
        device=str(device),
        seed=options.seed,
        resume=options.resume,
        time_limit_s=options.time_limit_s,
        show_progress=not console.quiet,
    )
    return model, options.budget.preset, summary


def _score(
    test_set: TestSet, model: torch.nn.Module, device: torch.device, console: Console
) -> dict[str, LeadTimeScores]:
    """The model and both floors on every test sequence, with a progress bar."""
    forecasters = {
        "model": model_predictor(model, device),
        "copy_last_frame": copy_last_frame,
        "all_zero": all_zero,
    }
    columns = (TextColumn("evaluate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=console.quiet) as progress:
        task = progress.add_task("evaluate", total=test_set.size)
        return evaluate(
            test_set,
            forecasters,
            INPUT_FRAMES,
            EVAL_BATCH,
            lambda n: progress.advance(task, n),
        )


def checks(results: dict[str, dict[str, Any]]) -> dict[str, bool | float]:
    """Does the model beat both floors on MSE and SSIM, and by how much it beats all-zero MSE."""
    model, zero, last = (results[k]["mean"] for k in ("model", "all_zero", "copy_last_frame"))
    margin = 1.0 - model["mse"] / zero["mse"]
    return {
        "beats_all_zero_mse": model["mse"] < zero["mse"],
        "beats_copy_last_frame_mse": model["mse"] < last["mse"],
        "beats_all_zero_ssim": model["ssim"] > zero["ssim"],
        "beats_copy_last_frame_ssim": model["ssim"] > last["ssim"],
        "all_zero_mse_margin": round(margin, 4),
        "passes": bool(
            margin >= ALL_ZERO_MARGIN
            and model["mse"] < last["mse"]
            and model["ssim"] > max(zero["ssim"], last["ssim"])
        ),
    }


def sample_forecasts(
    test_set: TestSet, model: torch.nn.Module, device: torch.device
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, truths and clipped predictions of the first few test sequences."""
    frames = to_unit(test_set.head(SAMPLES))
    history, truth = frames[:, :INPUT_FRAMES], frames[:, INPUT_FRAMES:]
    prediction = model_predictor(model, device)(history, truth.shape[1])
    return history, truth, np.clip(prediction, 0.0, 1.0)


def run_harness(options: HarnessOptions, console: Console) -> report.ValidationRecord:
    """Run the harness and write metrics.json, report.md and the figures into `options.out`."""
    if options.resume and options.checkpoint is not None:
        raise ConfigError("--resume continues training; it cannot be used with --checkpoint")
    device = resolve_device(options.device)
    if options.threads is not None:
        pin_threads(options.threads)
    spec = SequenceSpec()
    pools, test_set = load_data(options, spec)
    options.out.mkdir(parents=True, exist_ok=True)
    model, preset, training = _trained_model(options, pools, device, console)
    started = time.perf_counter()
    scores = _score(test_set, model, device, console)
    results = {k: {"mean": s.mean(), "per_frame": s.per_frame()} for k, s in scores.items()}
    row = report.paper_row(preset)
    budget = {**asdict(options.budget), "description": options.budget.describe()}
    if options.checkpoint is not None:
        budget.update(name="evaluation-only", description=f"evaluation of {options.checkpoint}")
    record: report.ValidationRecord = {
        "harness": "moving-mnist",
        "repeat_command": options.command(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "device": describe_device(device),
        "precision": precision(options),
        "convention": CONVENTION,
        "reproducibility": REPRODUCIBILITY,
        "budget": budget,
        "model": {"preset": preset, "parameters": sum(p.numel() for p in model.parameters())},
        "training": {
            **{k: v for k, v in asdict(training).items() if k != "losses"},
            "checkpoint": str(options.checkpoint or options.out / "training" / "last"),
            "curve": "curve.png",
        },
        "data": {
            "digits": pools.description if pools else "not needed (checkpoint and test file)",
            "digit_files": pools.files if pools else {},
            "test_set": test_set.description,
            "test_sequences": test_set.size,
            "input_frames": INPUT_FRAMES,
            "output_frames": spec.frames - INPUT_FRAMES,
        },
        "results": results,
        "checks": checks(results),
        "evaluation_wall_s": round(time.perf_counter() - started, 1),
        "paper": {"source": report.SOURCE, **asdict(row)} if row else None,
    }
    report.write_metrics(options.out, record)
    report.plot_per_frame(options.out, record)
    report.plot_samples(options.out, *sample_forecasts(test_set, model, device))
    report.plot_curve(options.out, training.losses, training.final_loss_from)
    report.write_report(options.out, record)
    return record
