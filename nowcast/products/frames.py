"""What a product shows, in order: the last observation, then the forecast at each lead time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import xarray as xr

from nowcast.forecasting.files import (
    init_time,
    iso_minutes,
    lead_times,
    pipeline_name,
    valid_times,
)
from nowcast.products.storm import Storm

MAX_PANELS = 4


@dataclass(frozen=True)
class Frame:
    """One field to draw and its two-line panel title."""

    values: np.ndarray
    title: str


def lead_label(lead: timedelta) -> str:
    """A lead time as `+1 h`, `+30 min` or `+1 h 30 min`."""
    minutes = round(lead.total_seconds() / 60)
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest or not hours else [])
    return "+" + " ".join(parts)


def panel_leads(leads: list[timedelta]) -> list[int]:
    """Indices of the leads to give panels: whole hours (up to 4) when there are many leads."""
    if len(leads) <= MAX_PANELS:
        return list(range(len(leads)))
    hourly = [i for i, lead in enumerate(leads) if lead.total_seconds() % 3600 == 0]
    return (hourly or list(range(len(leads))))[:MAX_PANELS]


def observation_frame(ds: xr.Dataset) -> Frame:
    """The last observed frame, at init time."""
    values = ds["observation"].transpose("y", "x").values
    return Frame(values, f"Observed\n{iso_minutes(init_time(ds))}")


def forecast_frames(ds: xr.Dataset, indices: list[int] | None = None) -> list[Frame]:
    """The forecast at the given lead indices (all when None), titled with lead and valid time."""
    leads, valid = lead_times(ds), valid_times(ds)
    field = ds["forecast"].transpose("lead_time", "y", "x")
    chosen = range(len(leads)) if indices is None else indices
    return [
        Frame(
            field.isel(lead_time=i).values, f"{lead_label(leads[i])}\nvalid {iso_minutes(valid[i])}"
        )
        for i in chosen
    ]


def figure_title(ds: xr.Dataset, storm: Storm | None) -> str:
    """Pipeline, model, method, init time and valid-time range, plus the storm if any."""
    model = ds.attrs.get("model", "unknown model")
    method = ds.attrs.get("method", "model")
    valid = valid_times(ds)
    lines = [
        f"{pipeline_name(ds)}  ·  {model} ({method})  ·  init {iso_minutes(init_time(ds))}",
        f"valid {iso_minutes(valid[0])} to {iso_minutes(valid[-1])} (UTC)",
    ]
    if storm is not None:
        lines.append(f"storm {storm.label} at {storm.position} at init")
    return "\n".join(lines)
