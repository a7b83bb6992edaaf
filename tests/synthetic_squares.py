"""Synthetic bouncing-square sequences for tests and benchmarks: a batch source, and an archive
of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import Tensor

from nowcast.store import Archive, Transform

CADENCE = pd.Timedelta(minutes=10)


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


def write_squares_archive(
    path: Path, frames: int, size: int = 64, group: str = "squares", append_every: int = 1024
) -> Archive:
    """An archive group of `frames` 10-minute bouncing-square frames in K (cold squares).

    For tests and benchmarks of training I/O: each append of `append_every` frames is a new
    square's flight, so a large archive never sits in memory at once.
    """
    archive = Archive(path)
    source = moving_squares(1, append_every, size, square=max(2, size // 8))
    generator = torch.Generator().manual_seed(0)
    transform = Transform(kind="linear", vmin=170, vmax=300, invert=True)
    start = pd.Timestamp("2024-01-01")
    for first in range(0, frames, append_every):
        block = source(first, generator)[0, : frames - first, 0].numpy()
        times = pd.date_range(start + first * CADENCE, periods=len(block), freq=CADENCE)
        series = xr.DataArray(
            (300.0 - 100.0 * block).astype(np.float32),
            dims=("time", "y", "x"),
            coords={
                "time": times,
                "y": ("y", np.arange(size, 0, -1) * 1000.0, {"units": "m"}),
                "x": ("x", np.arange(size) * 1000.0, {"units": "m"}),
            },
            attrs={"units": "K", **transform.to_attrs()},
            name="bt",
        )
        archive.append(group, series, {"cadence_s": CADENCE.total_seconds()})
    return archive
