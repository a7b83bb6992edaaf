"""Guidance: a physical nowcast as a second input for each forecast step.

A guided network reads, beside each frame, the frame it is about to forecast as a pysteps
nowcast gives it, and forecasts a correction to that guess: it learns growth, decay and what
the nowcast gets wrong instead of motion itself. The guess is Lagrangian extrapolation
(Lucas-Kanade motion, semi-Lagrangian advection of the last input frame), or S-PROG (the same
motion, with each scale of the field decaying as its predictability is lost). During the input
frames the guess is persistence.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nowcast.models.baselines import get_baseline
from nowcast.models.motion import MotionSpace

# The model scale of a rain model is log rain rate from 0.1 mm/h (dBR up to an affine map, no
# rain at the threshold): motion is estimated on it as it is.
MODEL_SCALE = MotionSpace()
GUIDES = ("extrapolation", "sprog")


@torch.no_grad()
def nowcast_guess(history: Tensor, steps: int, method: str = "extrapolation") -> Tensor:
    """(B, T_in, C, H, W) model-scale history -> (B, steps, C, H, W) frames as `method`
    forecasts them, per sample and channel on the CPU, moved back to the history's device."""
    guide = get_baseline(method)
    frames = history.detach().float().cpu().numpy()
    guessed = np.empty((frames.shape[0], steps, *frames.shape[2:]), dtype=np.float32)
    for sample in range(frames.shape[0]):
        for channel in range(frames.shape[2]):
            guessed[sample, :, channel] = guide(frames[sample, :, channel], steps, MODEL_SCALE)
    return torch.from_numpy(guessed).to(device=history.device, dtype=history.dtype)


def step_guesses(frames: Tensor, input_frames: int, method: str = "extrapolation") -> Tensor:
    """The guess for each frame 1..T-1 of (B, T, C, H, W): the previous true frame while
    inputs are read, then `method`'s nowcast from the inputs for the forecast frames."""
    total = frames.shape[1]
    ahead = nowcast_guess(frames[:, :input_frames], total - input_frames, method)
    return torch.cat([frames[:, : input_frames - 1], ahead], dim=1)
