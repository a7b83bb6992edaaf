"""Training objective on predicted frames: mean L1, mean L2 or their sum."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def sequence_loss(prediction: Tensor, target: Tensor, kind: str = "l1+l2") -> Tensor:
    """Mean absolute and/or squared error over every predicted pixel, computed in fp32."""
    prediction, target = prediction.float(), target.float()
    if kind == "l1":
        return F.l1_loss(prediction, target)
    if kind == "l2":
        return F.mse_loss(prediction, target)
    if kind == "l1+l2":
        return F.l1_loss(prediction, target) + F.mse_loss(prediction, target)
    raise ValueError(f"unknown loss {kind!r}; valid: l1, l2, l1+l2")
