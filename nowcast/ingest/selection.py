"""Which of a source's candidates a run reads: each vetted (storm id, clock, cadence), one
per time, those archived or rejected before and unchanged skipped, rejected inputs offered
again after a pipeline change, ledger records of committed frames restored."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from nowcast.core import (
    file_sha256,
    iso,
    now_utc,
    parse_iso,
)
from nowcast.ingest.groups import group_name, pipeline_groups
from nowcast.ingest.ledger import Entry, Rejection
from nowcast.ingest.readers.base import Payload
from nowcast.ingest.sources import (
    Candidate,
)
from nowcast.store import name_problem

log = logging.getLogger("nowcast.ingest.run")  # one logger for the whole ingest run
MAX_NAMES_CHARS = 300
CONFLICT = "conflicting files"  # how a conflict rejection begins, in the ledger too
RECOVERED = "in the archive; its ledger record was lost in a crash and is restored"
NOT_OFFERED = (
    "rejected before, to be read again, but no longer offered by the source"
    " (removed, moved to quarantine, or before the pipeline's start)"
)


@dataclass(frozen=True)
class Skip:
    """A candidate recorded as skipped before any is selected, in its group, with why."""

    candidate: Candidate
    group: str
    reason: str


def not_offered(wanted: list[Rejection], found: list[Candidate]) -> list[Rejection]:
    """The inputs to read again that the source's listing no longer holds (once each)."""
    offered = {c.location for c in found}
    gone: dict[tuple[str, str], Rejection] = {}
    for rejection in wanted:
        if rejection.source not in offered:
            gone.setdefault((rejection.source, rejection.group), rejection)
    return list(gone.values())


def digest(location: str) -> str | None:
    """The SHA-256 of a local file's contents, or None when the location is not a file."""
    path = Path(location)
    return file_sha256(path) if path.is_file() else None


class CandidateSelection:
    """The selecting part of a pipeline's ingest run (`run._PipelineRun`)."""

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
        digests = [digest(c.location) for c in same]
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
        skips: list[Skip],
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
    ) -> tuple[list[Candidate], list[Skip]]:
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
            Skip(Candidate(times[r], r.source, r.source), r.group, NOT_OFFERED)
            for r in not_offered(list(times), found)
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
