"""Training objective on predicted frames: a sum of mean L1, mean L2 and SSIM terms."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nowcast.training.ssim import ssim

LOSS_TERMS = {
    "l1": F.l1_loss,
    "l2": F.mse_loss,
    "ssim": lambda prediction, target: 1.0 - ssim(prediction, target),
}


def sequence_loss(
    prediction: Tensor, target: Tensor, kind: str = "l1+l2", valid: Tensor | None = None
) -> Tensor:
    """The sum of the terms named in `kind` (e.g. "l1+l2+ssim"), computed in fp32.

    SSIM enters as 1 - SSIM, so every term is zero for a perfect forecast. With `valid`
    (a boolean mask like `target`), pixels without data count in no term: L1 and L2 are
    means over valid pixels, and SSIM compares fields with both set to zero there.
    """
    prediction, target = prediction.float(), target.float()
    terms = kind.split("+")
    unknown = [term for term in terms if term not in LOSS_TERMS]
    if unknown or len(set(terms)) != len(terms):
        raise ValueError(f"unknown loss {kind!r}; valid: l1, l2, l1+l2, l1+l2+ssim")
    if valid is not None:
        return _masked_loss(prediction, target, terms, valid)
    total = LOSS_TERMS[terms[0]](prediction, target)
    for term in terms[1:]:
        total = total + LOSS_TERMS[term](prediction, target)
    return total


def _masked_loss(prediction: Tensor, target: Tensor, terms: list[str], valid: Tensor) -> Tensor:
    """The loss terms over valid pixels only (no-data never trains the model toward a value)."""
    weight = valid.float()
    count = weight.sum().clamp(min=1.0)
    prediction = prediction * weight
    target = torch.nan_to_num(target) * weight
    masked = {
        "l1": lambda: (prediction - target).abs().sum() / count,
        "l2": lambda: ((prediction - target) ** 2).sum() / count,
        "ssim": lambda: 1.0 - ssim(prediction, target),
    }
    total = masked[terms[0]]()
    for term in terms[1:]:
        total = total + masked[term]()
    return total
