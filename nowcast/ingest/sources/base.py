"""What every source shares: candidates it offers, what a fetch returns, how a fetch fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict

from nowcast.ingest.readers.base import Payload


class SourceOptions(BaseModel):
    """Base of each source kind's own keys in a pipeline's `[source]`; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Candidate:
    """One frame a source can offer: its valid time, name, where it is, and its sequence."""

    time: pd.Timestamp
    name: str
    location: str
    group: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A fetched frame: bytes or a file to decode, or an array already decoded."""

    candidate: Candidate
    payload: Payload | None = None
    frame: xr.DataArray | None = None
    provenance: str = ""


class NotPublished(Exception):
    """The frame is not there yet (HTTP 404): pending, not an error."""


class SourceUnavailable(Exception):
    """The source could not be reached or answered with an error: the run exits 4."""


class BadInput(Exception):
    """The source delivered something unusable (too large, checksum mismatch): rejected."""

    def __init__(self, reason: str, payload: Payload | None = None) -> None:
        super().__init__(reason)
        self.payload = payload


class Source(Protocol):
    """Lists the frames between two times and fetches them one at a time.

    `keeps_originals` is True when rejected inputs must be copied (not moved) to quarantine.
    `bounded` is True when the source knows its own start (a folder), False when it could go
    back forever (a URL template, the synthetic storm) and ingest must pick a start.
    Optional: `ignored` ((candidate, reason) pairs the last listing set aside, recorded as
    skipped) and `fingerprint(candidate)` (a cheap size/version check, so an input rejected
    before is not fetched again until it changed).
    """

    keeps_originals: bool
    bounded: bool

    def candidates(self, since: pd.Timestamp | None, until: pd.Timestamp) -> list[Candidate]:
        """Frames with since <= time <= until, oldest first."""
        ...

    def fetch(self, candidate: Candidate) -> Fetched:
        """The frame's bytes, file or array; raises NotPublished, SourceUnavailable, BadInput."""
        ...
