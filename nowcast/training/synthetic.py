"""Synthetic bouncing-square sequences: a batch source for smoke tests and quick demos."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def moving_squares(
    batch: int, frames: int, size: int = 16, square: int = 4, speed: float = 1.5
) -> Callable[[int, torch.Generator], Tensor]:
    """A batch source of (batch, frames, 1, size, size) squares bouncing off the edges."""
    span = size - square
    period = 2 * span
    steps = torch.arange(frames, dtype=torch.float32)[None, :, None]
    pixels = torch.arange(size)

    def source(iteration: int, generator: torch.Generator) -> Tensor:
        """One batch drawn from `generator` (the iteration number is not needed)."""
        start = torch.rand(batch, 1, 2, generator=generator) * span
        velocity = (torch.rand(batch, 1, 2, generator=generator) * 2 - 1) * speed
        folded = torch.remainder(start + velocity * steps, period)
        corner = torch.where(folded > span, period - folded, folded).round().long()
        low = corner[..., None]
        inside = (pixels >= low) & (pixels < low + square)
        image = inside[:, :, 0, :, None] & inside[:, :, 1, None, :]
        return image.float().unsqueeze(2)

    return source
