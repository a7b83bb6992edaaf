"""What other stages may use of `nowcast.verify` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .backtest import run_backtest as run_backtest
from .crossval import CROSSVAL_TABLE_FILE as CROSSVAL_TABLE_FILE
from .crossval import run_crossval as run_crossval
from .headlines import ensemble_headline as ensemble_headline
from .headlines import headline as headline
from .probabilistic import PROBABILISTIC_FILE as PROBABILISTIC_FILE
from .probabilistic import read_curves as read_curves
from .probability_plots import save_plot as save_plot
from .report import plot_skill as plot_skill
from .report import score_frame as score_frame
from .report import skill_by_lead as skill_by_lead
from .report import write_report as write_report
from .runner import TABLE_FILE as TABLE_FILE
from .runner import VerifyReport as VerifyReport
from .runner import run_verify as run_verify
from .table import ScoreTable as ScoreTable
