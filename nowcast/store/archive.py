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

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr
from filelock import FileLock, Timeout
from numcodecs import Blosc
from xarray.backends import BackendArray
from xarray.core import indexing

from nowcast.core import (
    BACKUP_SUFFIX,
    DataMissingError,
    NowcastError,
    atomic_path,
    iso,
    json_safe,
    now_utc,
    parse_duration,
    remove_orphaned_temporaries,
    temporary_sibling,
)
from nowcast.store.grid import GRID_MAPPING
from nowcast.store.history import select_history
from nowcast.store.names import group_problem
from nowcast.store.rain import PYSTEPS_UNITS
from nowcast.store.transform import ATTR as TRANSFORM
from nowcast.store.transform import Transform, from_attrs

COMMITTED = "nowcast_committed"
VARIABLE = "nowcast_variable"
CADENCE = "cadence_s"
SCALE = "nowcast_scale"
PHYSICAL = "physical"
LAST_INGEST = "last_ingest"
LOCK_SUFFIX = ".lock"  # the lock file sits beside the store: <store>.lock
LEGACY_LOCK = ".nowcast.lock"  # inside the store, up to release 0.1; removed on the next write
ZARR_FORMAT = 2  # the on-disk format; nowcast/README.md says why
ZARR3 = int(zarr.__version__.split(".")[0]) >= 3
# zarr-python 3 would read the consolidated snapshot, which may lag the committed length.
OPEN_OPTIONS: dict[str, Any] = (
    {"zarr_format": ZARR_FORMAT, "use_consolidated": False} if ZARR3 else {}
)
TIME_ATTRS = {
    "units": "nanoseconds since 1970-01-01",
    "calendar": "proleptic_gregorian",
    "standard_name": "time",
    "axis": "T",
}
# Storm-centred groups: coordinates that move with each frame, and the storm's attributes.
ALONG_TIME = ("center_lat", "center_lon")
STORM_ATTRS = ("storm_id", "storm_name")
FIXED = ("y", "x", "lat", "lon", "valid_mask")
DIMS = "_ARRAY_DIMENSIONS"
COMPRESSOR = Blosc(cname="zstd", clevel=3, shuffle=Blosc.SHUFFLE)
TIME_CHUNK = 4096
CHUNK_BYTES = 1 << 20


def open_store(path: Path, mode: str) -> zarr.Group:
    """The root group of a Zarr store, read from its own metadata files (never consolidated)."""
    return zarr.open_group(str(path), mode=mode, **OPEN_OPTIONS)


def consolidate(path: Path) -> None:
    """Write the store's consolidated metadata, so plain `xr.open_zarr` opens every group."""
    zarr.consolidate_metadata(str(path), **({"zarr_format": ZARR_FORMAT} if ZARR3 else {}))


def create_array(node: zarr.Group, name: str, data: Any = None, **spec: Any) -> zarr.Array:
    """A new Zarr format 2 array in `node` (zarr-python 2 or 3), filled from `data` if given."""
    compressor = spec.pop("compressor", None)
    if data is not None:
        data = np.asarray(data)
        spec.update(shape=data.shape, dtype=data.dtype)
    spec.setdefault("fill_value", 0)
    if ZARR3:
        array = node.create_array(name, compressors=compressor, **spec)
    else:
        array = node.create_dataset(name, compressor=compressor, **spec)
    if data is not None:
        array[...] = data
    return array


class ArchiveLocked(NowcastError):
    """Another process held the archive lock for longer than the timeout."""


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
    total = _frames(parse_duration(history), step) + _frames(parse_duration(horizon), step)
    stamps = np.asarray(times.as_unit("ns").asi8, dtype=np.int64)
    if len(stamps) < total:
        return np.zeros(0, dtype=np.int64)
    complete = np.ones(len(stamps), dtype=bool)
    for offset in range(1, total):
        wanted = stamps + offset * step.value
        found = np.searchsorted(stamps, wanted).clip(max=len(stamps) - 1)
        complete &= stamps[found] == wanted
    return stamps[complete]


