"""Training objective on predicted frames: a sum of L1, L2, balanced MSE/MAE and SSIM terms.

Balanced MSE/MAE (Shi et al. 2017, HKO-7) weight each pixel by its observed rain intensity, so
the rare heavy rain counts as much as the common drizzle; the weights come from the caller.
"""

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
BALANCED_TERMS = ("balanced-mse", "balanced-mae")
VALID_KINDS = "l1, l2, l1+l2, l1+l2+ssim, balanced-mse, balanced-mae, balanced-mse+balanced-mae"

# HKO-7 balanced weights: rain rate (mm/h) at or above each threshold -> weight.
BALANCED_THRESHOLDS = (0.5, 2.0, 5.0, 10.0, 30.0)
BALANCED_WEIGHTS = (1.0, 2.0, 5.0, 10.0, 30.0)


def balanced_weights(rate: Tensor) -> Tensor:
    """HKO-7 weights of rain rates (mm/h): 1 below 2 mm/h up to 30 from 30 mm/h; 0 for NaN."""
    weight = torch.ones_like(rate)
    for threshold, value in zip(BALANCED_THRESHOLDS[1:], BALANCED_WEIGHTS[1:], strict=True):
        weight = torch.where(rate >= threshold, torch.full_like(rate, value), weight)
    return torch.where(torch.isnan(rate), torch.zeros_like(rate), weight)


def sequence_loss(
    prediction: Tensor,
    target: Tensor,
    kind: str = "l1+l2",
    valid: Tensor | None = None,
    weights: Tensor | None = None,
) -> Tensor:
    """The sum of the terms named in `kind` (e.g. "l1+l2+ssim"), computed in fp32.

    SSIM enters as 1 - SSIM, so every term is zero for a perfect forecast. With `valid`
    (a boolean mask like `target`), pixels without data count in no term: L1 and L2 are
    means over valid pixels, and SSIM compares fields with both set to zero there. Balanced
    terms need `weights` (like `target`, e.g. `balanced_weights` of the observed rain rate).
    """
    prediction, target = prediction.float(), target.float()
    terms = kind.split("+")
    unknown = [term for term in terms if term not in LOSS_TERMS and term not in BALANCED_TERMS]
    if unknown or len(set(terms)) != len(terms):
        raise ValueError(f"unknown loss {kind!r}; valid: {VALID_KINDS}")
    balanced = [term in BALANCED_TERMS for term in terms]
    if any(balanced):
        if not all(balanced) or weights is None:
            raise ValueError(f"loss {kind!r}: balanced terms need weights and mix with no other")
        return _balanced_loss(prediction, target, terms, valid, weights.float())
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


def _balanced_loss(
    prediction: Tensor, target: Tensor, terms: list[str], valid: Tensor | None, weights: Tensor
) -> Tensor:
    """Weighted mean squared and absolute errors; pixels without data get weight zero."""
    if valid is not None:
        weights = weights * valid.float()
    counted = weights > 0
    error = torch.where(counted, prediction - torch.nan_to_num(target), torch.zeros_like(weights))
    count = counted.float().sum().clamp(min=1.0)
    parts = {
        "balanced-mse": lambda: (weights * error**2).sum() / count,
        "balanced-mae": lambda: (weights * error.abs()).sum() / count,
    }
    total = parts[terms[0]]()
    for term in terms[1:]:
        total = total + parts[term]()
    return total
