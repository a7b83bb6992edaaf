"""Train a preset on Moving MNIST sequences made on the fly for a budget's fixed iterations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from nowcast.core import NotDoneError
from nowcast.mmnist.budget import Budget
from nowcast.mmnist.data import SequenceSpec, generate, to_unit
from nowcast.models import Preset, load_preset
from nowcast.training import Trainer


@dataclass(frozen=True)
class TrainingSummary:
    """What training did: iterations, wall time, how it ended, the loss per iteration, and
    the first iteration of the budget's final objective (None without one)."""

    iterations: int
    batch_size: int | None
    wall_s: float
    stopped_by: str
    losses: list[float]
    final_loss_from: int | None = None


def training_source(
    pool: np.ndarray, batch_size: int, spec: SequenceSpec, deadline: float | None = None
) -> Callable[[int, torch.Generator], Tensor | None]:
    """Fresh (B, T, 1, H, W) sequences per iteration, seeded by the trainer's generator.

    Drawing the numpy seed from the trainer's checkpointed generator makes resumed runs see
    the same sequences. Past `deadline` (a perf_counter time) it returns None to end the fit.
    """

    def source(iteration: int, generator: torch.Generator) -> Tensor | None:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
        sequences = generate(pool, batch_size, np.random.default_rng(seed), spec)
        return torch.from_numpy(to_unit(sequences)).unsqueeze(2)

    return source


def budget_preset(budget: Budget) -> Preset:
    """The budget's preset with its learning rate, loss, batch size and iteration count."""
    preset = load_preset(budget.preset)
    recipe = {"batch_size": budget.batch_size, "iterations": budget.iterations}
    if budget.learning_rate is not None:
        recipe["lr"] = budget.learning_rate
    if budget.final_loss is not None:
        recipe.update(final_loss=budget.final_loss, final_fraction=budget.final_fraction)
    return preset.model_copy(update={"training": preset.training.model_copy(update=recipe)})


def train(
    budget: Budget,
    pool: np.ndarray,
    out_dir: Path,
    *,
    device: str,
    seed: int = 0,
    resume: bool = False,
    time_limit_s: float | None = None,
    show_progress: bool = True,
) -> tuple[nn.Module, TrainingSummary]:
    """Fit the budget's preset for exactly its iterations; checkpoints go to `out_dir/last`.

    `time_limit_s` is a safety stop, never a shorter schedule: a run that reaches it fails.
    """
    preset = budget_preset(budget)
    spec = SequenceSpec(frames=preset.sequence.total_frames, size=preset.model.height)
    started = time.perf_counter()
    extra = {"harness": "mmnist", "budget": budget.name, "batch_size": budget.batch_size}
    trainer = Trainer.from_preset(
        preset, out_dir, device, seed=seed, amp=budget.bf16, progress=show_progress, extra=extra
    )
    deadline = None if time_limit_s is None else started + time_limit_s
    source = training_source(pool, budget.batch_size, spec, deadline)
    total = budget.iterations
    result = trainer.fit(source, total, every=max(1, min(100, total // 5)), resume=resume)
    if result.iteration < total:
        raise NotDoneError(
            f"training reached the --time-limit of {time_limit_s:g} s after "
            f"{result.iteration:,} of {total:,} iterations; nothing was scored "
            f"(continue with --resume --out {out_dir.parent})"
        )
    final_start = preset.training.final_loss_start(total)
    summary = TrainingSummary(
        iterations=result.iteration,
        batch_size=budget.batch_size,
        wall_s=result.seconds,
        stopped_by="iteration count",
        losses=result.losses,
        final_loss_from=None if final_start is None else final_start + 1,
    )
    return trainer.model.eval(), summary
