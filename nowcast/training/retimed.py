"""Training windows at a step an archive's cadence does not divide (15-min frames, 10-min step).

Such a group is seen at the step: its frames are brought to every step time inside each
gap-free run by the motion-compensated interpolation a forecast uses on its history
(`models.retiming`), once, and held in memory; every other group is read from the archive as it
is. The values keep their meaning (an accumulation stays one over the archive's cadence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nowcast.core import parse_duration, whole_steps
from nowcast.models import MotionSpace, described_values, estimate_motion, retime
from nowcast.store import CADENCE, Archive, FrameRows


def off_step(cadence: pd.Timedelta, step: pd.Timedelta) -> bool:
    """Whether frames at `cadence` give no windows at `step` (the step is no multiple of it)."""
    return whole_steps(step, cadence) is None


def retimed_rows(rows: FrameRows, cadence: pd.Timedelta, step: pd.Timedelta) -> FrameRows:
    """A group's frames at every multiple of `step` inside each of its gap-free runs."""
    known = pd.DatetimeIndex(rows.times.view("datetime64[ns]"))
    stored = described_values(rows.attrs, cadence)
    motion = MotionSpace(stored.units, stored.cadence)
    attrs = {**rows.attrs, CADENCE: stored.cadence.total_seconds()}  # what the values mean
    times: list[pd.DatetimeIndex] = []
    frames: list[np.ndarray] = []
    for first, last in _runs(rows.times, cadence):
        run = rows.read(slice(first, last + 1))
        wanted = pd.date_range(known[first].ceil(step), known[last], freq=step)
        times.append(wanted)
        frames.append(_run_at(run, known[first : last + 1], wanted, cadence, motion))
    if not frames:
        return FrameRows(np.zeros(0, np.int64), None, np.zeros((0, *rows.grid), np.float32), attrs)
    stamps = np.concatenate([t.as_unit("ns").asi8 for t in times])
    return FrameRows(stamps, None, np.concatenate(frames), attrs)


def _runs(stamps: np.ndarray, cadence: pd.Timedelta) -> list[tuple[int, int]]:
    """First and last positions of each run of frames `cadence` apart."""
    if not len(stamps):
        return []
    breaks = np.flatnonzero(np.diff(stamps) != cadence.value) + 1
    starts = [0, *breaks.tolist()]
    ends = [*(breaks - 1).tolist(), len(stamps) - 1]
    return list(zip(starts, ends, strict=True))


def _run_at(
    run: np.ndarray,
    known: pd.DatetimeIndex,
    wanted: pd.DatetimeIndex,
    cadence: pd.Timedelta,
    motion: MotionSpace,
) -> np.ndarray:
    """One gap-free run's frames at `wanted`: those between two frames moved along the motion
    of the frames up to the later one (the last three, as a forecast's history is moved)."""
    if len(known) == 1:
        return run[: len(wanted)].astype(np.float32)
    later = known.searchsorted(wanted, side="right").clip(1, len(known) - 1)
    parts = []
    for end in np.unique(later).tolist():
        velocity = estimate_motion(motion.forward(run[max(end - 2, 0) : end + 1]))
        pair = slice(end - 1, end + 1)
        parts.append(
            retime(run[pair], known[pair], wanted[later == end], velocity, cadence, motion)
        )
    return np.concatenate(parts)


def training_archive(
    archive: Archive, groups: list[str], step: str | None
) -> Archive | RetimedArchive:
    """What training reads: the archive, seen at `step` where a group's cadence does not divide
    it (no step given: the archive as it is, sampled by stride)."""
    if step is None:
        return archive
    view = RetimedArchive.of(archive, groups, parse_duration(step))
    return view if view.series else archive


@dataclass
class RetimedArchive:
    """An archive read for training with some groups seen at `step` (`retimed_rows`); the
    same methods training reads an `Archive` through."""

    archive: Archive
    step: pd.Timedelta
    series: dict[str, FrameRows]

    @classmethod
    def of(cls, archive: Archive, groups: list[str], step: pd.Timedelta) -> RetimedArchive:
        """`archive` with each of `groups` whose cadence does not divide `step` retimed."""
        cadences = {group: archive.cadence(group) for group in groups}
        series = {
            group: retimed_rows(archive.frame_rows(group), cadence, step)
            for group, cadence in cadences.items()
            if off_step(cadence, step)
        }
        return cls(archive, step, series)

    def reopened(self) -> RetimedArchive:
        """The same view with the archive opened afresh (the retimed frames are kept)."""
        return RetimedArchive(self.archive.reopened(), self.step, self.series)

    def times(self, group: str) -> pd.DatetimeIndex:
        """The group's valid times (at the step when retimed)."""
        if group in self.series:
            return pd.DatetimeIndex(self.series[group].times.view("datetime64[ns]"))
        return self.archive.times(group)

    def frame_rows(self, group: str) -> FrameRows:
        """The group's frames (at the step when retimed)."""
        return self.series[group] if group in self.series else self.archive.frame_rows(group)

    def cadence(self, group: str) -> pd.Timedelta:
        """The spacing of the group's frames as training sees them."""
        return self.step if group in self.series else self.archive.cadence(group)

    def time_chunk(self, group: str) -> int:
        """Frames a reader fetches at once: as many as the archive stores in one chunk."""
        return self.archive.time_chunk(group)


TrainingArchive = Archive | RetimedArchive
