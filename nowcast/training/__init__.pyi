"""What other stages may use of `nowcast.training` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .card import TrainingCard as TrainingCard
from .distributed import DistContext as DistContext
from .distributed import init_distributed as init_distributed
from .distributed import shutdown_distributed as shutdown_distributed
from .engine import BatchSource as BatchSource
from .engine import FitResult as FitResult
from .engine import Trainer as Trainer
from .engine import Validator as Validator
from .loss import sequence_loss as sequence_loss
from .run import TrainRequest as TrainRequest
from .run import TrainResult as TrainResult
from .run import run_train as run_train
from .sampling import ScheduledSampler as ScheduledSampler
