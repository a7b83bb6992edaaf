"""Normalisation layers over (C, H, W): exact LayerNorm or grid-agnostic GroupNorm(1, C)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

NormKind = Literal["layer", "group"]


def make_norm(kind: NormKind, channels: int, grid: tuple[int, int]) -> nn.Module:
    """LayerNorm over (C, H, W) tied to one grid, or GroupNorm(1, C) that fits any grid."""
    if kind == "layer":
        return nn.LayerNorm([channels, *grid])
    return nn.GroupNorm(1, channels)


def broadcast_shift(shift: Tensor, norm: nn.Module) -> Tensor:
    """A norm-shaped shift made to broadcast over (B, C, H, W): (C, H, W) or (C, 1, 1)."""
    return shift if isinstance(norm, nn.LayerNorm) else shift[:, None, None]
