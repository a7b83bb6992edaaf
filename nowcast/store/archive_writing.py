"""Committing frames to the archive: appends in place, new groups, and backfills rewritten in
time order beside the store and swapped in whole (the crash safety `archive.py` describes)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr
from filelock import Timeout

from nowcast.core import (
    BACKUP_SUFFIX,
    atomic_path,
    iso,
    json_safe,
    now_utc,
    remove_orphaned_temporaries,
    temporary_sibling,
)
from nowcast.store.archive_layout import (
    ALONG_TIME,
    CADENCE,
    COMMITTED,
    COMPRESSOR,
    DIMS,
    FIXED,
    LAST_INGEST,
    LEGACY_LOCK,
    PHYSICAL,
    SCALE,
    TIME_ATTRS,
    TIME_CHUNK,
    VARIABLE,
    ArchiveLocked,
    accumulation_cell_methods,
    consolidate,
    create_array,
    legacy_transform,
    nanoseconds,
    open_store,
    time_chunk_for,
    write_rows,
)
from nowcast.store.grid import GRID_MAPPING
from nowcast.store.names import group_problem


class ArchiveWriting:
    """The writing part of `Archive`: every commit, under the archive's file lock."""

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
            chunks=(time_chunk_for(ny, nx), ny, nx),
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
        incoming = nanoseconds(frames["time"].values)
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
                write_rows(node[key], copy[key], length, values, order, start)
            self._commit(copy, int(order.size))
            with atomic_path(folder) as swap:
                os.replace(staging, swap)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _commit(self, node: zarr.Group, length: int) -> None:
        """Make `length` frames visible to readers (the single atomic step of an append)."""
        node.attrs.update({COMMITTED: length, LAST_INGEST: iso(now_utc())})
