"""Storm tracks: each storm's centre over time, read from track CSVs, interpolated in time.

Two CSV layouts are read, told apart by their header:
- Digital Typhoon tracks, one file per storm named `<storm id>.csv`, with hourly rows
  `year,month,day,hour,grade,lat,lng,...`; storm names come from the archive's `metadata.json`
  (`{"<id>": {"name": ...}}`) when one is given.
- best-track or advisory fixes, any number of storms per file: `time,storm_id,name,lat,lon`,
  `time` in ISO 8601 (UTC unless an offset is given), `name` optional.
Fixes of one storm from several files are merged (the later file wins at equal times).
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nowcast.core import ConfigError, iso

STORM_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]*$")
DIGITAL_TYPHOON = {"year", "month", "day", "hour", "lat", "lng"}
ADVISORY = {"time", "storm_id", "lat", "lon"}


@dataclass(frozen=True)
class StormTrack:
    """One storm's fixes, sorted in time; longitudes unwrapped so they never jump by 360."""

    storm_id: str
    name: str
    times: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    @property
    def span(self) -> str:
        """The track's time span, for messages."""
        return f"{iso(pd.Timestamp(self.times[0]))} .. {iso(pd.Timestamp(self.times[-1]))}"

    def position(self, time: pd.Timestamp) -> tuple[float, float] | None:
        """The centre (lat, lon) at `time`, linear in time between fixes; None outside the span."""
        at = time.value
        if not self.times[0] <= at <= self.times[-1]:
            return None
        lat = float(np.interp(at, self.times, self.lat))
        return lat, float(np.interp(at, self.times, self.lon))


def storm_names(metadata: Path | None) -> dict[str, str]:
    """Storm id -> name from a Digital Typhoon `metadata.json` (empty without one)."""
    if metadata is None:
        return {}
    try:
        entries = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read storm metadata {metadata}: {exc}") from None
    return {str(key): str(value.get("name", "")) for key, value in entries.items()}


def _fixes(path: Path) -> pd.DataFrame:
    """One track file as rows of (time, storm_id, name, lat, lon), times naive UTC."""
    try:
        rows = pd.read_csv(path, dtype={"storm_id": str, "name": str})
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read track {path}: {exc}") from None
    columns = set(rows.columns)
    if DIGITAL_TYPHOON <= columns:
        times = pd.to_datetime(rows[["year", "month", "day", "hour"]])
        columns_out = {"time": times, "storm_id": path.stem, "name": ""}
        return pd.DataFrame({**columns_out, "lat": rows["lat"], "lon": rows["lng"]})
    if ADVISORY <= columns:
        times = pd.to_datetime(rows["time"], utc=True).dt.tz_localize(None)
        names = rows["name"].fillna("") if "name" in columns else ""
        columns_out = {"time": times, "storm_id": rows["storm_id"], "name": names}
        return pd.DataFrame({**columns_out, "lat": rows["lat"], "lon": rows["lon"]})
    raise ConfigError(
        f"{path}: not a track CSV (columns year,month,day,hour,lat,lng"
        " or time,storm_id,name,lat,lon)"
    )


def _track(storm_id: str, fixes: pd.DataFrame, names: dict[str, str]) -> StormTrack:
    """A storm's track from its fixes (sorted, one per time, longitudes unwrapped)."""
    if not STORM_ID.match(storm_id):
        raise ConfigError(f"storm id {storm_id!r} must be letters, digits, '_', '.' or '-'")
    fixes = fixes.dropna(subset=["lat", "lon"]).drop_duplicates("time", keep="last")
    fixes = fixes.sort_values("time")
    named = [name for name in fixes["name"] if name]
    lon = np.degrees(np.unwrap(np.radians(fixes["lon"].to_numpy(dtype=np.float64))))
    return StormTrack(
        storm_id=storm_id,
        name=named[-1] if named else names.get(storm_id, ""),
        times=fixes["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
        lat=fixes["lat"].to_numpy(dtype=np.float64),
        lon=lon,
    )


def read_tracks(pattern: str, metadata: Path | None = None) -> list[StormTrack]:
    """Every storm in the track files matching `pattern` (a path or a glob), by id."""
    paths = sorted(Path(found) for found in glob.glob(pattern))
    if not paths:
        raise ConfigError(f"no storm track files match {pattern}")
    fixes = pd.concat([_fixes(path) for path in paths], ignore_index=True)
    fixes["storm_id"] = fixes["storm_id"].astype(str)
    names = storm_names(metadata)
    tracks = [_track(storm, group, names) for storm, group in fixes.groupby("storm_id", sort=True)]
    return [track for track in tracks if track.times.size]
