"""The storm a storm-centred (Digital Typhoon) forecast follows: name, position and track."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import xarray as xr

from nowcast.forecasting.files import utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Storm:
    """A storm's identity, its position at init time and its track so far."""

    storm_id: str
    name: str
    lat: float
    lon: float
    track: tuple[tuple[datetime, float, float], ...]

    @property
    def label(self) -> str:
        """`NAME (id)` or whichever of the two is known."""
        if self.name and self.storm_id:
            return f"{self.name} ({self.storm_id})"
        return self.name or self.storm_id

    @property
    def position(self) -> str:
        """Position as `8.6°N 128.0°E`."""
        lat = f"{abs(self.lat):.1f}°{'N' if self.lat >= 0 else 'S'}"
        lon = f"{abs(self.lon):.1f}°{'E' if self.lon >= 0 else 'W'}"
        return f"{lat} {lon}"


def _track(raw: object) -> tuple[tuple[datetime, float, float], ...]:
    """Parse the `track` attribute: JSON list of [iso time, lat, lon]; empty when unreadable."""
    if not raw:
        return ()
    try:
        points = json.loads(str(raw))
        return tuple((utc(datetime.fromisoformat(t)), float(a), float(o)) for t, a, o in points)
    except (ValueError, TypeError) as exc:
        log.warning("ignoring unreadable storm track attribute: %s", exc)
        return ()


def storm_from_attrs(ds: xr.Dataset) -> Storm | None:
    """The storm described by the global attributes, or None for non-storm forecasts."""
    attrs = ds.attrs
    if "storm_lat" not in attrs or "storm_lon" not in attrs:
        return None
    return Storm(
        storm_id=str(attrs.get("storm_id", "")),
        name=str(attrs.get("storm_name", "")),
        lat=float(attrs["storm_lat"]),
        lon=float(attrs["storm_lon"]),
        track=_track(attrs.get("track")),
    )
