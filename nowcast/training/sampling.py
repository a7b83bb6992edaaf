"""Scheduled sampling (PredRNN-style): feed true frames with a probability that decays to zero."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class ScheduledSampler:
    """Linear decay from 1 to 0 over the first `stop_fraction` of training, then 0."""

    def __init__(self, total_iterations: int, stop_fraction: float, seed: int) -> None:
        self.horizon = total_iterations * stop_fraction
        self.generator = torch.Generator().manual_seed(seed)

    def probability(self, iteration: int) -> float:
        """Chance of feeding the true frame at this (0-based) iteration."""
        if self.horizon <= 0:
            return 0.0
        return max(0.0, 1.0 - iteration / self.horizon)

    def mask(self, iteration: int, batch: int, steps: int) -> Tensor | None:
        """Per-sequence, per-step 0/1 teacher mask (batch, steps); None once it is all zeros."""
        probability = self.probability(iteration)
        if probability <= 0.0 or steps <= 0:
            return None
        draws = torch.rand(batch, steps, generator=self.generator)
        return (draws < probability).float()

    def state_dict(self) -> dict[str, Any]:
        """RNG state as a tensor, loadable with torch.load(weights_only=True)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the RNG so the masks continue exactly where they left off."""
        self.generator.set_state(state["generator"])
