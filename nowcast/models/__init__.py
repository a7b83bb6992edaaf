"""Model library: MoDeRNN and ConvLSTM forecasters behind one registry of TOML presets."""

from nowcast.models.cells import CellState, ConvLSTMCell, DetailContextBlock, MoDeRNNCell
from nowcast.models.network import GridMismatchError, NowcastNet
from nowcast.models.preset import ModelConfig, Preset, PresetError, SequenceConfig, TrainingRecipe
from nowcast.models.registry import (
    ARCHITECTURES,
    build_from_config,
    build_model,
    list_presets,
    load_preset,
    presets_dir,
)

__all__ = [
    "ARCHITECTURES",
    "CellState",
    "ConvLSTMCell",
    "DetailContextBlock",
    "GridMismatchError",
    "ModelConfig",
    "MoDeRNNCell",
    "NowcastNet",
    "Preset",
    "PresetError",
    "SequenceConfig",
    "TrainingRecipe",
    "build_from_config",
    "build_model",
    "list_presets",
    "load_preset",
    "presets_dir",
]
