"""Differentiable SSIM in the convention of `skimage.metrics.structural_similarity`.

Same window (7x7 uniform), constants (K1 0.01, K2 0.03), sample covariance and border crop as
skimage with `data_range=1.0`, so a training objective and the harness's score agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

WINDOW = 7
C1 = (0.01 * 1.0) ** 2
C2 = (0.03 * 1.0) ** 2
# skimage's use_sample_covariance=True: unbiased variance over the window's pixels.
COVARIANCE_NORM = WINDOW * WINDOW / (WINDOW * WINDOW - 1)


def ssim(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean SSIM over frames of `(..., H, W)` tensors with values on a data range of 1.

    An unpadded 7x7 average pool equals skimage's uniform filter on the pixels it keeps after
    cropping the 3-pixel border, so no padding mode is involved.
    """
    x = prediction.reshape(-1, 1, *prediction.shape[-2:]).float()
    y = target.reshape(-1, 1, *target.shape[-2:]).float()
    moments = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    stats = F.avg_pool2d(moments, WINDOW, stride=1)
    mu_x, mu_y, xx, yy, xy = stats.chunk(5, dim=1)
    var_x = COVARIANCE_NORM * (xx - mu_x * mu_x)
    var_y = COVARIANCE_NORM * (yy - mu_y * mu_y)
    cov = COVARIANCE_NORM * (xy - mu_x * mu_y)
    luminance = (2 * mu_x * mu_y + C1) / (mu_x * mu_x + mu_y * mu_y + C1)
    structure = (2 * cov + C2) / (var_x + var_y + C2)
    return (luminance * structure).mean()
