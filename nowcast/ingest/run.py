"""Ingest: fetch every frame new since the last run, check it, regrid it, archive it.

`run_ingest` is what `nowcast ingest` and the scheduler call. Per pipeline it lists the
source's frames in the time window, and, wherever they lie, the inputs last rejected under
another pipeline definition (every rejected input with `retry_rejected`), skips those already
archived (or rejected before and unchanged), fetches the rest, and for each frame: read ->
check -> regrid -> batch -> `Archive.append` (physical values, NaN for no-data; the transform
is metadata). Bad inputs go to quarantine with their reason and never stop the run; an
unreachable source makes the run exit 4 but keeps whatever was fetched. With `[follow]`, each
frame is offered once per storm whose track spans it and cut into that storm's centred box
(`nowcast.ingest.follow`) before it is checked again and regridded.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.core import (
    EXIT_FAILURE,
    EXIT_NOT_DONE,
    EXIT_OK,
    EXIT_SOURCE_FAILED,
    ConfigError,
    NowcastError,
    describe_os_error,
    file_sha256,
    floor_time,
    iso,
    now_utc,
    one_line,
    parse_iso,
    stop_requested,
    utc,
)
from nowcast.ingest.backfill import Backfill
from nowcast.ingest.decode import Decoded, Decoder
from nowcast.ingest.follow import StormFollower
from nowcast.ingest.ledger import Entry, Ledger, Rejection
from nowcast.ingest.pipeline import PipelineConfig, load_pipeline
from nowcast.ingest.quarantine import quarantine, quarantine_dir
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.sources import (
    Candidate,
    Source,
    SourceUnavailable,
)
from nowcast.settings import Settings
from nowcast.store import ALONG_TIME, GRID_MAPPING, STORM_ATTRS, Archive, GridPlan, name_problem

log = logging.getLogger("nowcast.ingest.run")

ProgressFn = Callable[[str, int, int], None]
PHYSICAL_ATTRS = ("units", "standard_name", "long_name")
MASK_ATTRS = {
    "long_name": "inside the source's domain (data in the group's first frames)",
    "flag_values": [0, 1],
    "flag_meanings": "no_data data",
}
MAX_NAMES_CHARS = 300
CONFLICT = "conflicting files"  # how a conflict rejection begins, in the ledger too
RECOVERED = "in the archive; its ledger record was lost in a crash and is restored"
NOT_OFFERED = (
    "rejected before, to be read again, but no longer offered by the source"
    " (removed, moved to quarantine, or before the pipeline's start)"
)


@dataclass(frozen=True)
class _Skip:
    """A candidate recorded as skipped before any is selected, in its group, with why."""

    candidate: Candidate
    group: str
    reason: str


@dataclass(frozen=True)
class _Staged:
    """A checked frame on the target grid, waiting in its group's batch for the next commit."""

    candidate: Candidate
    values: np.ndarray
    frame: xr.DataArray
    plan: GridPlan
    provenance: str


@dataclass
class PipelineReport:
    """What one pipeline's ingest did, and what its archive groups hold afterwards."""

    name: str
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    fetched: int = 0
    skipped: int = 0
    pending: int = 0
    rejected: int = 0
    failed: int = 0
    planned: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    frames: int = 0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    crash_code: int = 0
    rejected_before: int = 0

    @property
    def all_rejected(self) -> bool:
        """Whether every input was rejected, now or before under the same definition."""
        refused = self.rejected + self.rejected_before
        others = self.fetched + self.pending + self.failed + self.skipped - self.rejected_before
        return refused > 0 and others == 0

    @property
    def exit_code(self) -> int:
        """The pipeline's own code: crashed (its error's), source failed 4, all rejected 5."""
        if self.crash_code:
            return self.crash_code
        if self.failed or self.errors:
            return EXIT_SOURCE_FAILED
        return EXIT_NOT_DONE if self.all_rejected else EXIT_OK


