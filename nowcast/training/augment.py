"""Spatial augmentation of training windows: random crops and the 8 rotations/flips of a square.

Every frame of a window (inputs and targets alike) gets the same crop and the same symmetry, so
the target of an augmented window is the augmented target; draws use the trainer's generator so
resumed runs see the same batches.
"""

from __future__ import annotations

import torch
from torch import Tensor

SYMMETRIES = 8


def dihedral(frames: Tensor, k: int) -> Tensor:
    """Symmetry `k` (0-7) of the last two axes: k % 4 quarter turns, then a flip when k >= 4."""
    turned = torch.rot90(frames, k % 4, dims=(-2, -1))
    return turned.flip(-1) if k >= 4 else turned


def crop(frames: Tensor, top: int, left: int, size: int) -> Tensor:
    """The size x size square of the last two axes starting at (top, left)."""
    return frames[..., top : top + size, left : left + size]


Draw = tuple[int, int, int]  # top, left, symmetry


def augment_draws(
    count: int,
    generator: torch.Generator,
    grid: tuple[int, int],
    size: int | None = None,
    flips: bool = False,
) -> list[Draw]:
    """The crop corner and symmetry of each of `count` windows, in the generator's order."""
    height, width = grid
    if size is not None and (size > height or size > width):
        raise ValueError(f"crop {size} is larger than the {height}x{width} grid")
    draws = []
    for _ in range(count):
        top = left = symmetry = 0
        if size is not None:
            top = int(torch.randint(height - size + 1, (1,), generator=generator))
            left = int(torch.randint(width - size + 1, (1,), generator=generator))
        if flips:
            symmetry = int(torch.randint(SYMMETRIES, (1,), generator=generator))
        draws.append((top, left, symmetry))
    return draws


def apply_draws(batch: Tensor, draws: list[Draw], size: int | None, flips: bool) -> Tensor:
    """Each (T, C, H, W) window of a batch cropped and turned/flipped as its draw says."""
    windows = []
    for window, (top, left, symmetry) in zip(batch, draws, strict=True):
        if size is not None:
            window = crop(window, top, left, size)
        if flips:
            window = dihedral(window, symmetry)
        windows.append(window)
    return torch.stack(windows).contiguous()


def augment_batch(
    batch: Tensor, generator: torch.Generator, size: int | None = None, flips: bool = False
) -> Tensor:
    """Each (T, C, H, W) window of a batch randomly cropped to `size` and/or turned/flipped."""
    grid = (batch.shape[-2], batch.shape[-1])
    draws = augment_draws(len(batch), generator, grid, size, flips)
    return apply_draws(batch, draws, size, flips)
