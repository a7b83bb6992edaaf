"""Checkpoints: safetensors weights, a JSON sidecar, and a weights-only training-state file.

A checkpoint is a folder holding `model.safetensors`, `model.json` and, for resumable ones,
`training_state.pt`. Each file is written to a temporary name and moved into place, and the
folder is staged and swapped in whole, so a crash leaves either the old checkpoint or the new
one (a crash between the two renames leaves `<name>.old`, which the loader falls back to).
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
)
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from nowcast.core import (
    BACKUP_SUFFIX,
    MAX_PROBLEM_CHARS,
    ConfigError,
    DataMissingError,
    __version__,
    atomic_path,
    describe_validation_error,
    one_line,
)
from nowcast.models.architecture import ArchitectureConfig
from nowcast.models.preset import SequenceConfig, parse_model_config
from nowcast.models.registry import build_from_config, parameter_count
from nowcast.settings import DEFAULT_MAX_PARAMETERS, Settings

WEIGHTS_FILE = "model.safetensors"
SIDECAR_FILE = "model.json"
STATE_FILE = "training_state.pt"


MAX_SIDECAR_BYTES = 1 << 20


class CorruptCheckpointError(DataMissingError):
    """A checkpoint's sidecar is there but cannot be read."""


class CheckpointMismatchError(ConfigError, ValueError):
    """A checkpoint's configuration or tensors do not fit the model it is loaded into."""


class CheckpointMeta(BaseModel):
    """The JSON sidecar: everything needed to rebuild, trust and use the weights."""

    model_config = ConfigDict(extra="ignore")

    model: SerializeAsAny[ArchitectureConfig]
    sequence: SequenceConfig | None = None
    preset: str | None = None
    normalisation: dict[str, Any] = Field(default_factory=dict)
    iteration: int = 0
    metrics: dict[str, float] = Field(default_factory=dict)
    code_version: str = __version__
    extra: dict[str, Any] = Field(default_factory=dict)
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    @field_validator("model", mode="before")
    @classmethod
    def _model_by_arch(cls, value: object) -> object:
        """Read the stored `model` with the config class its `arch` registered."""
        return parse_model_config(value, "checkpoint model") if isinstance(value, dict) else value


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    meta: CheckpointMeta,
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Atomically write weights, sidecar and (optionally) training state to `directory`."""
    target = Path(directory)
    with atomic_path(target) as staging:
        staging.mkdir()
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(staging / WEIGHTS_FILE))
        if training_state is not None:
            torch.save(training_state, staging / STATE_FILE)
        text = json.dumps(meta.model_dump(mode="json"), indent=2) + "\n"
        (staging / SIDECAR_FILE).write_text(text)
    return target


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder for a folder, one of its files, or a run folder (best, then last)."""
    path = Path(path)
    if path.is_file():
        path = path.parent
    candidates = [path, path / "best", path / "last"]
    candidates += [c.with_name(c.name + BACKUP_SUFFIX) for c in candidates]
    for candidate in candidates:
        if (candidate / SIDECAR_FILE).is_file() and (candidate / WEIGHTS_FILE).is_file():
            return candidate
    raise DataMissingError(f"no checkpoint ({WEIGHTS_FILE} + {SIDECAR_FILE}) found at {path}")


def read_meta(path: str | Path) -> CheckpointMeta:
    """The sidecar of the checkpoint at `path`; one bounded line when it is corrupt (a sidecar
    larger than MAX_SIDECAR_BYTES is refused before it is read)."""
    folder = resolve_checkpoint(path)
    sidecar = folder / SIDECAR_FILE
    try:
        size = sidecar.stat().st_size
        if size <= MAX_SIDECAR_BYTES:
            return CheckpointMeta.model_validate_json(sidecar.read_text(encoding="utf-8"))
        problem = f"{sidecar}: {size:,} bytes, more than a sidecar's {MAX_SIDECAR_BYTES:,}"
    except ValidationError as exc:
        problem = describe_validation_error(str(sidecar), exc)
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"{sidecar}: {type(exc).__name__}"
    raise CorruptCheckpointError(
        f"corrupt checkpoint sidecar: {problem[: 2 * MAX_PROBLEM_CHARS]}; copy the checkpoint"
        " folder again or train a new one"
    )


def _config_differences(expected: ArchitectureConfig, found: ArchitectureConfig) -> list[str]:
    """'field: model X, checkpoint Y' for every differing field."""
    mine, theirs = expected.model_dump(), found.model_dump()
    return [
        f"{k}: model {mine.get(k)!r}, checkpoint {theirs.get(k)!r}"
        for k in sorted(mine.keys() | theirs.keys())
        if mine.get(k) != theirs.get(k)
    ]


def load_weights(model: nn.Module, path: str | Path) -> CheckpointMeta:
    """Load a checkpoint's weights into `model`; a different model config is an error."""
    folder = resolve_checkpoint(path)
    meta = read_meta(folder)
    config = getattr(model, "config", None)
    if isinstance(config, ArchitectureConfig) and config != meta.model:
        differences = "; ".join(_config_differences(config, meta.model))
        raise CheckpointMismatchError(
            f"checkpoint {folder} was trained for another model config ({differences})"
        )
    device = next(model.parameters()).device
    try:
        tensors = load_file(str(folder / WEIGHTS_FILE), device=str(device))
    except (SafetensorError, OSError) as error:
        raise CorruptCheckpointError(
            f"corrupt checkpoint weights: {folder / WEIGHTS_FILE}: {one_line(str(error), 200)};"
            " copy the checkpoint folder again or train a new one"
        ) from None
    try:
        model.load_state_dict(tensors)
    except RuntimeError as error:
        raise CheckpointMismatchError(
            f"checkpoint {folder} does not fit the model: {error}"
        ) from None
    return meta


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    max_parameters: int = DEFAULT_MAX_PARAMETERS,
) -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the model a checkpoint describes, load its weights, and return it in eval mode.

    The size the sidecar describes is counted before anything is allocated.
    """
    meta = read_meta(path)
    count = parameter_count(meta.model)
    if count > max_parameters:
        raise CheckpointMismatchError(
            f"checkpoint {resolve_checkpoint(path)} describes a model of {count:,} parameters,"
            f" more than max_model_parameters = {max_parameters:,}; check its {SIDECAR_FILE}"
        )
    model = build_from_config(meta.model).to(device)
    load_weights(model, path)
    return model.eval(), meta


def load_training_state(path: str | Path) -> dict[str, Any]:
    """The optimiser, scheduler, sampler and RNG state saved beside a resumable checkpoint."""
    folder = resolve_checkpoint(path)
    state_path = folder / STATE_FILE
    if not state_path.is_file():
        raise DataMissingError(f"checkpoint {folder} has no {STATE_FILE} to resume from")
    try:
        return torch.load(state_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError):
        raise DataMissingError(
            f"checkpoint {folder}: {STATE_FILE} holds more than plain tensors and is not loaded;"
            " resume from a checkpoint saved by nowcast, or train afresh"
        ) from None


def checkpoint_folder(settings: Settings, pipeline: str) -> Path:
    """Where `nowcast train` puts a pipeline's model by default, and forecast looks for it."""
    return settings.output.checkpoints / pipeline
