"""The archive's on-disk layout: attribute names, encodings and chunking, and the small
Zarr helpers every part of the archive writes and reads through."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zarr
from numcodecs import Blosc

from nowcast.core import NowcastError
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


def time_chunk_for(ny: int, nx: int) -> int:
    """Frames per data chunk: about 1 MiB of float32, between 1 and 256 frames."""
    return int(np.clip(CHUNK_BYTES // (4 * ny * nx), 1, 256))


def nanoseconds(times: Any) -> np.ndarray:
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


def clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as a DataArray shows them (without Zarr's and CF's bookkeeping keys)."""
    return {k: v for k, v in attrs.items() if k not in (DIMS, "coordinates")}


def frame_attrs(node: zarr.Group, array: zarr.Array) -> dict[str, Any]:
    """A group's frame attributes as `Archive.read` gives them: the variable's, marked
    physical, then the group's own (without the commit bookkeeping)."""
    group = {k: v for k, v in node.attrs.items() if k not in (COMMITTED, VARIABLE)}
    return {**clean_attrs(array.attrs), SCALE: PHYSICAL, **group}


def write_rows(
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


def frames_in(duration: pd.Timedelta, cadence: pd.Timedelta) -> int:
    """How many frames at `cadence` a duration holds; ValueError when it does not divide."""
    count, remainder = divmod(duration, cadence)
    if remainder or count < 1:
        raise ValueError(f"duration {duration} is not a whole number of {cadence} steps")
    return int(count)


class ArchiveLocked(NowcastError):
    """Another process held the archive lock for longer than the timeout."""
