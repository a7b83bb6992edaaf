"""Training objective on predicted frames: a sum of mean L1, mean L2 and SSIM terms."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from nowcast.training.ssim import ssim

LOSS_TERMS = {
    "l1": F.l1_loss,
    "l2": F.mse_loss,
    "ssim": lambda prediction, target: 1.0 - ssim(prediction, target),
}


def sequence_loss(prediction: Tensor, target: Tensor, kind: str = "l1+l2") -> Tensor:
    """The sum of the terms named in `kind` (e.g. "l1+l2+ssim"), computed in fp32.

    SSIM enters as 1 - SSIM, so every term is zero for a perfect forecast.
    """
    prediction, target = prediction.float(), target.float()
    terms = kind.split("+")
    unknown = [term for term in terms if term not in LOSS_TERMS]
    if unknown or len(set(terms)) != len(terms):
        raise ValueError(f"unknown loss {kind!r}; valid: l1, l2, l1+l2, l1+l2+ssim")
    total = LOSS_TERMS[terms[0]](prediction, target)
    for term in terms[1:]:
        total = total + LOSS_TERMS[term](prediction, target)
    return total
