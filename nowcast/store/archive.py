"""The Zarr archive: one group per pipeline (and per storm), frames (time, y, x), append-only.

Layout of a group: the data variable (float32 physical values in its `units`, NaN for
no-data, chunked by time, CF attributes, the model transform as metadata and
`nowcast_scale = "physical"`), `time` (int64 nanoseconds since 1970, encoding fixed on the
first write), `x`/`y` in metres, `lat`/`lon` where cheap, `valid_mask` (the source's domain)
on fixed grids, `center_lat`/`center_lon` along time for storm-centred groups, and a scalar
`crs` grid mapping.

Crash safety: an append resizes and writes the data chunks and coordinates first, and only
then records the new length in the group attribute `nowcast_committed` (one atomic file
replace). Readers trust that length, so a process killed mid-append leaves every committed
frame readable; the next append, under the same file lock, trims the uncommitted tail first.

Frames are stored in time order, so plain `xr.open_zarr` sees a sorted time axis too. A commit
whose frames are older than the newest stored (a backfill) copies the group beside the store,
writes it in time order from the first earlier frame on, commits the copy, and swaps it in
whole (one rename exchange): a kill before that leaves the group as it was. Groups stored in
arrival order by older releases are sorted by their next commit; `read` always sorts.

Groups written before values were stored physically (no `nowcast_scale`, a `transform`)
hold the model scale: `read` converts them to physical units, appends to them are
converted to their scale, and `migrate` rewrites them in physical units.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr
from filelock import FileLock
from xarray.backends import BackendArray
from xarray.core import indexing

from nowcast.core import (
    DataMissingError,
    parse_duration,
)
from nowcast.store.archive_layout import (
    ALONG_TIME,
    CADENCE,
    COMMITTED,
    DIMS,
    FIXED,
    LAST_INGEST,
    LOCK_SUFFIX,
    PHYSICAL,
    SCALE,
    VARIABLE,
    clean_attrs,
    frame_attrs,
    frames_in,
    legacy_transform,
    open_store,
)
from nowcast.store.archive_migration import ArchiveMigration
from nowcast.store.archive_writing import ArchiveWriting
from nowcast.store.grid import GRID_MAPPING
from nowcast.store.history import select_history
from nowcast.store.names import group_problem
from nowcast.store.transform import Transform


@dataclass(frozen=True)
class Gap:
    """Frames missing between two consecutive archived valid times."""

    after: pd.Timestamp
    before: pd.Timestamp
    missing: int


@dataclass(frozen=True)
class GroupSummary:
    """What one archive group holds, for `nowcast status`."""

    group: str
    variable: str
    units: str
    frames: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    cadence: pd.Timedelta | None
    gaps: int
    missing: int
    last_ingest: str | None


class _CommittedFrames(BackendArray):
    """Lazy, outer-indexed access to the committed part of a Zarr array along time."""

    def __init__(self, array: zarr.Array, length: int, legacy: Transform | None = None) -> None:
        self.array = array
        self.shape = (length, *array.shape[1:])
        self.dtype = np.dtype("float32") if legacy else array.dtype
        self.legacy = legacy

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw
        )

    def _raw(self, key: tuple) -> np.ndarray:
        """Read an outer selection, keeping the time index inside the committed length."""
        length = self.shape[0]
        first = key[0]
        if isinstance(first, slice):
            first = slice(*first.indices(length))
        else:
            first = np.asarray(first)
            first = np.where(first < 0, first + length, first)
            first = int(first) if first.ndim == 0 else first
        values = self.array.get_orthogonal_selection((first, *key[1:]))
        return values if self.legacy is None else self.legacy.to_physical(values)


@dataclass(frozen=True)
class FrameRows:
    """A group's frames for readers that fetch them by time position, without building
    xarray objects: sorted valid times and the physical values at sorted positions."""

    times: np.ndarray  # int64 ns, sorted
    order: np.ndarray | None  # the stored row of each sorted position; None when stored sorted
    frames: _CommittedFrames | np.ndarray  # an array: frames held in memory (time, y, x)
    attrs: dict[str, Any]

    @property
    def grid(self) -> tuple[int, int]:
        """Frame size (rows, columns)."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def read(self, positions: slice) -> np.ndarray:
        """The physical frames at these sorted positions, (time, y, x)."""
        rows = positions if self.order is None else self.order[positions]
        if isinstance(self.frames, np.ndarray):
            return self.frames[rows]
        return self.frames._raw((rows, slice(None), slice(None)))