def _time_chunk(ny: int, nx: int) -> int:
    """Frames per data chunk: about 1 MiB of float32, between 1 and 256 frames."""
    return int(np.clip(CHUNK_BYTES // (4 * ny * nx), 1, 256))


def _nanoseconds(times: Any) -> np.ndarray:
    """Valid times as int64 nanoseconds since 1970 (tz-naive UTC)."""
    return np.asarray(pd.DatetimeIndex(times).as_unit("ns").asi8, dtype=np.int64)


def accumulation_cell_methods(units: str, cadence: pd.Timedelta) -> str | None:
    """CF `cell_methods` of values in `units` over one `cadence` step: `time: sum (interval:
    10 minutes)` for rain amounts (mm, kg m-2), which say their period; None for other units."""
    if PYSTEPS_UNITS.get(units.strip().lower()) != "mm":
        return None
    minutes, rest = divmod(cadence, pd.Timedelta(minutes=1))
    interval = f"{minutes} minutes" if not rest else f"{cadence.total_seconds():g} seconds"
    return f"time: sum (interval: {interval})"


def legacy_transform(attrs: Mapping[str, Any]) -> Transform | None:
    """The transform of a variable stored on the model scale (old stores), else None."""
    if attrs.get(SCALE) == PHYSICAL or TRANSFORM not in attrs:
        return None
    transform = from_attrs(attrs)
    return None if transform.kind == "identity" else transform


def _clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as a DataArray shows them (without Zarr's and CF's bookkeeping keys)."""
    return {k: v for k, v in attrs.items() if k not in (DIMS, "coordinates")}


def _frame_attrs(node: zarr.Group, array: zarr.Array) -> dict[str, Any]:
    """A group's frame attributes as `Archive.read` gives them: the variable's, marked
    physical, then the group's own (without the commit bookkeeping)."""
    group = {k: v for k, v in node.attrs.items() if k not in (COMMITTED, VARIABLE)}
    return {**_clean_attrs(array.attrs), SCALE: PHYSICAL, **group}


class Archive:
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

    # --- reading -------------------------------------------------------------------------

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
        return FrameRows(stamps, order, frames, _frame_attrs(node, array))

    def read(self, group: str) -> xr.DataArray:
        """The group's frames (time, y, x), lazily loaded, sorted by time, with coordinates."""
        node = self._group(group)
        length = int(node.attrs[COMMITTED])
        name = str(node.attrs[VARIABLE])
        array = node[name]
        legacy = legacy_transform(array.attrs)
        lazy = indexing.LazilyIndexedArray(_CommittedFrames(array, length, legacy))
        data = xr.Variable(("time", "y", "x"), lazy, attrs=_clean_attrs(array.attrs))
        data.attrs[SCALE] = PHYSICAL
        stamps = np.asarray(node["time"][:length], dtype=np.int64).view("datetime64[ns]")
        coords: dict[str, Any] = {"time": ("time", stamps, {"standard_name": "time"})}
        for key in FIXED:
            if key in node:
                coords[key] = (node[key].attrs[DIMS], node[key][...], _clean_attrs(node[key].attrs))
        for key in ALONG_TIME:
            if key in node:
                coords[key] = ("time", node[key][:length], _clean_attrs(node[key].attrs))
        if GRID_MAPPING in node:
            coords[GRID_MAPPING] = ((), np.int32(0), _clean_attrs(node[GRID_MAPPING].attrs))
        frames = xr.DataArray(data, coords=coords, name=name)
        frames.attrs.update(_frame_attrs(node, array))
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
        starts = self.window_starts(group, history, horizon, cadence)
        return list(pd.DatetimeIndex(starts.view("datetime64[ns]")))

    def window_starts(
        self,
        group: str,
        history: str | pd.Timedelta,
        horizon: str | pd.Timedelta,
        cadence: str | pd.Timedelta | None = None,
    ) -> np.ndarray:
        """`windows` as int64 nanoseconds (`window_starts_in`)."""
        step = parse_duration(cadence) if cadence is not None else self.cadence(group)
        return window_starts_in(self.times(group), history, horizon, step)

    def latest(
        self, group: str, duration: str | pd.Timedelta, at: pd.Timestamp | None = None
    ) -> xr.DataArray:
        """The `duration` of frames ending at the newest frame (or at `at`), gap-free, loaded.

        Raises DataMissingError naming the missing times when the window has a gap.
        """
        step = self.cadence(group)
        count = _frames(parse_duration(duration), step)
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

    # --- writing -------------------------------------------------------------------------

    def append(
        self, group: str, frames: xr.DataArray, attrs: Mapping[str, Any] | None = None
    ) -> int:
        """Append frames whose valid times the group lacks; return how many were appended."""
        return len(self.append_new(group, frames, attrs))

    def append_new(
        self, group: str, frames: xr.DataArray, attrs: Mapping[str, Any] | None = None
    ) -> pd.DatetimeIndex:
        """Append frames whose valid times the group lacks (in time order); return those times.

        `frames` is (time, y, x) in physical units (NaN for no-data); its attrs, coordinates and
        `name` define the group on the first write; `attrs` become group attributes.
        """
        if frames.dims != ("time", "y", "x"):
            raise ValueError(f"frames must have dims (time, y, x), not {frames.dims}")
        problem = group_problem(group)
        if problem is not None:
            raise ValueError(f"archive {self.path}: refused group {group!r}: {problem}")
        try:
            with self.lock:
                (self.path / LEGACY_LOCK).unlink(missing_ok=True)
                existing = self._writable_group(group)
                if existing is None:
                    appended = self._create_with_first_frames(group, frames, attrs or {})
                else:
                    appended = self._append_locked(*existing, frames)
                consolidate(self.path)
                return appended
        except Timeout:
            raise ArchiveLocked(
                f"archive {self.path} is locked by another process (waited {self.lock_timeout}s)"
            ) from None

    def _writable_group(self, group: str) -> tuple[zarr.Group, int] | None:
        """The committed group opened for writing with its uncommitted tail trimmed; None
        when the group is new (what a crash left of an uncommitted one is removed)."""
        self._recover_swap(group)
        root = self._root("a")
        if group in root and COMMITTED in root[group].attrs:
            node = root[group]
            length = int(node.attrs[COMMITTED])
            stale = [
                node[key]
                for key in (str(node.attrs[VARIABLE]), "time", *ALONG_TIME)
                if key in node and node[key].shape[0] != length
            ]
            for array in stale:
                array.resize((length, *array.shape[1:]))
            if stale:
                for partial in (self.path / group).rglob("*.partial"):
                    partial.unlink(missing_ok=True)
            return node, length
        if group in root:
            del root[group]
        for parent in Path(group).parents[:-1]:
            root.require_group(parent.as_posix())
        return None

    def _recover_swap(self, group: str) -> None:
        """Undo what a writer killed mid-swap left: its temporary copies beside the store and
        inside it are removed, and a group left only as `<group>.old` (where the system cannot
        exchange two folders in one step) is put back."""
        folder = self.path / group
        remove_orphaned_temporaries(self.path.parent)
        remove_orphaned_temporaries(folder.parent)
        backup = folder.with_name(folder.name + BACKUP_SUFFIX)
        if backup.is_dir() and not folder.exists():
            os.replace(backup, folder)

    def _staging(self, group: str) -> Path:
        """A temporary name beside the store where a group is laid out before it moves in."""
        return temporary_sibling(self.path.parent / f"{self.path.name}-{group.replace('/', '-')}")

    def _create_with_first_frames(
        self, group: str, frames: xr.DataArray, attrs: Mapping[str, Any]
    ) -> pd.DatetimeIndex:
        """Lay out a new group with its first frames beside the store, then move it in with
        one rename: a crash or a full disk before that leaves no group at all, never one that
        plain xarray cannot open."""
        staging = self._staging(group)
        try:
            node = self._create_group(open_store(staging, "w"), frames, attrs)
            appended = self._append_locked(node, 0, frames)
            os.replace(staging, self.path / group)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return appended

    def _create_group(
        self, node: zarr.Group, frames: xr.DataArray, attrs: Mapping[str, Any]
    ) -> zarr.Group:
        """Lay out a new group in `node` from the first frames; marks it committed (empty) last."""
        name = str(frames.name or "frames")
        _, ny, nx = frames.shape
        coordinates = [key for key in (*FIXED[2:], *ALONG_TIME) if key in frames.coords]
        data = create_array(
            node,
            name,
            shape=(0, ny, nx),
            chunks=(_time_chunk(ny, nx), ny, nx),
            dtype="float32",
            compressor=COMPRESSOR,
            fill_value=np.nan,
        )
        data_attrs = {**frames.attrs, SCALE: PHYSICAL, DIMS: ["time", "y", "x"]}
        if CADENCE in attrs and "cell_methods" not in data_attrs:
            cadence = pd.Timedelta(seconds=float(attrs[CADENCE]))
            cell_methods = accumulation_cell_methods(str(frames.attrs.get("units", "")), cadence)
            if cell_methods:
                data_attrs["cell_methods"] = cell_methods
        if coordinates:
            data_attrs["coordinates"] = " ".join(coordinates)
        if GRID_MAPPING in frames.coords:
            data_attrs["grid_mapping"] = GRID_MAPPING
        data.attrs.put(json_safe(data_attrs))
        time = create_array(node, "time", shape=(0,), chunks=(TIME_CHUNK,), dtype="int64")
        time.attrs.put({**TIME_ATTRS, DIMS: ["time"]})
        for key in FIXED:
            if key in frames.coords:
                coord = frames[key]
                stored = create_array(
                    node, key, data=coord.values, compressor=COMPRESSOR, fill_value=None
                )
                stored.attrs.put(json_safe({**coord.attrs, DIMS: list(coord.dims)}))
        for key in ALONG_TIME:
            if key in frames.coords:
                stored = create_array(node, key, shape=(0,), chunks=(TIME_CHUNK,), dtype="float32")
                stored.attrs.put(json_safe({**frames[key].attrs, DIMS: ["time"]}))
        if GRID_MAPPING in frames.coords:
            crs = create_array(node, GRID_MAPPING, shape=(), dtype="int32")
            crs.attrs.put(json_safe({**frames[GRID_MAPPING].attrs, DIMS: []}))
        group_attrs = {"Conventions": "CF-1.8", **attrs, VARIABLE: name, "created": iso(now_utc())}
        node.attrs.put(json_safe({**group_attrs, COMMITTED: 0}))
        return node

    def _append_locked(
        self, node: zarr.Group, length: int, frames: xr.DataArray
    ) -> pd.DatetimeIndex:
        """Write the new frames after the committed ones, then commit the new length; frames
        older than the newest stored are merged in time order through a rewritten copy."""
        name = str(node.attrs[VARIABLE])
        for key in ("x", "y"):
            if key in frames.coords and not np.allclose(node[key][...], frames[key].values):
                raise ValueError(f"frames' {key} coordinates differ from archive group {node.path}")
        existing = np.asarray(node["time"][:length], dtype=np.int64)
        incoming = _nanoseconds(frames["time"].values)
        order = np.argsort(incoming, kind="stable")
        _, first = np.unique(incoming[order], return_index=True)
        order = order[first]
        order = order[~np.isin(incoming[order], existing)]
        if order.size == 0:
            return pd.DatetimeIndex([], dtype="datetime64[ns]")
        count = int(order.size)
        new = frames.isel(time=order)
        values = new.values.astype(np.float32, copy=False)
        legacy = legacy_transform(node[name].attrs)
        if legacy is not None:
            values = legacy.to_model(values)
        writes = {name: values, "time": incoming[order]}
        for key in ALONG_TIME:
            if key in node:
                writes[key] = new[key].values.astype(np.float32)
        stamps = np.concatenate([existing, incoming[order]])
        if (np.diff(stamps) > 0).all():
            for key, values in writes.items():
                array = node[key]
                array.resize((length + count, *array.shape[1:]))
                array[length : length + count] = values
            self._commit(node, length + count)
        else:
            self._rewrite_sorted(node, length, writes, np.argsort(stamps, kind="stable"))
        return pd.DatetimeIndex(incoming[order].view("datetime64[ns]"))

    def _rewrite_sorted(
        self, node: zarr.Group, length: int, writes: Mapping[str, np.ndarray], order: np.ndarray
    ) -> None:
        """Commit stored + new rows in time order (`order` of their concatenation) through a
        copy of the group laid out beside the store and swapped in whole, so a kill at any
        step leaves either the old group or the new one, never a mix."""
        group = str(node.path).strip("/")
        folder = self.path / group
        start = int(np.argmax(order != np.arange(order.size)))
        staging = self._staging(group)
        try:
            shutil.copytree(folder, staging)
            copy = open_store(staging, "a")
            for key, values in writes.items():
                _write_rows(node[key], copy[key], length, values, order, start)
            self._commit(copy, int(order.size))
            with atomic_path(folder) as swap:
                os.replace(staging, swap)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def needs_migration(self, group: str) -> bool:
        """Whether a group is of the old form (values stored on the model scale)."""
        node = self._group(group)
        return legacy_transform(node[str(node.attrs[VARIABLE])].attrs) is not None

    def migrate(self, group: str) -> bool:
        """Rewrite an old model-scale group in physical units; False when already physical.

        The physical copy is written beside the old array and swapped in by two renames, so
        an interrupted migration leaves the old array (read as before) or fails loudly.
        """
        self._group(group)
        with self.lock:
            node = self._root("a")[group]
            name = str(node.attrs[VARIABLE])
            array = node[name]
            legacy = legacy_transform(array.attrs)
            if legacy is None:
                return False
            copy = create_array(
                node,
                f"{name}_migrating",
                shape=array.shape,
                chunks=array.chunks,
                dtype="float32",
                compressor=COMPRESSOR,
                fill_value=np.nan,
                overwrite=True,
            )
            step = array.chunks[0]
            for start in range(0, array.shape[0], step):
                stop = min(start + step, array.shape[0])
                copy[start:stop] = legacy.to_physical(array[start:stop])
            copy.attrs.put({**array.attrs.asdict(), SCALE: PHYSICAL})
            folder = self.path / group
            os.replace(folder / name, folder / f"{name}_legacy")
            os.replace(folder / f"{name}_migrating", folder / name)
            shutil.rmtree(folder / f"{name}_legacy")
            consolidate(self.path)
            return True

    def _commit(self, node: zarr.Group, length: int) -> None:
        """Make `length` frames visible to readers (the single atomic step of an append)."""
        node.attrs.update({COMMITTED: length, LAST_INGEST: iso(now_utc())})


def _write_rows(
    stored: zarr.Array,
    target: zarr.Array,
    length: int,
    new: np.ndarray,
    order: np.ndarray,
    start: int,
) -> None:
    """Write rows `start:` of the series ordered by `order` into `target`, one chunk at a time
    (bounded memory): row i < `length` comes from `stored`, row i >= `length` from `new`."""
    total = int(order.size)
    target.resize((total, *target.shape[1:]))
    step = int(target.chunks[0])
    rest = (slice(None),) * (target.ndim - 1)
    for edge in range(start - start % step, total, step):
        low, high = max(edge, start), min(edge + step, total)
        rows = order[low:high]
        block = np.empty((rows.size, *target.shape[1:]), dtype=target.dtype)
        old = rows < length
        if old.any():
            block[old] = stored.get_orthogonal_selection((rows[old], *rest))
        block[~old] = new[rows[~old] - length]
        target[low:high] = block


def _frames(duration: pd.Timedelta, cadence: pd.Timedelta) -> int:
    """How many frames at `cadence` a duration holds; ValueError when it does not divide."""
    count, remainder = divmod(duration, cadence)
    if remainder or count < 1:
        raise ValueError(f"duration {duration} is not a whole number of {cadence} steps")
    return int(count)
