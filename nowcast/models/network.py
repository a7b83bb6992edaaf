"""Patched recurrent forecaster: space-to-depth, 1x1 embedding, stacked cells, 1x1 head.

With `guidance = "extrapolation"` (or `"sprog"`) each step also reads pysteps' nowcast of the
frame it forecasts, and the head predicts a correction to that guess (zero at initialisation,
so an untrained guided model forecasts exactly the guidance).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nowcast.core import ConfigError
from nowcast.models.cells import CellState
from nowcast.models.guidance import step_guesses
from nowcast.models.preset import ModelConfig

CellFactory = Callable[[ModelConfig], nn.Module]


class GridMismatchError(ConfigError, ValueError):
    """Frames do not fit the grid, channels or patch size the model was built for."""


class NowcastNet(nn.Module):
    """Sequence-to-sequence forecaster over (batch, time, channel, height, width) frames."""

    def __init__(self, config: ModelConfig, cell: CellFactory):
        super().__init__()
        self.config = config
        self.guided = config.guidance != "none"
        inputs = config.patched_channels * (2 if self.guided else 1)
        self.embed = nn.Conv2d(inputs, config.hidden, 1)
        self.cells = nn.ModuleList(cell(config) for _ in range(config.num_layers))
        self.head = nn.Conv2d(config.hidden, config.patched_channels, 1)
        if self.guided:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def check_frames(self, frames: Tensor) -> None:
        """Raise GridMismatchError unless frames are (B, T, C, H, W) this model can run on."""
        cfg = self.config
        if frames.ndim != 5:
            raise GridMismatchError(
                f"expected frames shaped (batch, time, channel, height, width), "
                f"got {tuple(frames.shape)}"
            )
        channels, height, width = frames.shape[2:]
        if channels != cfg.channels:
            raise GridMismatchError(f"expected {cfg.channels} channel(s), got {channels}")
        if cfg.norm == "layer" and (height, width) != (cfg.height, cfg.width):
            raise GridMismatchError(
                f"layer-norm model expects a {cfg.height}x{cfg.width} grid, "
                f"got {height}x{width}; use norm='group' for other grid sizes"
            )
        if height % cfg.patch or width % cfg.patch:
            raise GridMismatchError(
                f"grid {height}x{width} is not divisible by patch size {cfg.patch}"
            )

    def step(
        self, frame: Tensor, states: list[CellState | None], guess: Tensor | None = None
    ) -> Tensor:
        """Feed one frame (B, C, H, W) through every layer, updating `states`; predict the next
        (for a guided model: `guess`, the extrapolated next frame, plus the predicted change)."""
        read = frame if guess is None else torch.cat([frame, guess], dim=1)
        x = self.embed(F.pixel_unshuffle(read, self.config.patch))
        for layer, cell in enumerate(self.cells):
            states[layer] = cell(x, states[layer])
            x = states[layer].h
        change = F.pixel_shuffle(self.head(x), self.config.patch)
        return change if guess is None else guess + change

    def forward(
        self, frames: Tensor, input_frames: int, teacher_mask: Tensor | None = None
    ) -> Tensor:
        """Predict frames 1..T-1 from (B, T, C, H, W); output t forecasts frame t + 1.

        The first `input_frames` steps read the true frames. Later steps read
        `mask * true + (1 - mask) * previous_prediction` with `teacher_mask` (B, T - input_frames
        - 1) in [0, 1], or the previous prediction alone when the mask is None.
        """
        self.check_frames(frames)
        batch, total = frames.shape[:2]
        if not 1 <= input_frames < total:
            raise ValueError(f"input_frames must be in [1, {total - 1}], got {input_frames}")
        if teacher_mask is not None and tuple(teacher_mask.shape[:2]) != (
            batch,
            total - input_frames - 1,
        ):
            raise ValueError(
                f"teacher_mask must be shaped ({batch}, {total - input_frames - 1}), "
                f"got {tuple(teacher_mask.shape)}"
            )
        states: list[CellState | None] = [None] * len(self.cells)
        outputs: list[Tensor] = []
        guesses = step_guesses(frames, input_frames, self.config.guidance) if self.guided else None
        for t in range(total - 1):
            if t < input_frames:
                frame = frames[:, t]
            elif teacher_mask is None:
                frame = outputs[-1]
            else:
                mask = teacher_mask[:, t - input_frames].to(frames.dtype)
                mask = mask.reshape(batch, *mask.shape[1:], *[1] * (4 - mask.ndim))
                frame = mask * frames[:, t] + (1 - mask) * outputs[-1]
            outputs.append(self.step(frame, states, None if guesses is None else guesses[:, t]))
        return torch.stack(outputs, dim=1)

    @torch.no_grad()
    def predict(self, history: Tensor, steps: int) -> Tensor:
        """Forecast `steps` frames (B, steps, C, H, W) after `history` (B, T_in, C, H, W)."""
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        future = history.new_zeros(history.shape[0], steps, *history.shape[2:])
        outputs = self(torch.cat([history, future], dim=1), history.shape[1])
        return outputs[:, history.shape[1] - 1 :]

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def summary(self) -> str:
        """One line naming the architecture, its shape and its parameter count."""
        cfg = self.config
        layers = f"{cfg.num_layers} layer" + ("s" if cfg.num_layers != 1 else "")
        guided = ", extrapolation-guided" if self.guided else ""
        return (
            f"{cfg.arch}{guided}: hidden {cfg.hidden}, {layers}, filter {cfg.filter_size}, "
            f"patch {cfg.patch}, {cfg.norm} norm, {cfg.height}x{cfg.width}x{cfg.channels}: "
            f"{self.parameter_count():,} parameters"
        )

    def extra_repr(self) -> str:
        """Shown by print(model): the summary line."""
        return self.summary()
