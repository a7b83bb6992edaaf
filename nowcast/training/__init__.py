"""Training engine: scheduled-sampling rollouts, DDP, validation while fitting."""

from nowcast.training.distributed import DistContext, init_distributed, shutdown_distributed
from nowcast.training.engine import BatchSource, FitResult, Trainer, Validator
from nowcast.training.loss import sequence_loss
from nowcast.training.sampling import ScheduledSampler

__all__ = [
    "BatchSource",
    "DistContext",
    "FitResult",
    "ScheduledSampler",
    "Trainer",
    "Validator",
    "init_distributed",
    "sequence_loss",
    "shutdown_distributed",
]
