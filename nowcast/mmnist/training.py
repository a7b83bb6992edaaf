"""Train a preset on Moving MNIST sequences made on the fly, within an iteration and time budget."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from nowcast.mmnist.budget import Budget
from nowcast.mmnist.generator import SequenceSpec, generate, to_unit
from nowcast.models.preset import Preset
from nowcast.models.registry import load_preset
from nowcast.training import Trainer, load_training_state, sequence_loss

log = logging.getLogger(__name__)

# The time limit is planned for; a run that overshoots it by this factor stops where it is.
DEADLINE_SLACK = 1.25
CALIBRATION_STEPS = 2


@dataclass(frozen=True)
class TrainingSummary:
    """What training did: iterations, wall time, why it stopped, and the loss per iteration."""

    iterations: int
    planned: int
    batch_size: int | None
    wall_s: float
    stopped_by: str
    losses: list[float]


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


def seconds_per_iteration(model: nn.Module, preset: Preset, batch: Tensor) -> float:
    """Time a few full training steps on a throwaway copy of the model."""
    trial = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW(trial.parameters(), lr=preset.training.lr)
    input_frames = preset.sequence.input_frames
    started = time.perf_counter()
    for _ in range(CALIBRATION_STEPS):
        optimizer.zero_grad(set_to_none=True)
        loss = sequence_loss(trial(batch, input_frames), batch[:, 1:], preset.training.loss)
        loss.backward()
        optimizer.step()
    steps = 2 if preset.training.reverse_augment else 1
    return steps * (time.perf_counter() - started) / CALIBRATION_STEPS


def budget_preset(budget: Budget) -> Preset:
    """The budget's preset with its learning rate, batch size and iteration count."""
    preset = load_preset(budget.preset)
    recipe = {"batch_size": budget.batch_size, "iterations": max(budget.iterations, 1)}
    if budget.learning_rate is not None:
        recipe["lr"] = budget.learning_rate
    return preset.model_copy(update={"training": preset.training.model_copy(update=recipe)})


def plan_iterations(trainer: Trainer, preset: Preset, budget: Budget, sample: Tensor) -> int:
    """Iterations to run: the budget's cap, fewer when its time limit allows fewer here."""
    if budget.time_limit_s is None:
        return budget.iterations
    per_iteration = seconds_per_iteration(trainer.model, preset, sample.to(trainer.device))
    affordable = math.floor(budget.time_limit_s / per_iteration)
    log.info(
        "%.2f s per iteration: %d iterations fit in %.0f s",
        per_iteration,
        affordable,
        budget.time_limit_s,
    )
    return max(1, min(budget.iterations, affordable))


def train(
    budget: Budget,
    pool: np.ndarray,
    out_dir: Path,
    device: str,
    seed: int,
    resume: bool,
    show_progress: bool,
) -> tuple[nn.Module, TrainingSummary]:
    """Fit the budget's preset on generated sequences; checkpoints go to `out_dir/last`."""
    preset = budget_preset(budget)
    spec = SequenceSpec(frames=preset.sequence.total_frames, size=preset.model.height)
    extra = {"harness": "mmnist", "budget": budget.name, "batch_size": budget.batch_size}
    trainer = Trainer.from_preset(
        preset, out_dir, device, seed=seed, progress=show_progress, extra=extra
    )
    started = time.perf_counter()
    if resume and (out_dir / "last").is_dir():
        planned = int(load_training_state(out_dir / "last")["total"])
    else:
        sample = training_source(pool, budget.batch_size, spec)(0, torch.Generator())
        planned = plan_iterations(trainer, preset, budget, sample)
    deadline = None
    if budget.time_limit_s is not None:
        deadline = started + DEADLINE_SLACK * budget.time_limit_s
    source = training_source(pool, budget.batch_size, spec, deadline)
    if budget.iterations == 0:
        result_iterations, losses = 0, []
    else:
        every = max(1, min(100, planned // 5))
        result = trainer.fit(source, planned, every=every, resume=resume)
        result_iterations, losses = result.iteration, result.losses
    wall = time.perf_counter() - started
    stopped_by = "iteration count"
    if result_iterations < planned:
        stopped_by = f"time limit ({DEADLINE_SLACK:g} x {budget.time_limit_s:.0f} s)"
    elif planned < budget.iterations:
        stopped_by = f"time limit ({budget.time_limit_s:.0f} s, planned from measured speed)"
    summary = TrainingSummary(
        result_iterations, planned, budget.batch_size, wall, stopped_by, losses
    )
    return trainer.model.eval(), summary
