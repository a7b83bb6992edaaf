"""What other stages may use of `nowcast.forecasting` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .ensemble import MODEL_ENSEMBLE as MODEL_ENSEMBLE
from .ensemble import STEPS as STEPS
from .ensemble import EnsembleSpec as EnsembleSpec
from .ensemble import check_members as check_members
from .ensemble import check_memory as check_memory
from .ensemble import ensemble_mean as ensemble_mean
from .ensemble import model_members as model_members
from .ensemble import pixel_km as pixel_km
from .ensemble import steps_members as steps_members
from .exceedance import Exceedance as Exceedance
from .exceedance import exceedance_for as exceedance_for
from .exceedance import judged_values as judged_values
from .predict import Forecaster as Forecaster
from .predict import baseline_forecaster as baseline_forecaster
from .predict import forecast as forecast
from .run import ForecastRequest as ForecastRequest
from .run import ForecastResult as ForecastResult
from .run import archive_group as archive_group
from .run import choose_forecaster as choose_forecaster
from .run import run_forecast as run_forecast
from .run import steps_in as steps_in
