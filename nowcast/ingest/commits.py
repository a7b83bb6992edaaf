"""Decoded frames into the archive: cut into storm boxes where followed, checked against the
group's grid, batched per group and committed, each commit recorded in the ledger."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.core import (
    iso,
)
from nowcast.ingest.decode import Decoded
from nowcast.ingest.follow import StormFollower
from nowcast.ingest.groups import group_name
from nowcast.ingest.quarantine import quarantine
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.sources import (
    Candidate,
)
from nowcast.store import ALONG_TIME, GRID_MAPPING, STORM_ATTRS, GridPlan

log = logging.getLogger("nowcast.ingest.run")  # one logger for the whole ingest run
PHYSICAL_ATTRS = ("units", "standard_name", "long_name")
MASK_ATTRS = {
    "long_name": "inside the source's domain (data in the group's first frames)",
    "flag_values": [0, 1],
    "flag_meanings": "no_data data",
}


@dataclass(frozen=True)
class Staged:
    """A checked frame on the target grid, waiting in its group's batch for the next commit."""

    candidate: Candidate
    values: np.ndarray
    frame: xr.DataArray
    plan: GridPlan
    provenance: str


class FrameCommits:
    """The committing part of a pipeline's ingest run (`run._PipelineRun`)."""

    def _follow(
        self, follow: StormFollower, candidates: list[Candidate], dry_run: bool
    ) -> list[Candidate]:
        """One candidate per followed storm; frames outside every track are skipped with why."""
        kept, outside = follow.expand(candidates)
        reason = follow.outside_reason()
        for candidate in outside:
            if dry_run:
                self.report.skipped += 1
            else:
                self._note(candidate, self.config.name, "skipped", reason)
        return kept

    def _reject(
        self, candidate: Candidate, group: str, payload: Payload | None, reason: str, origin: str
    ) -> None:
        """Quarantine a bad input with its reason and record it; the run goes on."""
        log.warning("%s: rejected %s: %s", self.config.name, candidate.name, reason)
        details = {"pipeline": self.config.name, "group": group, "source": origin}
        details["valid_time"] = iso(candidate.time)
        move = not self.source.keeps_originals
        quarantine(self.quarantine, candidate.name, payload, reason, details, move)
        self._note(candidate, group, "rejected", reason)

    def _grid_matches(self, group: str, plan: GridPlan) -> bool:
        """Whether a frame's target grid is the group's grid (fixed by its first frame)."""
        if group not in self.grids:
            if self.present.get(group):
                stored = self.archive.read(group)
                self.grids[group] = (stored["x"].values, stored["y"].values)
            else:
                self.grids[group] = (plan.x, plan.y)
        x, y = self.grids[group]
        if x is plan.x and y is plan.y:
            return True
        return bool(
            x.shape == plan.x.shape
            and y.shape == plan.y.shape
            and np.allclose(x, plan.x, rtol=0, atol=1e-3)
            and np.allclose(y, plan.y, rtol=0, atol=1e-3)
        )

    def _apply(self, decoded: Decoded) -> bool:
        """Record one decoded candidate and batch it for its group; False if the source failed."""
        candidate = decoded.candidate
        group = group_name(self.config.name, candidate.group)
        if decoded.status == "failed":
            log.error("%s: %s", self.config.name, decoded.reason)
            self.report.errors.append(decoded.reason)
            self._note(candidate, group, "failed", decoded.reason)
            return False
        if decoded.status == "pending":
            self._note(candidate, group, "pending", decoded.reason)
            return True
        reason = decoded.reason
        if decoded.status == "staged" and decoded.plan is not None:
            if not self._grid_matches(group, decoded.plan):
                reason = f"grid differs from archive group {group}"
        if decoded.status == "rejected" or reason:
            self._reject(candidate, group, decoded.payload, reason, decoded.provenance)
            return True
        batch = self.batches.setdefault(group, [])
        assert decoded.values is not None and decoded.frame is not None and decoded.plan
        staged = Staged(candidate, decoded.values, decoded.frame, decoded.plan, decoded.provenance)
        batch.append(staged)
        if len(batch) >= self.config.ingest.batch:
            self._commit(group)
        return True

    def _stack(self, staged: list[Staged]) -> xr.DataArray:
        """A batch of regridded physical frames as one (time, y, x) series, NaN kept."""
        first = staged[0].frame
        variables = first.coords.variables
        values = np.stack([s.values for s in staged]).astype(np.float32, copy=False)
        coords = staged[0].plan.coords(variables["x"].attrs, variables["y"].attrs)
        coords["time"] = pd.DatetimeIndex([s.candidate.time for s in staged])
        if GRID_MAPPING in variables:
            coords[GRID_MAPPING] = variables[GRID_MAPPING]
        for key in ALONG_TIME:
            if key in variables:
                along = [float(s.frame.coords.variables[key].values) for s in staged]
                attrs = {"units": "degrees", "long_name": f"storm {key.replace('_', ' ')}"}
                coords[key] = ("time", np.array(along, dtype=np.float32), attrs)
        if not any(key in variables for key in ALONG_TIME):
            coords["valid_mask"] = (
                ("y", "x"),
                np.isfinite(values).any(axis=0).astype(np.uint8),
                MASK_ATTRS,
            )
        attrs = {k: first.attrs[k] for k in PHYSICAL_ATTRS if k in first.attrs}
        attrs.update(self.config.transform.to_attrs())
        name = self.config.source.variable or attrs.get("standard_name") or "frames"
        return xr.DataArray(values, dims=("time", "y", "x"), coords=coords, attrs=attrs, name=name)

    def _group_attrs(self, group: str, first: xr.DataArray) -> dict[str, object]:
        """Group attributes recorded on the first write."""
        source = self.config.source
        attrs: dict[str, object] = {
            "title": f"nowcast archive: {group}",
            "pipeline": self.config.name,
            "source_kind": source.kind,
            "source_format": source.format or source.kind,
            "cadence_s": self.config.cadence.total_seconds(),
        }
        attrs.update({key: first.attrs[key] for key in STORM_ATTRS if key in first.attrs})
        return attrs

    def _commit(self, group: str) -> None:
        """Append a group's batch to the archive and record what landed."""
        staged = self.batches.pop(group, [])
        if not staged:
            return
        series = self._stack(staged)
        with self.archive.lock:
            added = self.archive.append_new(
                group, series, self._group_attrs(group, staged[0].frame)
            )
            landed = set(added.asi8.tolist())
            for item in staged:
                if item.candidate.time.value in landed:
                    self._note(item.candidate, group, "fetched", item.provenance)
                else:
                    reason = "archived meanwhile by another run"
                    self._note(item.candidate, group, "skipped", reason)
            self.ledger.flush()
        self.present.setdefault(group, set()).update(landed)
