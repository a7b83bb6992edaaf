"""Model registry: architecture names to networks, preset names to `models/*.toml` files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nowcast.core import shipped
from nowcast.models.architecture import ArchitectureConfig, architecture, register_architecture
from nowcast.models.cells import ConvLSTMCell, MoDeRNNCell
from nowcast.models.network import NowcastNet
from nowcast.models.preset import (
    ModelConfig,
    Preset,
    PresetError,
    parse_model_config,
    parse_preset,
    read_preset_file,
)

register_architecture("modernn", ModelConfig, lambda config: NowcastNet(config, MoDeRNNCell))
register_architecture("convlstm", ModelConfig, lambda config: NowcastNet(config, ConvLSTMCell))

PresetLike = str | os.PathLike[str] | dict[str, Any] | ArchitectureConfig | Preset


def presets_dir() -> Path:
    """Folder holding the preset TOML files: $NOWCAST_MODELS_DIR, else the shipped presets."""
    override = os.environ.get("NOWCAST_MODELS_DIR")
    if override:
        return Path(override)
    return shipped("presets")


def pretrained_checkpoint(name: str) -> Path:
    """Folder of a checkpoint shipped with the package (models/pretrained/<name>)."""
    return shipped("presets") / "pretrained" / name


def list_presets() -> list[str]:
    """Names of the available presets, sorted."""
    return sorted(path.stem for path in presets_dir().glob("*.toml"))


def load_preset(preset: PresetLike) -> Preset:
    """Resolve a preset name, a TOML path, a dict, a ModelConfig or a Preset to a Preset."""
    if isinstance(preset, Preset):
        return preset
    if isinstance(preset, ArchitectureConfig):
        return Preset(model=preset)
    if isinstance(preset, dict):
        if "model" in preset or "sequence" in preset or "training" in preset:
            data = {key: value for key, value in preset.items() if key != "name"}
            return parse_preset(data, str(preset.get("name", "custom")))
        return Preset(model=parse_model_config(preset))
    text = os.fspath(preset)
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        return read_preset_file(path)
    candidate = presets_dir() / f"{text}.toml"
    if not candidate.is_file():
        valid = ", ".join(list_presets()) or "none"
        raise PresetError(f"unknown model preset {text!r}; valid presets: {valid}")
    return read_preset_file(candidate)


def build_from_config(config: ArchitectureConfig) -> nn.Module:
    """Build the registered architecture's network for a validated config."""
    return architecture(config.arch).build(config)


def parameter_count(config: ArchitectureConfig) -> int:
    """How many parameters a config's network has, counted on the meta device (no memory)."""
    with torch.device("meta"):
        network = build_from_config(config)
    return sum(parameter.numel() for parameter in network.parameters())


def build_model(preset_or_config: PresetLike) -> nn.Module:
    """Build a freshly initialised model from a preset name, TOML path, dict or config object."""
    return build_from_config(load_preset(preset_or_config).model)