@dataclass
class IngestReport:
    """The outcome of one `run_ingest` over several pipelines."""

    pipelines: list[PipelineReport]
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every pipeline ingested what was available, else the first failure's code.

        A dry run fails only for a pipeline that could not even be planned (a bad definition).
        """
        codes = [p.crash_code if self.dry_run else p.exit_code for p in self.pipelines]
        return next((code for code in codes if code), EXIT_OK)


def group_name(pipeline: str, sequence: str | None) -> str:
    """The archive group of a frame: the pipeline, or `<pipeline>/<storm id>`."""
    return f"{pipeline}/{sequence}" if sequence else pipeline


def pipeline_groups(archive: Archive, pipeline: str) -> list[str]:
    """The archive groups that belong to a pipeline."""
    return [g for g in archive.groups() if g == pipeline or g.startswith(f"{pipeline}/")]


def default_since(
    archive: Archive, config: PipelineConfig, source: Source, until: pd.Timestamp
) -> pd.Timestamp | None:
    """Where a run without --since starts: shortly before the newest archived frame.

    Frames after `until` (a far-future frame archived before they were refused) are ignored,
    so they cannot stall every later run.
    """
    ends = []
    for group in pipeline_groups(archive, config.name):
        times = archive.times(group)
        times = times[times <= until]
        if len(times):
            ends.append(times[-1])
    if ends:
        return max(ends) - pd.Timedelta(config.ingest.lookback)
    if config.source.start is not None or source.bounded:
        return None
    return until - pd.Timedelta(config.ingest.initial)


class _PipelineRun:
    """One pipeline's ingest: the loop over candidates and the batched commits."""

    def __init__(
        self,
        archive: Archive,
        config: PipelineConfig,
        run_id: str,
        retry_rejected: bool = False,
        now: pd.Timestamp | None = None,
    ) -> None:
        self.archive = archive
        self.now = now if now is not None else now_utc()
        self.retry_rejected = retry_rejected
        self.config = config
        self.run_id = run_id
        self.decoder = Decoder(config)
        self.source = self.decoder.source
        self.ledger = Ledger(archive.path, config.name)
        self.quarantine = quarantine_dir(archive.path, config.name)
        self.report = PipelineReport(config.name)
        self.present: dict[str, set[int]] = {}
        self.grids: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.batches: dict[str, list[_Staged]] = {}
        self.follow = self.decoder.follow

    def _note(self, candidate: Candidate, group: str, status: str, reason: str = "") -> None:
        """Count an outcome and queue its ledger entry."""
        setattr(self.report, status, getattr(self.report, status) + 1)
        self.ledger.record(
            Entry(
                at=iso(now_utc()),
                run=self.run_id,
                group=group,
                time=iso(candidate.time),
                status=status,
                reason=reason,
                source=candidate.location,
                fingerprint=candidate.fingerprint,
                definition=self.config.fingerprint,
            )
        )

    def _is_present(self, group: str, time: pd.Timestamp) -> bool:
        """Whether the archive group already holds this valid time."""
        if group not in self.present:
            self.present[group] = set(self.archive.times(group).asi8.tolist())
        return time.value in self.present[group]

    def _vet(self, candidate: Candidate) -> tuple[Candidate, str, str | None]:
        """(candidate, group, problem): the storm id, the valid time against the clock and cadence.

        A time within `checks.time_tolerance_s` of a cadence step is snapped to it.
        """
        config = self.config
        problem = name_problem(candidate.group) if candidate.group is not None else None
        if problem is not None:
            return candidate, config.name, f"unsafe storm id from the file name: {problem}"
        group = group_name(config.name, candidate.group)
        if candidate.time > self.now + config.ingest.max_future:
            return (
                candidate,
                group,
                (
                    f"valid time {iso(candidate.time)} is more than ingest.max_future ="
                    f" {config.ingest.max_future} after now ({iso(self.now)}); fix the file's name"
                ),
            )
        step = candidate.time.round(config.cadence)
        if step != candidate.time:
            tolerance = pd.Timedelta(seconds=config.checks.time_tolerance_s)
            if abs(step - candidate.time) > tolerance:
                return (
                    candidate,
                    group,
                    (
                        f"off-cadence: {iso(candidate.time)} is not on the"
                        f" {config.cadence.total_seconds():g} s cadence"
                        f" (nearest step {iso(step)}, checks.time_tolerance_s ="
                        f" {config.checks.time_tolerance_s:g})"
                    ),
                )
            candidate = replace(candidate, time=step)
        return candidate, group, None

    def _skip(self, candidate: Candidate, group: str, reason: str, dry_run: bool) -> None:
        """Count a skipped candidate (and record it unless this is a dry run)."""
        if dry_run:
            self.report.skipped += 1
        else:
            self._note(candidate, group, "skipped", reason)

    def _refuse(self, candidate: Candidate, group: str, reason: str, dry_run: bool) -> None:
        """Reject a candidate before it is read; its file (when it is one) goes to quarantine."""
        if dry_run:
            self.report.rejected += 1
            return
        path = Path(candidate.location)
        payload = Payload(candidate.name, path=path) if path.is_file() else None
        self._reject(candidate, group, payload, reason, candidate.location)

    def _one_per_time(self, group: str, same: list[Candidate], dry_run: bool) -> list[Candidate]:
        """The candidate to fetch for one valid time; copies skipped, conflicting files refused."""
        if len(same) == 1:
            return same
        digests = [_digest(c.location) for c in same]
        if None not in digests and len(set(digests)) == 1:
            for candidate in same[1:]:
                self._skip(candidate, group, f"identical copy of {same[0].name}", dry_run)
            return same[:1]
        names = ", ".join(c.name for c in same)[:MAX_NAMES_CHARS]
        reason = (
            f"{CONFLICT} for {iso(same[0].time)} with different contents: {names};"
            " keep the right one in the source folder and remove the others"
        )
        for candidate in same:
            self._refuse(candidate, group, reason, dry_run)
        return []

    def _select(
        self,
        candidates: list[Candidate],
        skips: list[_Skip],
        again: set[str],
        dry_run: bool,
    ) -> list[Candidate]:
        """The candidates to fetch; the rest are skipped (present, copies, rejected before).

        Unsafe names, future and off-cadence times and conflicting files are refused.
        "Rejected before" counts only under the current pipeline definition, not for the
        locations in `again` (to be read again), and not at all with `retry_rejected`. A file
        refused for a conflict is judged again with the files that compete for its time now:
        alone, it is fetched; beside the same files, skipped. `skips` are recorded first.
        """
        rejected_before = (
            {} if self.retry_rejected else self.ledger.rejected(self.config.fingerprint)
        )
        rejected_before = {key: why for key, why in rejected_before.items() if key[0] not in again}
        for skip in skips:
            log.warning("%s: %s: %s", self.config.name, skip.candidate.location, skip.reason)
            self._skip(skip.candidate, skip.group, skip.reason, dry_run)
        locations = {location for location, _ in rejected_before}
        fingerprint = getattr(self.source, "fingerprint", None)
        buckets: dict[tuple[str, int], list[Candidate]] = {}
        for candidate in candidates:
            candidate, group, problem = self._vet(candidate)
            if candidate.fingerprint is None and fingerprint and candidate.location in locations:
                candidate = replace(candidate, fingerprint=fingerprint(candidate))
            if problem is None and self._is_present(group, candidate.time):
                self._skip(candidate, group, "already in the archive", dry_run)
            elif self._unchanged_rejection(candidate, rejected_before) == "other":
                self._skip_rejected_before(candidate, group, dry_run)
            elif problem is not None:
                self._refuse(candidate, group, problem, dry_run)
            else:
                buckets.setdefault((group, candidate.time.value), []).append(candidate)
        todo = []
        for (group, _), same in buckets.items():
            kinds = {self._unchanged_rejection(c, rejected_before) for c in same}
            if len(same) > 1 and kinds == {CONFLICT}:
                for candidate in same:
                    self._skip_rejected_before(candidate, group, dry_run)
            else:
                todo.extend(self._one_per_time(group, same, dry_run))
        return todo

    @staticmethod
    def _unchanged_rejection(candidate: Candidate, rejected: dict[tuple[str, str], str]) -> str:
        """How this very file (same location and fingerprint) was rejected before under this
        definition: CONFLICT, "other", or "" when it was not."""
        reason = rejected.get((candidate.location, candidate.fingerprint))
        if reason is None:
            return ""
        return CONFLICT if reason.startswith(CONFLICT) else "other"

    def _skip_rejected_before(self, candidate: Candidate, group: str, dry_run: bool) -> None:
        """Skip a file rejected before whose file, pipeline and competitors are unchanged."""
        self.report.rejected_before += 1
        reason = "rejected before, file and pipeline unchanged (see quarantine)"
        self._skip(candidate, group, reason, dry_run)

    def _offered_again(
        self, wanted: list[Rejection], listed: list[Candidate]
    ) -> tuple[list[Candidate], list[_Skip]]:
        """The inputs to read again (see `Ledger.to_read_again`) that `listed` lacks, as the
        source offers them now wherever they lie, and a skip for each it no longer offers, so
        that one is not looked for on every run."""
        shown = {c.location for c in listed}
        times = {r: parse_iso(r.time) for r in wanted if r.source not in shown}
        times = {r: time for r, time in times.items() if time is not None}
        if not times:
            return [], []
        slack = pd.Timedelta(seconds=self.config.checks.time_tolerance_s)
        offered = self.source.candidates(min(times.values()) - slack, max(times.values()) + slack)
        locations = {r.source for r in times}
        found = [c for c in offered if c.location in locations]
        gone = [
            _Skip(Candidate(times[r], r.source, r.source), r.group, NOT_OFFERED)
            for r in _not_offered(list(times), found)
        ]
        return found, gone

    def _reconcile(self) -> None:
        """Record as fetched every archived frame the ledger lacks (a kill after the commit).

        The archive's committed length is the truth; the ledger is derived from it, under the
        archive's lock, so another run's commit and its ledger records are seen together.
        """
        at, definition = iso(now_utc()), self.config.fingerprint
        with self.archive.lock:
            recorded = self.ledger.fetched()
            for group in pipeline_groups(self.archive, self.config.name):
                for stamp in map(iso, self.archive.times(group)):
                    if (group, stamp) not in recorded:
                        entry = Entry(
                            at, self.run_id, group, stamp, "fetched", RECOVERED, "archive"
                        )
                        self.ledger.record(replace(entry, definition=definition))
            if self.ledger.pending:
                restored = self.ledger.pending
                log.warning("%s: restored %d ledger records", self.config.name, restored)
                self.ledger.flush()

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
        staged = _Staged(candidate, decoded.values, decoded.frame, decoded.plan, decoded.provenance)
        batch.append(staged)
        if len(batch) >= self.config.ingest.batch:
            self._commit(group)
        return True

    def _stack(self, staged: list[_Staged]) -> xr.DataArray:
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

    def run(
        self,
        since: pd.Timestamp | None,
        until: pd.Timestamp,
        dry_run: bool,
        progress: ProgressFn | None,
        parallel: Backfill | None = None,
    ) -> PipelineReport:
        """Ingest the window [since, until]; never raises for bad inputs or source failures."""
        report = self.report
        report.since, report.until = since, until
        wanted = self.ledger.to_read_again(self.config.fingerprint, self.retry_rejected)
        name = self.config.name
        try:
            candidates = self.source.candidates(since, until)
            skips = [_Skip(c, name, why) for c, why in getattr(self.source, "ignored", [])]
            again, gone = self._offered_again(wanted, candidates)
        except SourceUnavailable as exc:
            log.error("%s: %s", self.config.name, exc)
            report.errors.append(str(exc))
            record_failure(self.ledger, self.run_id, str(exc), self.config.fingerprint)
            return self._finish()
        if again:
            log.info("%s: reading again %d inputs rejected before", name, len(again))
            candidates = sorted([*candidates, *again], key=_in_time_order)
        if not dry_run:
            self._reconcile()
        if self.follow is not None:
            candidates = self._follow(self.follow, candidates, dry_run)
        todo = self._select(candidates, skips + gone, {r.source for r in wanted}, dry_run)
        if dry_run:
            report.planned = [f"{iso(c.time)} {c.location}" for c in todo]
            return self._finish()
        failures = 0
        ends = time.monotonic() + self.config.ingest.run_budget.total_seconds()
        outcomes = self._outcomes(todo, parallel)
        try:
            for done in range(len(todo)):
                left = len(todo) - done
                if stop_requested():
                    report.errors.append(f"stopped by a signal; {left} frames not attempted")
                    break
                if time.monotonic() > ends:
                    report.errors.append(
                        "run budget ingest.run_budget ="
                        f" {self.config.ingest.run_budget.total_seconds():g} s spent;"
                        f" {left} frames not attempted, the next run goes on"
                    )
                    break
                decoded = next(outcomes)
                if progress:
                    progress(self.config.name, done, len(todo))
                failures = 0 if self._apply(decoded) else failures + 1
                if failures >= self.config.ingest.max_failures:
                    left = len(todo) - done - 1
                    report.errors.append(
                        f"gave up after {failures} failed fetches in a row; {left} not attempted"
                    )
                    break
        finally:
            outcomes.close()
            for group in list(self.batches):
                self._commit(group)
            if self.ledger.pending:
                with self.archive.lock:
                    self.ledger.flush()
        if progress:
            progress(self.config.name, len(todo), len(todo))
        return self._finish()

    def _outcomes(self, todo: list[Candidate], parallel: Backfill | None) -> Generator[Decoded]:
        """Each candidate decoded, in order: on the Dask cluster when the backfill wants it."""
        if parallel is not None and parallel.wants(len(todo)):
            log.info("%s: decoding %d frames on Dask", self.config.name, len(todo))
            yield from parallel.decode(self.config, todo)
        else:
            yield from (self.decoder.decode(candidate) for candidate in todo)

    def _finish(self) -> PipelineReport:
        """Fill in what the pipeline's archive groups hold now."""
        report = self.report
        report.groups = pipeline_groups(self.archive, self.config.name)
        starts, ends = [], []
        for group in report.groups:
            times = self.archive.times(group)
            report.frames += len(times)
            if len(times):
                starts.append(times[0])
                ends.append(times[-1])
        report.start = min(starts) if starts else None
        report.end = max(ends) if ends else None
        return report


