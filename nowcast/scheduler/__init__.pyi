"""What other stages may use of `nowcast.scheduler` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .daemon import run_daemon as run_daemon
from .plan import ScheduleOptions as ScheduleOptions
from .view import scheduler_lines as scheduler_lines
from .view import scheduler_table as scheduler_table
