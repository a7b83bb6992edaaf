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
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from nowcast.core import (
    EXIT_FAILURE,
    EXIT_NOT_DONE,
    EXIT_OK,
    EXIT_SOURCE_FAILED,
    ConfigError,
    NowcastError,
    describe_os_error,
    floor_time,
    iso,
    now_utc,
    one_line,
    stop_requested,
    utc,
)
from nowcast.ingest.backfill import Backfill
from nowcast.ingest.commits import FrameCommits, Staged
from nowcast.ingest.decode import Decoded, Decoder
from nowcast.ingest.groups import pipeline_groups
from nowcast.ingest.ledger import Entry, Ledger
from nowcast.ingest.pipeline import PipelineConfig, load_pipeline
from nowcast.ingest.quarantine import quarantine_dir
from nowcast.ingest.selection import CandidateSelection, Skip
from nowcast.ingest.sources import (
    Candidate,
    Source,
    SourceUnavailable,
)
from nowcast.settings import Settings
from nowcast.store import Archive

log = logging.getLogger("nowcast.ingest.run")

ProgressFn = Callable[[str, int, int], None]


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


class _PipelineRun(CandidateSelection, FrameCommits):
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
        self.batches: dict[str, list[Staged]] = {}
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
            skips = [Skip(c, name, why) for c, why in getattr(self.source, "ignored", [])]
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
