"""Measure training speed on this machine now, pick the CPU thread count, plan the iterations."""

from __future__ import annotations

import copy
import logging
import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from nowcast.models.preset import Preset
from nowcast.training import sequence_loss
from nowcast.validation.budget import Budget

log = logging.getLogger(__name__)

ROUNDS = 5
# A real iteration also generates data, logs and checkpoints: plan with this much headroom.
LOOP_OVERHEAD = 1.05
# Untimed first iterations: allocations and oneDNN kernel selection.
WARM_UP = 2


def step_timer(
    model: nn.Module, preset: Preset, batch: Tensor, bf16: bool, objective: str | None = None
) -> Callable[[], float]:
    """A function that runs one training iteration on a throwaway copy and returns its seconds.

    `objective` is the loss to time (default: the recipe's main loss).
    """
    loss = objective or preset.training.loss
    trial = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW(trial.parameters(), lr=preset.training.lr)
    passes = 2 if preset.training.reverse_augment else 1

    def step() -> float:
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=bf16):
            prediction = trial(batch, preset.sequence.input_frames)
        sequence_loss(prediction, batch[:, 1:], loss).backward()
        optimizer.step()
        return passes * (time.perf_counter() - started)

    for _ in range(WARM_UP):
        step()
    return step


def fastest_threads(step: Callable[[], float]) -> float:
    """Keep torch's CPU thread count or drop to one, whichever trains faster right now.

    On a CPU shared with other jobs, several torch threads can run many times slower than one.
    The candidates are timed in alternation, so a passing burst of load does not decide alone;
    the fastest step picks the winner. Leaves torch set to the winner and returns its median
    seconds per iteration: steps on this machine vary by about 10% even when it is idle, and
    planning from the fastest one overshoots the time limit.
    """
    candidates = dict.fromkeys((torch.get_num_threads(), 1))
    timings: dict[int, list[float]] = {threads: [] for threads in candidates}
    for _ in range(ROUNDS):
        for threads in candidates:
            torch.set_num_threads(threads)
            timings[threads].append(step())
    best = min(timings, key=lambda threads: min(timings[threads]))
    torch.set_num_threads(best)
    log.info("seconds per iteration by CPU thread count: %s", timings)
    return statistics.median(timings[best])


def plan_iterations(
    model: nn.Module, preset: Preset, budget: Budget, batch: Tensor, tune_threads: bool
) -> int:
    """The budget's iteration cap, or fewer when its time limit allows fewer on this machine.

    A recipe whose final objective costs more per step is planned at the weighted mean speed.
    """
    if budget.time_limit_s is None:
        return budget.iterations
    started = time.perf_counter()
    step = step_timer(model, preset, batch, budget.bf16)
    if tune_threads and batch.device.type == "cpu":
        seconds = fastest_threads(step)
    else:
        seconds = statistics.median(step() for _ in range(ROUNDS))
    recipe = preset.training
    if recipe.final_loss is not None and recipe.final_fraction > 0:
        final_step = step_timer(model, preset, batch, budget.bf16, recipe.final_loss)
        final_seconds = statistics.median(final_step() for _ in range(ROUNDS))
        seconds += recipe.final_fraction * (final_seconds - seconds)
    left = budget.time_limit_s - (time.perf_counter() - started)
    planned = max(1, min(budget.iterations, math.floor(left / (seconds * LOOP_OVERHEAD))))
    log.info(
        "%.2f s per iteration (%d torch threads): planning %d of at most %d iterations",
        seconds,
        torch.get_num_threads(),
        planned,
        budget.iterations,
    )
    return planned
