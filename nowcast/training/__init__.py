"""Training engine: scheduled-sampling rollouts, checkpoints, DDP, devices."""

from nowcast.training.checkpoint import (
    CheckpointMeta,
    CheckpointMismatchError,
    load_model,
    load_training_state,
    load_weights,
    read_meta,
    resolve_checkpoint,
    save_checkpoint,
)
from nowcast.training.device import resolve_device
from nowcast.training.distributed import DistContext, init_distributed, shutdown_distributed
from nowcast.training.engine import BatchSource, FitResult, Trainer, Validator
from nowcast.training.loss import sequence_loss
from nowcast.training.sampling import ScheduledSampler

__all__ = [
    "BatchSource",
    "CheckpointMeta",
    "CheckpointMismatchError",
    "DistContext",
    "FitResult",
    "ScheduledSampler",
    "Trainer",
    "Validator",
    "init_distributed",
    "load_model",
    "load_training_state",
    "load_weights",
    "read_meta",
    "resolve_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "sequence_loss",
    "shutdown_distributed",
]
