"""Model library: MoDeRNN and ConvLSTM forecasters behind one registry of TOML presets."""

from nowcast.models.architecture import (
    ARCHITECTURES,
    ArchitectureConfig,
    ForecastNetwork,
    PresetError,
    register_architecture,
)
from nowcast.models.cells import CellState, ConvLSTMCell, DetailContextBlock, MoDeRNNCell
from nowcast.models.network import GridMismatchError, NowcastNet
from nowcast.models.preset import ModelConfig, Preset, SequenceConfig, TrainingRecipe
from nowcast.models.registry import (
    build_from_config,
    build_model,
    list_presets,
    load_preset,
    presets_dir,
)

__all__ = [
    "ARCHITECTURES",
    "ArchitectureConfig",
    "CellState",
    "ConvLSTMCell",
    "DetailContextBlock",
    "ForecastNetwork",
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
    "register_architecture",
]
