"""Storm-following mode (`[follow]`): any source's frames become storm-centred boxes per storm.

Each frame is offered once per storm whose track spans its valid time (archive group
`<pipeline>/<storm id>`); the box is centred on the track position interpolated linearly in
time, sampled like a Digital Typhoon image, and carries `center_lat`/`center_lon` and the
storm's id and name. Frames that no track spans are skipped with that reason in the ledger.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from nowcast.core import ConfigError
from nowcast.ingest.checks import FrameChecks
from nowcast.ingest.sources.base import Candidate
from nowcast.ingest.storm_box import storm_box
from nowcast.ingest.tracks import StormTrack, read_tracks


class FollowSpec(BaseModel):
    """`[follow]`: where the tracks are, which storms to follow, and the box to cut."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    track: str = Field(description="track CSV path or glob (relative: from the pipeline file)")
    metadata: Path | None = Field(None, description="Digital Typhoon metadata.json (storm names)")
    storms: list[str] = Field(default_factory=list, description="storm ids (empty: all)")
    size_km: float = Field(2560.0, gt=0, description="side of the storm-centred square")
    pixels: int = Field(512, ge=8, description="box pixels per side before the grid's block mean")


class StormFollower:
    """The tracks of one ingest run: which storms each frame serves, and their boxes."""

    def __init__(self, spec: FollowSpec, checks: FrameChecks) -> None:
        self.spec = spec
        tracks = read_tracks(spec.track, spec.metadata)
        if spec.storms:
            tracks = [track for track in tracks if track.storm_id in spec.storms]
        if not tracks:
            raise ConfigError(f"no tracks of storms {spec.storms} in {spec.track}")
        self.tracks: dict[str, StormTrack] = {track.storm_id: track for track in tracks}
        self.checks = checks.model_copy(update={"shape": None})

    def outside_reason(self) -> str:
        """Why a frame is skipped: no followed storm's track spans its valid time."""
        if len(self.tracks) == 1:
            track = next(iter(self.tracks.values()))
            return f"outside the track of storm {track.storm_id} ({track.span})"
        return f"outside the tracks of all {len(self.tracks)} followed storms"

    def expand(self, candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """One candidate per storm whose track spans each frame (group = storm id); the rest."""
        kept, outside = [], []
        for candidate in candidates:
            if candidate.group is not None:
                raise ConfigError("[follow] needs a source whose frames are not storm sequences")
            storms = [s for s, track in self.tracks.items() if track.position(candidate.time)]
            kept += [dataclasses.replace(candidate, group=storm) for storm in storms]
            if not storms:
                outside.append(candidate)
        return kept, outside

    def box(self, frame: xr.DataArray, candidate: Candidate) -> xr.DataArray:
        """The storm-centred box of a frame for the candidate's storm."""
        track = self.tracks[str(candidate.group)]
        position = track.position(candidate.time)
        if position is None:
            raise ConfigError(f"storm {track.storm_id} has no position at {candidate.time}")
        box = storm_box(frame, *position, self.spec.size_km, self.spec.pixels)
        box.attrs.update(storm_id=track.storm_id, storm_name=track.name)
        return box