def _in_time_order(candidate: Candidate) -> tuple[pd.Timestamp, str, str]:
    """Sort key of candidates: valid time, then storm id and name, as sources list them."""
    return candidate.time, candidate.group or "", candidate.name


def _not_offered(wanted: list[Rejection], found: list[Candidate]) -> list[Rejection]:
    """The inputs to read again that the source's listing no longer holds (once each)."""
    offered = {c.location for c in found}
    gone: dict[tuple[str, str], Rejection] = {}
    for rejection in wanted:
        if rejection.source not in offered:
            gone.setdefault((rejection.source, rejection.group), rejection)
    return list(gone.values())


def _digest(location: str) -> str | None:
    """The SHA-256 of a local file's contents, or None when the location is not a file."""
    path = Path(location)
    return file_sha256(path) if path.is_file() else None


def _pipeline_failed(
    archive: Archive, name: str, run_id: str, exc: Exception, run: _PipelineRun | None
) -> PipelineReport:
    """The report of a pipeline that stopped with an error, recorded in its ledger."""
    known = describe_os_error(exc, archive.path) if isinstance(exc, OSError) else None
    message = known or one_line(f"{type(exc).__name__}: {exc}")
    log.error("%s: %s", name, message)
    log.debug("%s failed", name, exc_info=True)
    report = PipelineReport(name) if run is None else _what_landed(run)
    report.errors.append(message)
    report.crash_code = exc.exit_code if isinstance(exc, NowcastError) else EXIT_FAILURE
    definition = run.config.fingerprint if run is not None else None
    try:
        record_failure(Ledger(archive.path, name), run_id, message, definition)
    except OSError as unwritable:
        log.error("%s: the failure is not in the ledger: %s", name, describe_os_error(unwritable))
    return report


