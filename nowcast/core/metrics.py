"""Image-quality metrics per predicted frame, in the convention of the MoDeRNN code and OpenSTL.

Convention (say it wherever a number is printed, see `CONVENTION`):
- frames hold values in [0, 1]; predictions are clipped to [0, 1] before scoring;
- MSE and MAE are per-frame *sums* over the pixels (64x64 on Moving MNIST), then averaged over
  frames and sequences;
- PSNR is per frame with a data range of 1 (10 log10(1 / mean squared error)), then averaged;
- SSIM is `skimage.metrics.structural_similarity(data_range=1.0)` per frame, then averaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from skimage.metrics import structural_similarity

METRICS = ("mse", "mae", "ssim", "psnr")

CONVENTION = (
    "MSE and MAE: per-frame sums over pixels of frames in [0, 1], averaged over frames and "
    "sequences; PSNR: per frame with data range 1, averaged; SSIM: "
    "skimage.metrics.structural_similarity(data_range=1.0) per frame, averaged; "
    "predictions clipped to [0, 1] before scoring"
)


def mse_per_frame(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Sum of squared errors over the last two (pixel) axes: one number per frame."""
    diff = prediction.astype(np.float64) - truth.astype(np.float64)
    return np.sum(diff * diff, axis=(-2, -1))


def mae_per_frame(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Sum of absolute errors over the last two (pixel) axes: one number per frame."""
    diff = prediction.astype(np.float64) - truth.astype(np.float64)
    return np.sum(np.abs(diff), axis=(-2, -1))


def psnr_per_frame(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """PSNR in dB per frame with data range 1; identical frames score +inf."""
    pixels = prediction.shape[-1] * prediction.shape[-2]
    mean_squared = mse_per_frame(prediction, truth) / pixels
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(mean_squared)


def ssim_per_frame(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """skimage SSIM (data_range=1.0, default 7x7 window) for each 2-D frame."""
    flat_pred = prediction.reshape(-1, *prediction.shape[-2:]).astype(np.float64)
    flat_true = truth.reshape(-1, *truth.shape[-2:]).astype(np.float64)
    scores = [
        structural_similarity(p, t, data_range=1.0)
        for p, t in zip(flat_pred, flat_true, strict=True)
    ]
    return np.asarray(scores, dtype=np.float64).reshape(prediction.shape[:-2])


def score_frames(prediction: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric for every frame of `(..., H, W)` arrays, after clipping the prediction."""
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} differ in shape")
    clipped = np.clip(prediction, 0.0, 1.0)
    return {
        "mse": mse_per_frame(clipped, truth),
        "mae": mae_per_frame(clipped, truth),
        "ssim": ssim_per_frame(clipped, truth),
        "psnr": psnr_per_frame(clipped, truth),
    }


@dataclass
class LeadTimeScores:
    """Running means of every metric per lead frame over batches of `(B, T, H, W)` forecasts."""

    sums: dict[str, np.ndarray] = field(default_factory=dict)
    count: int = 0

    def update(self, prediction: np.ndarray, truth: np.ndarray) -> None:
        """Add a batch of sequences (batch first, lead frame second) to the running sums."""
        for name, values in score_frames(prediction, truth).items():
            total = values.reshape(values.shape[0], values.shape[1], -1).mean(axis=2).sum(axis=0)
            self.sums[name] = self.sums.get(name, 0.0) + total
        self.count += prediction.shape[0]

    def per_frame(self) -> dict[str, list[float]]:
        """Mean of each metric at each lead frame."""
        if self.count == 0:
            raise ValueError("no sequences scored")
        return {name: (self.sums[name] / self.count).tolist() for name in METRICS}

    def mean(self) -> dict[str, float]:
        """Mean of each metric over lead frames and sequences."""
        return {name: float(np.mean(values)) for name, values in self.per_frame().items()}
