"""Model presets: validated architecture, sequence and training-recipe settings from TOML."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SerializeAsAny, ValidationError, field_validator, model_validator

from nowcast.core import Strict, describe_validation_error
from nowcast.models.architecture import ArchitectureConfig, PresetError, architecture

DEFAULT_ARCH = "modernn"


class ModelConfig(ArchitectureConfig):
    """Architecture of a patched recurrent nowcasting network (MoDeRNN or ConvLSTM)."""

    arch: str = DEFAULT_ARCH
    hidden: int = Field(64, ge=1)
    num_layers: int = Field(4, ge=1)
    filter_size: int = Field(3, ge=1)
    patch: int = Field(4, ge=1)
    dcb_iterations: int = Field(5, ge=0)
    norm: Literal["layer", "group"] = "layer"
    guidance: Literal["none", "extrapolation", "sprog"] = "none"

    @model_validator(mode="after")
    def _check_geometry(self) -> ModelConfig:
        """Reject even filters and grids the patch size does not divide."""
        if self.filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd, got {self.filter_size}")
        if self.height % self.patch or self.width % self.patch:
            raise ValueError(
                f"grid {self.height}x{self.width} is not divisible by patch {self.patch}"
            )
        return self

    @property
    def patched_channels(self) -> int:
        """Channels of a frame after space-to-depth patching."""
        return self.channels * self.patch * self.patch

    @property
    def patched_grid(self) -> tuple[int, int]:
        """(height, width) of the patched grid the recurrent cells run on."""
        return self.height // self.patch, self.width // self.patch


MAX_SEQUENCE_FRAMES = 1000  # far beyond any nowcast; a larger count is a damaged file


class SequenceConfig(Strict):
    """How many frames the model sees and how many it forecasts."""

    input_frames: int = Field(10, ge=1, le=MAX_SEQUENCE_FRAMES)
    output_frames: int = Field(10, ge=1, le=MAX_SEQUENCE_FRAMES)

    @property
    def total_frames(self) -> int:
        """Frames in one training sequence (inputs followed by targets)."""
        return self.input_frames + self.output_frames


LossKind = Literal[
    "l1+l2",
    "l1",
    "l2",
    "l1+l2+ssim",
    "balanced-mse",
    "balanced-mae",
    "balanced-mse+balanced-mae",
]


class TrainingRecipe(Strict):
    """Optimisation settings: AdamW with a cosine schedule and scheduled sampling."""

    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(8, ge=1)
    iterations: int = Field(80_000, ge=1)
    reverse_augment: bool = False
    sampling_stop: float = Field(0.5, ge=0, le=1)
    loss: LossKind = "l1+l2"
    # A second objective for the last `final_fraction` of iterations (e.g. adding 1 - SSIM).
    final_loss: LossKind | None = None
    final_fraction: float = Field(0.0, ge=0, le=1)
    # Rescale gradients to at most this global L2 norm before each step (None: no clipping).
    clip_grad: float | None = Field(None, gt=0)
    # Random crops of the stored grid to this size (None: the whole grid), and the 8 flips.
    crop: int | None = Field(None, ge=1)
    flips: bool = False
    # Multiply each window's rain rates by a factor drawn log-uniformly in [low, high] (rain only).
    gain: tuple[float, float] | None = None

    @field_validator("gain")
    @classmethod
    def _check_gain(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        """A gain range is two positive factors, low then high."""
        if value is not None and not 0 < value[0] <= value[1]:
            raise ValueError(f"gain must be [low, high] with 0 < low <= high, got {list(value)}")
        return value

    def final_loss_start(self, total: int) -> int | None:
        """0-based iteration of `total` from which `final_loss` applies; None when it never does."""
        if self.final_loss is None:
            return None
        start = math.ceil(total * (1.0 - self.final_fraction))
        return start if start < total else None

    def loss_at(self, iteration: int, total: int) -> str:
        """The objective of 0-based `iteration` out of `total`: `final_loss` in the last part."""
        start = self.final_loss_start(total)
        if start is not None and iteration >= start:
            return self.final_loss
        return self.loss


class Preset(Strict):
    """One `models/*.toml` file: a named model with its sequence shape and training recipe."""

    name: str = "custom"
    description: str = ""
    model: SerializeAsAny[ArchitectureConfig] = ModelConfig()
    sequence: SequenceConfig = SequenceConfig()
    training: TrainingRecipe = TrainingRecipe()

    @field_validator("model", mode="before")
    @classmethod
    def _model_by_arch(cls, value: object) -> object:
        """Validate a `[model]` table with the config class its `arch` registered."""
        return parse_model_config(value) if isinstance(value, dict) else value


def parse_model_config(
    data: dict[str, Any], source: str = "model config", within: str = ""
) -> ArchitectureConfig:
    """Validate a `[model]` dict with its architecture's config class (`arch`, default modernn)."""
    config_class = architecture(str(data.get("arch", DEFAULT_ARCH))).config
    try:
        return config_class.model_validate(data)
    except ValidationError as error:
        raise PresetError(describe_validation_error(source, error, within)) from None


def parse_preset(data: dict[str, Any], name: str, source: str | None = None) -> Preset:
    """Validate a preset dict ([model], [sequence], [training] tables) under the given name."""
    if isinstance(data.get("model"), dict):
        data = {**data, "model": parse_model_config(data["model"], source or name, "model")}
    try:
        return Preset.model_validate({"name": name, **data})
    except ValidationError as error:
        raise PresetError(describe_validation_error(source or name, error)) from None


def read_preset_file(path: Path) -> Preset:
    """Load and validate one preset TOML file; its name is the file stem."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise PresetError(f"preset file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise PresetError(f"{path}: invalid TOML: {error}") from None
    return parse_preset(data, path.stem, str(path))
