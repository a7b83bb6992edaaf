"""The written model contract: what every architecture's config and network provide.

The trainer, checkpoints and forecasts use a model only through `ForecastNetwork`, and find an
architecture only through `register_architecture`, so a new one is one module plus one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from nowcast.core import ConfigError, Registry


class PresetError(ConfigError, ValueError):
    """A preset or model configuration is unknown or invalid."""


class ArchitectureConfig(BaseModel):
    """What every architecture's config holds: its registered name and the frame shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: str
    channels: int = Field(1, ge=1)
    height: int = Field(64, ge=1)
    width: int = Field(64, ge=1)


@runtime_checkable
class ForecastNetwork(Protocol):
    """A network over (batch, time, channel, height, width) frames, as training uses it."""

    config: ArchitectureConfig

    def forward(
        self, frames: Tensor, input_frames: int, teacher_mask: Tensor | None = None
    ) -> Tensor:
        """Predict frames 1..T-1 of `frames`; output t forecasts frame t + 1.

        The first `input_frames` steps read true frames; later ones read
        `mask * true + (1 - mask) * previous prediction` (the previous prediction alone when
        `teacher_mask`, shaped (B, T - input_frames - 1), is None).
        """

    def predict(self, history: Tensor, steps: int) -> Tensor:
        """Forecast `steps` frames (B, steps, C, H, W) after `history` (B, T_in, C, H, W)."""

    def check_frames(self, frames: Tensor) -> None:
        """Raise GridMismatchError unless this model can run on `frames` (B, T, C, H, W)."""

    def summary(self) -> str:
        """One line naming the architecture, its shape and its parameter count."""


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: its config class and the function that builds the network."""

    config: type[ArchitectureConfig]
    build: Callable[[Any], nn.Module]


ARCHITECTURES: Registry[Architecture] = Registry("architecture")


def register_architecture(
    name: str, config: type[ArchitectureConfig], build: Callable[[Any], nn.Module]
) -> None:
    """Make `name` usable as `arch = "<name>"` in presets, checkpoints and `build_model`."""
    ARCHITECTURES.register(name, Architecture(config, build))


def architecture(name: str) -> Architecture:
    """The registered architecture `name`; UnknownNameError listing the valid ones otherwise."""
    return ARCHITECTURES.get(name)
