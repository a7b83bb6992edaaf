"""One candidate from source to target grid: fetch -> read -> check -> (follow) -> regrid.

The part of ingest with no archive state, so it runs in-process for a live run and on Dask
workers for a backfill (`nowcast.ingest.backfill`); the writer applies each `Decoded` in order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr

from nowcast.core import ConfigError, NowcastError
from nowcast.ingest.checks import frame_problem, mask_outliers
from nowcast.ingest.follow import StormFollower
from nowcast.ingest.pipeline import PipelineConfig, make_reader, make_source
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.sources import BadInput, Candidate, Fetched, NotPublished, SourceUnavailable
from nowcast.store import GridPlan, Regridder

log = logging.getLogger("nowcast.ingest.decode")

Status = Literal["staged", "pending", "rejected", "failed"]


@dataclass(frozen=True)
class Decoded:
    """What became of one candidate: a regridded frame, or why not (with the bad payload)."""

    candidate: Candidate
    status: Status
    reason: str = ""
    provenance: str = ""
    values: np.ndarray | None = None
    frame: xr.DataArray | None = None
    plan: GridPlan | None = None
    payload: Payload | None = None


class Decoder:
    """A pipeline's source, reader, follower and regridder, built once per process."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.source = make_source(config)
        self.reader = make_reader(config)
        self.regrid = Regridder(config.grid)
        self.follow = StormFollower(config.follow, config.checks) if config.follow else None
        self.recent: tuple[str, Fetched, xr.DataArray] | None = None

    def _fetch_read(self, candidate: Candidate) -> tuple[Fetched, xr.DataArray] | Decoded:
        """Fetch and decode one frame, or the outcome that stopped it (SourceUnavailable too).

        A frame that serves several followed storms in a row is read once.
        """
        if self.recent is not None and self.recent[0] == candidate.location:
            return self.recent[1], self.recent[2]
        try:
            fetched = self.source.fetch(candidate)
        except NotPublished as exc:
            return Decoded(candidate, "pending", str(exc))
        except BadInput as exc:
            return Decoded(candidate, "rejected", str(exc), candidate.location, payload=exc.payload)
        except SourceUnavailable as exc:
            return Decoded(candidate, "failed", str(exc))
        frame = fetched.frame
        if frame is None:
            if self.reader is None or fetched.payload is None:
                raise ConfigError(f"{self.config.name}: source.format is needed to read files")
            reader, options = self.reader
            try:
                frame = reader.read(fetched.payload, options)
            except NowcastError:
                raise  # a configuration problem (a missing extra or table), not a bad input
            except Exception as exc:  # any decoder failure means the input is bad, not the run
                log.debug("read failed", exc_info=True)
                reason = f"undecodable: {type(exc).__name__}: {exc}"
                origin = fetched.provenance
                return Decoded(
                    fetched.candidate, "rejected", reason, origin, payload=fetched.payload
                )
        if self.follow is not None:
            self.recent = (candidate.location, fetched, frame)
        return fetched, frame

    def decode(self, candidate: Candidate) -> Decoded:
        """The candidate checked and on the target grid, or its pending/rejected/failed outcome."""
        read = self._fetch_read(candidate)
        if isinstance(read, Decoded):
            return read
        fetched, frame = read
        problem = frame_problem(frame, candidate.time, self.config.checks)
        if problem is None and self.follow is not None:
            frame = self.follow.box(frame, candidate)
            problem = frame_problem(frame, candidate.time, self.follow.checks)
        if problem is not None:
            return Decoded(
                fetched.candidate, "rejected", problem, fetched.provenance, payload=fetched.payload
            )
        plan = self.regrid.plan(frame)
        masked, outliers = mask_outliers(frame.values, self.config.checks)
        provenance = fetched.provenance
        if outliers:
            provenance += f"; {outliers} pixels outside valid_range set to missing"
        return Decoded(
            candidate, "staged", "", provenance, plan.apply(masked), frame, plan, fetched.payload
        )
