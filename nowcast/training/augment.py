"""Augmentation of training windows: random crops, the 8 rotations/flips of a square, and a
random rain-rate gain.

Every frame of a window (inputs and targets alike) gets the same crop, symmetry and gain, so the
target of an augmented window is the augmented target; draws use the trainer's generator so
resumed runs see the same batches. The gain multiplies every rain rate of a window by one
factor: on a log rain-rate scale that is one shift of the rainy pixels (rain pushed below the
scale's floor becomes dry), so a storm seen lighter or heavier moves and grows the same way.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nowcast.core import ConfigError
from nowcast.store import Transform

SYMMETRIES = 8


def dihedral(frames: Tensor, k: int) -> Tensor:
    """Symmetry `k` (0-7) of the last two axes: k % 4 quarter turns, then a flip when k >= 4."""
    turned = torch.rot90(frames, k % 4, dims=(-2, -1))
    return turned.flip(-1) if k >= 4 else turned


def crop(frames: Tensor, top: int, left: int, size: int) -> Tensor:
    """The size x size square of the last two axes starting at (top, left)."""
    return frames[..., top : top + size, left : left + size]


def rain_gain(frames: Tensor, factor: float, scale: Transform) -> Tensor:
    """Frames on a log10 rain-rate `scale` with every rain rate multiplied by `factor`."""
    if scale.kind != "log10":
        raise ConfigError(f"a rain-rate gain needs a log10 rain scale, not {scale.kind!r}")
    shift = math.log10(factor) / math.log10(scale.vmax / scale.vmin)
    return torch.where(frames > 0, (frames + shift).clamp(0.0, 1.0), frames)


Draw = tuple[int, int, int, float]  # top, left, symmetry, rain-rate gain


def augment_draws(
    count: int,
    generator: torch.Generator,
    grid: tuple[int, int],
    size: int | None = None,
    flips: bool = False,
    gain: tuple[float, float] | None = None,
) -> list[Draw]:
    """The crop corner, symmetry and gain (log-uniform in `gain`) of each of `count` windows,
    in the generator's order."""
    height, width = grid
    if size is not None and (size > height or size > width):
        raise ValueError(f"crop {size} is larger than the {height}x{width} grid")
    draws = []
    for _ in range(count):
        top = left = symmetry = 0
        factor = 1.0
        if size is not None:
            top = int(torch.randint(height - size + 1, (1,), generator=generator))
            left = int(torch.randint(width - size + 1, (1,), generator=generator))
        if flips:
            symmetry = int(torch.randint(SYMMETRIES, (1,), generator=generator))
        if gain is not None:
            low, high = math.log(gain[0]), math.log(gain[1])
            factor = math.exp(low + (high - low) * float(torch.rand((), generator=generator)))
        draws.append((top, left, symmetry, factor))
    return draws


def apply_draws(
    batch: Tensor,
    draws: list[Draw],
    size: int | None,
    flips: bool,
    scale: Transform | None = None,
) -> Tensor:
    """Each (T, C, H, W) window of a batch cropped, turned/flipped and (with the log rain
    `scale`) scaled in rain rate as its draw says."""
    windows = []
    for window, (top, left, symmetry, factor) in zip(batch, draws, strict=True):
        if size is not None:
            window = crop(window, top, left, size)
        if flips:
            window = dihedral(window, symmetry)
        if scale is not None and factor != 1.0:
            window = rain_gain(window, factor, scale)
        windows.append(window)
    return torch.stack(windows).contiguous()


def augment_batch(
    batch: Tensor, generator: torch.Generator, size: int | None = None, flips: bool = False
) -> Tensor:
    """Each (T, C, H, W) window of a batch randomly cropped to `size` and/or turned/flipped."""
    grid = (batch.shape[-2], batch.shape[-1])
    draws = augment_draws(len(batch), generator, grid, size, flips)
    return apply_draws(batch, draws, size, flips)
