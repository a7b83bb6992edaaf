"""What other stages may use of `nowcast.mmnist` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .budget import BUDGETS as BUDGETS
from .budget import resolve_budget as resolve_budget
from .compare import compare_models as compare_models
from .harness import HarnessOptions as HarnessOptions
from .harness import default_out_dir as default_out_dir
from .harness import run_harness as run_harness
from .report import ARROWS as ARROWS
from .report import LABELS as LABELS
from .report import check_lines as check_lines
from .report import number as number
