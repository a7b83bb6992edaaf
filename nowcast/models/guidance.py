"""Extrapolation guidance: pysteps' advected field as a second input for each forecast step.

A guided network reads, beside each frame, the frame it is about to forecast as Lagrangian
extrapolation (Lucas-Kanade motion, semi-Lagrangian advection of the last input frame) would
give it, and forecasts a correction to that guess: it learns growth, decay and what advection
gets wrong instead of advection itself. During the input frames the guess is persistence.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nowcast.models.baselines import extrapolation
from nowcast.models.motion import MotionSpace

# The model scale of a rain model is log rain rate from 0.1 mm/h (dBR up to an affine map, no
# rain at the threshold): motion is estimated on it as it is.
MODEL_SCALE = MotionSpace()


@torch.no_grad()
def extrapolation_guess(history: Tensor, steps: int) -> Tensor:
    """(B, T_in, C, H, W) model-scale history -> (B, steps, C, H, W) extrapolated frames.

    Motion and advection run on the model scale (log rain rate, like pysteps' dBR practice),
    per sample and channel, on the CPU; the result is moved back to the history's device.
    """
    frames = history.detach().float().cpu().numpy()
    guessed = np.empty((frames.shape[0], steps, *frames.shape[2:]), dtype=np.float32)
    for sample in range(frames.shape[0]):
        for channel in range(frames.shape[2]):
            guessed[sample, :, channel] = extrapolation(
                frames[sample, :, channel], steps, MODEL_SCALE
            )
    return torch.from_numpy(guessed).to(device=history.device, dtype=history.dtype)


def step_guesses(frames: Tensor, input_frames: int) -> Tensor:
    """The guess for each frame 1..T-1 of (B, T, C, H, W): the previous true frame while
    inputs are read, then extrapolation from the inputs for the forecast frames."""
    total = frames.shape[1]
    ahead = extrapolation_guess(frames[:, :input_frames], total - input_frames)
    return torch.cat([frames[:, : input_frames - 1], ahead], dim=1)
