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


def augment_batch(
    batch: Tensor, generator: torch.Generator, size: int | None = None, flips: bool = False
) -> Tensor:
    """Each (T, C, H, W) window of a batch randomly cropped to `size` and/or turned/flipped."""
    height, width = batch.shape[-2:]
    if size is not None and (size > height or size > width):
        raise ValueError(f"crop {size} is larger than the {height}x{width} grid")
    windows = []
    for window in batch:
        if size is not None:
            top = int(torch.randint(height - size + 1, (1,), generator=generator))
            left = int(torch.randint(width - size + 1, (1,), generator=generator))
            window = crop(window, top, left, size)
        if flips:
            window = dihedral(window, int(torch.randint(SYMMETRIES, (1,), generator=generator)))
        windows.append(window)
    return torch.stack(windows).contiguous()