def _what_landed(run: _PipelineRun) -> PipelineReport:
    """A failed run's report with the frames its archive holds (committed before the failure);
    as counted so far when the archive cannot be read either."""
    try:
        return run._finish()
    except (OSError, NowcastError) as unreadable:
        log.debug("%s: archive not read after the failure: %s", run.config.name, unreadable)
        return run.report


def record_failure(ledger: Ledger, run_id: str, message: str, definition: str | None) -> None:
    """Write a pipeline-level `failed` entry (no frame) now, so a failed run leaves a record."""
    at = iso(now_utc())
    ledger.record(Entry(at, run_id, ledger.pipeline, "", "failed", message, "", None, definition))
    ledger.flush()


def run_ingest(
    settings: Settings,
    pipeline_names: Sequence[str] | None = None,
    since: datetime | pd.Timestamp | None = None,
    until: datetime | pd.Timestamp | None = None,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
    retry_rejected: bool = False,
    now: datetime | pd.Timestamp | None = None,
    backfill: Backfill | None = None,
) -> IngestReport:
    """Ingest each pipeline (default: `settings.pipelines`) into `settings.archive`.

    `since`/`until` bound the valid times (UTC); without `since` each pipeline resumes
    shortly before its newest archived frame; without `until` it runs up to now, floored to
    its cadence. With `backfill`, long runs decode on Dask (see `nowcast.ingest.backfill`); the
    caller closes it. Each pipeline runs on its own: one that fails (a bad definition, a crash)
    is reported and recorded in its ledger, and the others still run. `now` (default: the
    clock) bounds future valid times: `until` is capped at now + `ingest.max_future`.
    """
    names = list(pipeline_names or settings.pipelines)
    if not names:
        raise ConfigError("no pipelines to ingest (set `pipelines` or pass --pipeline)")
    archive = Archive(settings.archive)
    run_id = uuid.uuid4().hex[:12]
    clock = utc(now) if now is not None else now_utc()
    reports = []
    for name in names:
        run = None
        try:
            config = load_pipeline(settings, name)
            run = _PipelineRun(archive, config, run_id, retry_rejected, clock)
            asked = utc(until) if until is not None else clock
            if not run.source.bounded:  # an endless source would offer every future step
                asked = min(asked, clock + config.ingest.max_future)
            end = floor_time(asked, config.cadence)
            start = (
                utc(since) if since is not None else default_since(archive, config, run.source, end)
            )
            log.info("%s: ingesting %s .. %s", name, iso(start) if start else "start", iso(end))
            reports.append(run.run(start, end, dry_run, progress, backfill))
        except Exception as exc:  # one pipeline's failure must not stop the others
            reports.append(_pipeline_failed(archive, name, run_id, exc, run))
    return IngestReport(reports, dry_run)