def window_starts_in(
    times: pd.DatetimeIndex,
    history: str | pd.Timedelta,
    horizon: str | pd.Timedelta,
    step: pd.Timedelta,
) -> np.ndarray:
    """The sorted `times` (as int64 ns) from which `history` then `horizon` of frames `step`
    apart are all present, found one frame offset at a time, so no (windows x frames) array is
    ever built."""
    total = frames_in(parse_duration(history), step) + frames_in(parse_duration(horizon), step)
    stamps = np.asarray(times.as_unit("ns").asi8, dtype=np.int64)
    if len(stamps) < total:
        return np.zeros(0, dtype=np.int64)
    complete = np.ones(len(stamps), dtype=bool)
    for offset in range(1, total):
        wanted = stamps + offset * step.value
        found = np.searchsorted(stamps, wanted).clip(max=len(stamps) - 1)
        complete &= stamps[found] == wanted
    return stamps[complete]


class Archive(ArchiveWriting, ArchiveMigration):
    """A Zarr store of frame series; one writer at a time through a file lock beside it."""

    def __init__(self, path: Path | str, lock_timeout: float = 600.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._lock: FileLock | None = None

    # --- locking and opening -------------------------------------------------------------
    def reopened(self) -> Archive:
        """The same store opened afresh (a reader process opens its own)."""
        return Archive(self.path, self.lock_timeout)

    def __getstate__(self) -> dict[str, object]:
        """Pickled without its lock: a copy in another process takes its own."""
        return {**self.__dict__, "_lock": None}

    @property
    def lock(self) -> FileLock:
        """The store's write lock, `<store>.lock` (re-entrant in one process)."""
        if self._lock is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_file = self.path.with_name(self.path.name + LOCK_SUFFIX)
            self._lock = FileLock(lock_file, timeout=self.lock_timeout)
        return self._lock

    def exists(self) -> bool:
        """Whether the store has been created."""
        return (self.path / ".zgroup").is_file()

    @classmethod
    def require(cls, path: Path) -> Archive:
        """The archive at `path`; the one "no archive yet" error when nothing was ingested."""
        archive = cls(path)
        if not archive.exists():
            raise DataMissingError(f"no archive yet at {path} (run `nowcast ingest` to create it)")
        return archive

    def _root(self, mode: str) -> zarr.Group:
        """The root group, opened read-only ('r') or for writing ('a')."""
        if mode == "r":
            Archive.require(self.path)
        return open_store(self.path, mode)

    def _maybe_group(self, group: str) -> zarr.Group | None:
        """A committed frame group opened read-only, or None when the store lacks it."""
        if not self.exists():
            return None
        root = self._root("r")
        if group not in root or COMMITTED not in root[group].attrs:
            return None
        return root[group]

    def _group(self, group: str) -> zarr.Group:
        """A committed frame group, read-only; DataMissingError when absent."""
        self._root("r")
        node = self._maybe_group(group)
        if node is None:
            known = ", ".join(self.groups()) or "none"
            raise DataMissingError(f"archive {self.path} has no group {group!r} (has: {known})")
        return node

    def groups(self) -> list[str]:
        """Every frame group in the store (`demo`, `digital-typhoon/202224`, ...), sorted."""
        if not self.exists():
            return []
        found: list[str] = []

        def walk(node: zarr.Group, prefix: str) -> None:
            for name, child in node.groups():
                path = f"{prefix}{name}"
                if group_problem(path) is not None:
                    continue  # a hidden temporary copy a killed writer left
                if COMMITTED in child.attrs:
                    found.append(path)
                walk(child, f"{path}/")

        walk(self._root("r"), "")
        return sorted(found)

    def times(self, group: str) -> pd.DatetimeIndex:
        """The committed valid times of a group, sorted (empty when absent or an unsafe name)."""
        node = None if group_problem(group) else self._maybe_group(group)
        if node is None:
            return pd.DatetimeIndex([], dtype="datetime64[ns]")
        length = int(node.attrs[COMMITTED])
        stamps = np.asarray(node["time"][:length], dtype=np.int64).view("datetime64[ns]")
        return pd.DatetimeIndex(np.sort(stamps))

    def frame_rows(self, group: str) -> FrameRows:
        """The group's frames by sorted time position, and the attributes `read` gives them."""
        node = self._group(group)
        length = int(node.attrs[COMMITTED])
        array = node[str(node.attrs[VARIABLE])]
        stamps = np.asarray(node["time"][:length], dtype=np.int64)
        order = None
        if length > 1 and not (np.diff(stamps) > 0).all():
            order = np.argsort(stamps, kind="stable")
            stamps = stamps[order]
        frames = _CommittedFrames(array, length, legacy_transform(array.attrs))
        return FrameRows(stamps, order, frames, frame_attrs(node, array))

    def read(self, group: str) -> xr.DataArray:
        """The group's frames (time, y, x), lazily loaded, sorted by time, with coordinates."""
        node = self._group(group)
        length = int(node.attrs[COMMITTED])
        name = str(node.attrs[VARIABLE])
        array = node[name]
        legacy = legacy_transform(array.attrs)
        lazy = indexing.LazilyIndexedArray(_CommittedFrames(array, length, legacy))
        data = xr.Variable(("time", "y", "x"), lazy, attrs=clean_attrs(array.attrs))
        data.attrs[SCALE] = PHYSICAL
        stamps = np.asarray(node["time"][:length], dtype=np.int64).view("datetime64[ns]")
        coords: dict[str, Any] = {"time": ("time", stamps, {"standard_name": "time"})}
        for key in FIXED:
            if key in node:
                coords[key] = (node[key].attrs[DIMS], node[key][...], clean_attrs(node[key].attrs))
        for key in ALONG_TIME:
            if key in node:
                coords[key] = ("time", node[key][:length], clean_attrs(node[key].attrs))
        if GRID_MAPPING in node:
            coords[GRID_MAPPING] = ((), np.int32(0), clean_attrs(node[GRID_MAPPING].attrs))
        frames = xr.DataArray(data, coords=coords, name=name)
        frames.attrs.update(frame_attrs(node, array))
        if length > 1 and not (np.diff(stamps.astype(np.int64)) > 0).all():
            frames = frames.isel(time=np.argsort(stamps, kind="stable"))
        return frames

    def time_chunk(self, group: str) -> int:
        """Frames per stored data chunk: the unit a reader should fetch and cache."""
        node = self._group(group)
        return int(node[str(node.attrs[VARIABLE])].chunks[0])

    def cadence(self, group: str) -> pd.Timedelta:
        """The group's cadence: as recorded at creation, else the median spacing of frames."""
        node = self._group(group)
        if CADENCE in node.attrs:
            return pd.Timedelta(seconds=float(node.attrs[CADENCE]))
        times = self.times(group)
        if len(times) < 2:
            raise DataMissingError(f"group {group!r} has too few frames to infer a cadence")
        return pd.Timedelta(np.median(np.diff(times.asi8)), unit="ns")

    def gaps(self, group: str) -> list[Gap]:
        """Stretches between consecutive frames longer than the cadence."""
        times = self.times(group)
        if len(times) < 2:
            return []
        step = self.cadence(group)
        gaps = []
        for after, before in zip(times[:-1], times[1:], strict=True):
            if before - after > step:
                gaps.append(Gap(after, before, int((before - after) // step) - 1))
        return gaps

    def windows(
        self,
        group: str,
        history: str | pd.Timedelta,
        horizon: str | pd.Timedelta,
        cadence: str | pd.Timedelta | None = None,
    ) -> list[pd.Timestamp]:
        """Start times of gap-free windows of history + horizon frames at `cadence`.

        A window starting at t holds history/cadence input frames from t and horizon/cadence
        target frames after them, every one present in the archive.
        """
        step = parse_duration(cadence) if cadence is not None else self.cadence(group)
        starts = window_starts_in(self.times(group), history, horizon, step)
        return list(pd.DatetimeIndex(starts.view("datetime64[ns]")))

    def latest(
        self, group: str, duration: str | pd.Timedelta, at: pd.Timestamp | None = None
    ) -> xr.DataArray:
        """The `duration` of frames ending at the newest frame (or at `at`), gap-free, loaded.

        Raises DataMissingError naming the missing times when the window has a gap.
        """
        step = self.cadence(group)
        count = frames_in(parse_duration(duration), step)
        return select_history(self.read(group), count, step, at=at).frames

    def summary(self) -> list[GroupSummary]:
        """One line of facts per group: frames, coverage, cadence, gaps and last ingest."""
        rows = []
        for group in self.groups():
            node = self._group(group)
            name = str(node.attrs[VARIABLE])
            times = self.times(group)
            gaps = self.gaps(group)
            cadence = self.cadence(group) if CADENCE in node.attrs or len(times) > 1 else None
            rows.append(
                GroupSummary(
                    group=group,
                    variable=name,
                    units=str(node[name].attrs.get("units", "")),
                    frames=len(times),
                    start=times[0] if len(times) else None,
                    end=times[-1] if len(times) else None,
                    cadence=cadence,
                    gaps=len(gaps),
                    missing=sum(g.missing for g in gaps),
                    last_ingest=node.attrs.get(LAST_INGEST),
                )
            )
        return rows
