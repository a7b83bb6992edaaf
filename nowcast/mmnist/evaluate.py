"""Score forecasters on the fixed test set: the model and the floors every report carries."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nowcast.core import LeadTimeScores
from nowcast.mmnist.data import TestSet, to_unit

# A forecaster maps history (B, T_in, H, W) in [0, 1] and a step count to (B, steps, H, W).
PredictFn = Callable[[np.ndarray, int], np.ndarray]


def copy_last_frame(history: np.ndarray, steps: int) -> np.ndarray:
    """Persistence floor: the last input frame repeated for every lead frame."""
    return np.repeat(history[:, -1:], steps, axis=1)


def all_zero(history: np.ndarray, steps: int) -> np.ndarray:
    """Blank floor: an empty canvas, what a model that learned nothing but the mean predicts."""
    return np.zeros((history.shape[0], steps, *history.shape[2:]), dtype=history.dtype)


def model_predictor(model: nn.Module, device: torch.device) -> PredictFn:
    """Wrap `model.predict` (B, T, C, H, W tensors) as an fp32 numpy forecaster, no gradients."""

    def forecast(history: np.ndarray, steps: int) -> np.ndarray:
        frames = torch.from_numpy(history).unsqueeze(2).to(device)
        with torch.inference_mode():
            predicted = model.predict(frames, steps)
        return predicted.squeeze(2).float().cpu().numpy()

    return forecast


def evaluate(
    test_set: TestSet,
    forecasters: dict[str, PredictFn],
    input_frames: int,
    batch_size: int,
    advance: Callable[[int], None] = lambda _: None,
) -> dict[str, LeadTimeScores]:
    """Per-lead-frame scores of every forecaster on every test sequence."""
    scores = {name: LeadTimeScores() for name in forecasters}
    for batch in test_set.batches(batch_size):
        frames = to_unit(batch)
        history, truth = frames[:, :input_frames], frames[:, input_frames:]
        for name, forecast in forecasters.items():
            scores[name].update(forecast(history, truth.shape[1]), truth)
        advance(len(batch))
    return scores
