"""Which forecasts a daily sheet shows (00/06/12/18 UTC or nearest) and what was observed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import xarray as xr

from nowcast.forecasting.files import (
    ForecastFile,
    lead_times,
    open_forecast,
    read_observation,
    valid_times,
)
from nowcast.products.frames import panel_leads

log = logging.getLogger(__name__)

SYNOPTIC_HOURS = (0, 6, 12, 18)
MAX_OFFSET = timedelta(hours=3)


@dataclass(frozen=True)
class DailyCase:
    """One forecast on the sheet, the lead indices it shows, and the observation at each.

    Each observation keeps its own file's grid: storm-centred grids move with the storm.
    """

    forecast: ForecastFile
    ds: xr.Dataset
    leads: list[int]
    observed: list[xr.Dataset | None]


def synoptic_inits(files: list[ForecastFile], day: date) -> list[ForecastFile]:
    """For 00, 06, 12 and 18 UTC, the init on `day` nearest each (within 3 h), no repeats."""
    same_day = [f for f in files if f.init_time.date() == day]
    chosen: list[ForecastFile] = []
    for hour in SYNOPTIC_HOURS:
        target = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        near = [f for f in same_day if abs(f.init_time - target) <= MAX_OFFSET]
        if near:
            best = min(near, key=lambda f: (abs(f.init_time - target), f.init_time))
            if best not in chosen:
                chosen.append(best)
    return chosen


def observed_at(by_init: dict[datetime, ForecastFile], valid: datetime) -> xr.Dataset | None:
    """The observation at `valid`: the `observation` of the forecast initialised then, if any."""
    later = by_init.get(valid)
    if later is None:
        return None
    try:
        return read_observation(later.path)
    except (OSError, KeyError, ValueError) as exc:
        log.warning("could not read the observation in %s: %s", later.path, exc)
        return None


def daily_cases(files: list[ForecastFile], day: date) -> list[DailyCase]:
    """The day's synoptic forecasts of one pipeline, each beside what was later observed."""
    by_init = {f.init_time: f for f in files}
    cases = []
    for chosen in synoptic_inits(files, day):
        ds = open_forecast(chosen.path)
        leads = panel_leads(lead_times(ds))
        valid = valid_times(ds)
        observed = [observed_at(by_init, valid[i]) for i in leads]
        cases.append(DailyCase(chosen, ds, leads, observed))
    return cases
