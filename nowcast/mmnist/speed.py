"""Measure training speed on this machine now, pick the CPU thread count, plan the iterations."""

from __future__ import annotations

import copy
import logging
import math
import time

import torch
from torch import Tensor, nn

from nowcast.mmnist.budget import Budget
from nowcast.models.preset import Preset
from nowcast.training import sequence_loss

log = logging.getLogger(__name__)

TIMED_STEPS = 2


def step_seconds(model: nn.Module, preset: Preset, batch: Tensor, bf16: bool) -> float:
    """Seconds of one training iteration, timed on a throwaway copy after a warm-up step."""
    trial = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW(trial.parameters(), lr=preset.training.lr)
    timings = []
    for _ in range(TIMED_STEPS + 1):
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=bf16):
            prediction = trial(batch, preset.sequence.input_frames)
        sequence_loss(prediction, batch[:, 1:], preset.training.loss).backward()
        optimizer.step()
        timings.append(time.perf_counter() - started)
    passes = 2 if preset.training.reverse_augment else 1
    return passes * min(timings[1:])


def fastest_threads(model: nn.Module, preset: Preset, batch: Tensor, bf16: bool) -> float:
    """Keep torch's CPU thread count or drop to one, whichever trains faster right now.

    On a CPU shared with other jobs, several torch threads can run many times slower than one.
    Leaves torch set to the winner and returns its seconds per iteration.
    """
    timings = {}
    for threads in dict.fromkeys((torch.get_num_threads(), 1)):
        torch.set_num_threads(threads)
        timings[threads] = step_seconds(model, preset, batch, bf16)
    best = min(timings, key=timings.__getitem__)
    torch.set_num_threads(best)
    log.info("seconds per iteration by CPU thread count: %s", timings)
    return timings[best]


def plan_iterations(
    model: nn.Module, preset: Preset, budget: Budget, batch: Tensor, tune_threads: bool
) -> int:
    """The budget's iteration cap, or fewer when its time limit allows fewer on this machine."""
    if budget.time_limit_s is None:
        return budget.iterations
    started = time.perf_counter()
    if tune_threads and batch.device.type == "cpu":
        seconds = fastest_threads(model, preset, batch, budget.bf16)
    else:
        seconds = step_seconds(model, preset, batch, budget.bf16)
    left = budget.time_limit_s - (time.perf_counter() - started)
    planned = max(1, min(budget.iterations, math.floor(left / seconds)))
    log.info(
        "%.2f s per iteration (%d torch threads): planning %d of at most %d iterations",
        seconds,
        torch.get_num_threads(),
        planned,
        budget.iterations,
    )
    return planned
