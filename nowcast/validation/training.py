"""Train a preset on Moving MNIST sequences made on the fly, within an iteration and time budget."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from nowcast.models.preset import Preset
from nowcast.models.registry import build_from_config, load_preset
from nowcast.training import Trainer, load_training_state, resolve_device
from nowcast.validation.budget import Budget
from nowcast.validation.generator import SequenceSpec, generate, to_unit
from nowcast.validation.speed import plan_iterations

# The time limit is planned for; a run that overshoots it by this factor stops where it is.
DEADLINE_SLACK = 1.05


@dataclass(frozen=True)
class TrainingSummary:
    """What training did: iterations, wall time, why it stopped, the loss per iteration, and
    the first iteration of the budget's final objective (None without one)."""

    iterations: int
    planned: int
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
    tune_threads: bool = True,
    show_progress: bool = True,
) -> tuple[nn.Module, TrainingSummary]:
    """Fit the budget's preset on generated sequences; checkpoints go to `out_dir/last`."""
    preset = budget_preset(budget)
    spec = SequenceSpec(frames=preset.sequence.total_frames, size=preset.model.height)
    started = time.perf_counter()
    if resume and (out_dir / "last").is_dir():
        planned = int(load_training_state(out_dir / "last")["total"])
    else:
        sample = training_source(pool, budget.batch_size, spec)(0, torch.Generator())
        trial = build_from_config(preset.model).to(resolve_device(device))
        planned = plan_iterations(trial, preset, budget, sample.to(device), tune_threads)
    extra = {"harness": "mmnist", "budget": budget.name, "batch_size": budget.batch_size}
    trainer = Trainer.from_preset(
        preset, out_dir, device, seed=seed, amp=budget.bf16, progress=show_progress, extra=extra
    )
    deadline = None
    if budget.time_limit_s is not None:
        deadline = started + DEADLINE_SLACK * budget.time_limit_s
    source = training_source(pool, budget.batch_size, spec, deadline)
    result = trainer.fit(source, planned, every=max(1, min(100, planned // 5)), resume=resume)
    stopped_by = "iteration count"
    if result.iteration < planned:
        stopped_by = f"time limit ({DEADLINE_SLACK:g} x {budget.time_limit_s:.0f} s)"
    elif planned < budget.iterations:
        stopped_by = f"time limit ({budget.time_limit_s:.0f} s, planned from measured speed)"
    final_start = preset.training.final_loss_start(planned)
    summary = TrainingSummary(
        iterations=result.iteration,
        planned=planned,
        batch_size=budget.batch_size,
        wall_s=time.perf_counter() - started,
        stopped_by=stopped_by,
        losses=result.losses,
        final_loss_from=None if final_start is None else final_start + 1,
    )
    return trainer.model.eval(), summary
