"""Training windows cut from the archive: gap-free, split by time or by storm, read lazily."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from nowcast.core import ConfigError, DataMissingError, iso, short_duration
from nowcast.models import ModelSpace, described_values
from nowcast.store import (
    FrameRows,
    from_attrs,
    read_one_chunk_at_a_time,
    read_threads,
    window_starts_in,
)
from nowcast.training.augment import Draw, apply_draws, augment_draws
from nowcast.training.cache import BoundedCache
from nowcast.training.distributed import shard_slice
from nowcast.training.retimed import TrainingArchive
from nowcast.training.window_index import Window, WindowIndex

SPLITS = ("train", "val", "test")
# What reading the archive loads and no model-only run does: library pages of the code it runs
# (numpy, Blosc, zarr's codecs, pandas time code; 1.1 to 1.9 MB measured) and the modules zarr
# imports to open a store (fsspec; 0.3 to 0.5 MB).
READ_PATH_CODE_BYTES = 5 << 19
UNRESERVED_BATCH = 16  # windows per batch of `WindowReader.batches` before a reservation
DAY_GAP = pd.Timedelta("6h")  # windows further apart than this belong to separate days


@dataclass(frozen=True)
class WindowSpec:
    """Frames in and out at the sampling step (the archive cadence times the stride)."""

    input_frames: int
    output_frames: int
    step: pd.Timedelta

    @property
    def span(self) -> pd.Timedelta:
        """Time from a window's first frame to its last."""
        return (self.input_frames + self.output_frames - 1) * self.step


@dataclass
class Split:
    """Windows per split, and how the split was made (written into the checkpoint sidecar)."""

    windows: dict[str, WindowIndex]
    method: str
    boundaries: dict[str, str] = field(default_factory=dict)

    def describe(self, spec: WindowSpec) -> dict[str, object]:
        """JSON-friendly record of the split: method, boundaries, counts, time ranges, and the
        exact intervals of frames each split read (`intervals`: group, first and last valid
        time), so a backtest leaves out exactly those and nothing between them."""
        record: dict[str, object] = {"method": self.method, "boundaries": self.boundaries}
        for name, windows in self.windows.items():
            starts = windows.starts
            record[name] = {
                "windows": len(windows),
                "groups": windows.group_names(),
                "first_start": iso(pd.Timestamp(int(starts.min()))) if len(starts) else None,
                "last_start": iso(pd.Timestamp(int(starts.max()))) if len(starts) else None,
                "intervals": frame_intervals(windows, spec),
            }
        return record


def frame_intervals(windows: WindowIndex, spec: WindowSpec) -> list[list[str]]:
    """[group, first, last] for each run of overlapping windows: the frames they cover."""
    intervals: list[list[str]] = []
    span = spec.span.value
    for index, group in enumerate(windows.groups):
        starts = np.sort(windows.starts[windows.group_ids == index])
        if not len(starts):
            continue
        breaks = np.flatnonzero(np.diff(starts) > span) + 1
        for run in np.split(starts, breaks):
            first, last = pd.Timestamp(int(run[0])), pd.Timestamp(int(run[-1]) + span)
            intervals.append([group, iso(first), iso(last)])
    return intervals


def find_windows(archive: TrainingArchive, groups: list[str], spec: WindowSpec) -> WindowIndex:
    """Every gap-free window of every group, never crossing from one group (storm) to another."""
    history = spec.input_frames * spec.step
    horizon = spec.output_frames * spec.step
    return WindowIndex.concat(
        [
            WindowIndex.of_group(
                group, window_starts_in(archive.times(group), history, horizon, spec.step)
            )
            for group in groups
        ]
    )


def without_intervals(
    windows: WindowIndex,
    spec: WindowSpec,
    intervals: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
) -> WindowIndex:
    """The windows none of whose frames lies in any [first, last] of `intervals`."""
    keep = np.ones(len(windows), dtype=bool)
    for first, last in intervals:
        ends = windows.starts + spec.span.value
        keep &= (ends < pd.Timestamp(first).value) | (windows.starts > pd.Timestamp(last).value)
    return windows.take(keep)


def separate_days(windows: WindowIndex) -> list[WindowIndex]:
    """The windows cut where consecutive starts lie more than `DAY_GAP` apart (separate days
    in one group), so each day keeps its own held-out periods."""
    order = np.argsort(windows.starts, kind="stable")
    starts = windows.starts[order]
    breaks = np.flatnonzero(np.diff(starts) > DAY_GAP.value) + 1
    return [windows.take(np.sort(part)) for part in np.split(order, breaks)]


def split_windows(
    windows: Sequence[Window], spec: WindowSpec, val_fraction: float, test_fraction: float
) -> Split:
    """Split by storm when there are three or more groups, else by time, each day on its own
    (windows more than `DAY_GAP` apart); never by random window.

    Each held-out period is at least one window long; a time split drops windows that
    straddle a boundary, so no hour is in two splits, and leaves a gap of one history length
    before each held-out period, so no held-out window starts from frames the previous split
    just ended on. An archive too short for a test period as well keeps training and
    validation only (the card then has no test scores); one too short for the gap as well
    splits without it, and the split's record says so (`gap`).
    """
    index = windows if isinstance(windows, WindowIndex) else WindowIndex.of(windows)
    groups = index.group_names()
    if len(groups) >= 3:
        return _split_by_group(index, groups, val_fraction, test_fraction)
    days = separate_days(index)
    if len(days) > 1:
        return merge_splits([split_windows(day, spec, val_fraction, test_fraction) for day in days])
    first = pd.Timestamp(int(index.starts.min()))
    last = pd.Timestamp(int(index.starts.max())) + spec.span
    total = last - first
    history = spec.input_frames * spec.step
    for gap in (history, pd.Timedelta(0)):
        split = _split_by_time(index, spec, total, last, val_fraction, test_fraction, gap)
        if split.windows["train"] and split.windows["val"]:
            break
    return split


def _split_by_time(
    windows: WindowIndex,
    spec: WindowSpec,
    total: pd.Timedelta,
    last: pd.Timestamp,
    val_fraction: float,
    test_fraction: float,
    gap: pd.Timedelta,
) -> Split:
    """Train, then validation, then test periods ending at `last`, `gap` before each held out."""
    val_window = max(total * val_fraction, spec.span)
    test_length = max(total * test_fraction, spec.span)
    val_length = val_window + gap  # the gap before the test period lies inside validation
    if total < 2 * spec.span + gap + val_length + test_length:
        test_length, val_length = pd.Timedelta(0), val_window
    test_from = last - test_length
    val_from = test_from - val_length
    starts = windows.starts
    ends = starts + spec.span.value
    train = ends < (val_from - gap).value
    val = ~train & (starts >= val_from.value)
    if test_length:
        val &= ends < (test_from - gap).value
    test = ~train & ~val & (starts >= test_from.value) if test_length else np.zeros_like(train)
    chosen = {"train": windows.take(train), "val": windows.take(val), "test": windows.take(test)}
    boundaries = {"val_from": iso(val_from), "test_from": iso(test_from), "gap": str(gap)}
    return Split(chosen, "time", boundaries)


def _split_by_group(
    windows: WindowIndex, groups: list[str], val_fraction: float, test_fraction: float
) -> Split:
    """Whole storms per split, ordered by their first window: the latest storms are held out."""
    number = {group: i for i, group in enumerate(windows.groups)}
    first = {g: int(windows.starts[windows.group_ids == number[g]].min()) for g in groups}
    ordered = sorted(groups, key=first.__getitem__)
    n_test = max(1, round(len(ordered) * test_fraction))
    n_val = max(1, round(len(ordered) * val_fraction))
    names = {
        **{g: "train" for g in ordered[: len(ordered) - n_val - n_test]},
        **{g: "val" for g in ordered[len(ordered) - n_val - n_test : len(ordered) - n_test]},
        **{g: "test" for g in ordered[len(ordered) - n_test :]},
    }
    split_of = np.array([SPLITS.index(names.get(g, "train")) for g in windows.groups])
    chosen = {name: windows.take(split_of[windows.group_ids] == i) for i, name in enumerate(SPLITS)}
    boundaries = {name: ",".join(g for g in ordered if names[g] == name) for name in SPLITS}
    return Split(chosen, "storm", boundaries)


def merge_splits(splits: list[Split]) -> Split:
    """Several pipelines' splits as one: each keeps its own held-out periods."""
    if len(splits) == 1:
        return splits[0]
    windows = {name: WindowIndex.concat([s.windows[name] for s in splits]) for name in SPLITS}
    boundaries = {
        f"{i}.{key}": value
        for i, split in enumerate(splits)
        for key, value in split.boundaries.items()
    }
    return Split(windows, "+".join(sorted({split.method for split in splits})), boundaries)


def require_windows(split: Split, pipeline: str, spec: WindowSpec) -> None:
    """Refuse to train without at least one training and one validation window."""
    counts = {name: len(split.windows[name]) for name in SPLITS}
    if counts["train"] == 0 or counts["val"] == 0:
        needed = short_duration(spec.span + spec.step)
        raise DataMissingError(
            f"pipeline {pipeline} has too few gap-free windows of {spec.input_frames} + "
            f"{spec.output_frames} frames every {short_duration(spec.step)} (train "
            f"{counts['train']}, val {counts['val']}, test {counts['test']}); each split needs "
            f"{needed} without gaps: ingest a longer period, e.g. "
            f"`nowcast ingest --pipeline {pipeline} --since 7d`, or use --stride"
        )


@dataclass(frozen=True)
class _GroupIndex:
    """What a reader keeps of a group for good: its frames by time position and transform."""

    frames: FrameRows
    to_model: Callable[[np.ndarray], np.ndarray]
    block: int

    @property
    def block_bytes(self) -> int:
        """Bytes of one decoded block: `block` frames of float32 pixels."""
        return self.block * math.prod(self.frames.grid) * 4

    @property
    def index_bytes(self) -> int:
        """Bytes of the frame times (and stored order) the reader keeps for the group."""
        order = self.frames.order
        return self.frames.times.nbytes + (0 if order is None else order.nbytes)


class WindowReader:
    """Reads windows as (T, 1, H, W) model-scale arrays (NaN where no data), streaming from
    Zarr: whole stored chunks of frames (blocks), kept in a least-recently-used cache.

    `cache_mb` bounds the reader's whole data path once `reserve_batches` knows the batch size
    (`TrainingBatches` tells it): the cache gets what is left after the batch it assembles
    (batch x frames x H x W x 4 bytes), the buffers reading a block leaves in Zarr's reading
    threads (`read_buffers`), the groups' frame times it keeps and the code reading loads
    (`READ_PATH_CODE_BYTES`). Until then the cache alone has the bound. Zarr reads in one pool
    thread unless the site chose more (`read_one_chunk_at_a_time`). `batches` splits a long
    list of windows (validation, test) into batches of the reserved size, so those stay inside
    the bound too; arrays a caller keeps are the caller's memory.

    Values reach the model scale through `space` (the model's value space, e.g. rain rate
    whatever each group stores), else through each group's own transform. `reads` counts the
    windows read, so tests can check who read what.
    """

    def __init__(
        self,
        archive: TrainingArchive,
        spec: WindowSpec,
        cache_mb: float = 512.0,
        space: ModelSpace | None = None,
    ) -> None:
        self.archive = archive
        self.spec = spec
        self.cache_mb = cache_mb
        self.space = space
        self.cache = BoundedCache(int(cache_mb * 2**20))
        self.reads = 0
        self.batch_windows: int | None = None  # the smallest reserved batch
        read_one_chunk_at_a_time()
        self._groups: dict[str, _GroupIndex] = {}

    def _group(self, group: str) -> _GroupIndex:
        """The group's frames by time position and its transform (no pixels are read here)."""
        if group not in self._groups:
            frames = self.archive.frame_rows(group)
            if self.space is None:
                to_model = from_attrs(frames.attrs).to_model
            else:
                stored = described_values(frames.attrs, self.archive.cadence(group))
                to_model = self.space.reader(stored)
            self._groups[group] = _GroupIndex(frames, to_model, self.archive.time_chunk(group))
        return self._groups[group]

    def _block(self, group: str, index: _GroupIndex, number: int) -> np.ndarray:
        """One block of consecutive frames (a stored chunk's worth), model-scale float32."""

        def load() -> np.ndarray:
            values = index.frames.read(slice(number * index.block, (number + 1) * index.block))
            return np.ascontiguousarray(index.to_model(values), dtype=np.float32)

        return self.cache.get((group, number), load, expected=index.block_bytes)

    def reserve_batches(self, batch_size: int, groups: Iterable[str]) -> None:
        """Leave the cache what `cache_mb` holds beyond a batch of `batch_size` windows of these
        groups and the read path's buffers, indexes and code (several reservations keep the smallest
        cache); a ConfigError when that leaves no room for even one cached block."""
        indexes = [self._group(group) for group in groups]
        pixels = max((math.prod(index.frames.grid) for index in indexes), default=0)
        block_bytes = max((index.block_bytes for index in indexes), default=0)
        batch_bytes = batch_size * self._frames() * pixels * 4
        indexes_bytes = sum(index.index_bytes for index in indexes)
        reading = read_buffers(block_bytes) + indexes_bytes + READ_PATH_CODE_BYTES
        working = batch_bytes + reading
        room = int(self.cache_mb * 2**20) - working
        if room < block_bytes:
            needed = math.ceil((working + block_bytes) / 2**20 * 10) / 10
            raise ConfigError(
                f"training.cache_mb = {self.cache_mb:g} is too small for batches of "
                f"{batch_size} windows: the batch ({batch_bytes / 2**20:.1f} MB), reading "
                f"({reading / 2**20:.1f} MB) and at least one cached block "
                f"({block_bytes / 2**20:.1f} MB) need {needed:g} MB; set training.cache_mb to "
                f"{needed:g} or more"
            )
        self.cache.resize(min(self.cache.limit_bytes, room))
        self.batch_windows = min(self.batch_windows or batch_size, batch_size)

    def grid(self, group: str) -> tuple[int, int]:
        """The group's frame size (rows, columns), without reading pixels."""
        return self._group(group).frames.grid

    def read(self, window: Window) -> np.ndarray:
        """The window's frames, inputs then targets, shaped (T, 1, H, W)."""
        return self.read_at(window.group, window.start.value)

    def read_at(self, group: str, start: int) -> np.ndarray:
        """The window of `group` whose first frame is at `start` (ns since 1970), as `read`."""
        rows, columns = self.grid(group)
        window = np.empty((self._frames(), 1, rows, columns), dtype=np.float32)
        self.read_into(window, group, start)
        return window

    def read_into(self, out: np.ndarray, group: str, start: int) -> None:
        """Write the window of `group` starting at `start` (ns) into `out`, (T, 1, H, W)
        float32: each frame is copied once, from its cached block, so nothing is stacked."""
        index = self._group(group)
        times = index.frames.times
        total = self._frames()
        if out.shape != (total, 1, *index.frames.grid):
            raise ValueError(
                f"{group}: a window is {(total, 1, *index.frames.grid)}, not {out.shape}"
            )
        wanted = start + np.arange(total, dtype=np.int64) * self.spec.step.value
        positions = np.searchsorted(times, wanted).clip(max=len(times) - 1)
        if len(times) == 0 or (times[positions] != wanted).any():
            raise DataMissingError(f"{group}: window at {iso(pd.Timestamp(start))} has gaps")
        for frame, position in zip(out[:, 0], positions.tolist(), strict=True):
            frame[...] = self._block(group, index, position // index.block)[position % index.block]
        self.reads += 1

    def batch(self, windows: Sequence[Window]) -> torch.Tensor:
        """A (B, T, 1, H, W) tensor of several windows, each written straight into one array."""
        index = windows if isinstance(windows, WindowIndex) else WindowIndex.of(windows)
        if not len(index):
            raise ValueError("a batch needs at least one window")
        rows, columns = self.grid(index.groups[index.group_ids[0]])
        batch = np.empty((len(index), self._frames(), 1, rows, columns), dtype=np.float32)
        for window, group, start in zip(
            batch, index.group_ids.tolist(), index.starts.tolist(), strict=True
        ):
            self.read_into(window, index.groups[group], start)
        return torch.from_numpy(batch)

    def batches(self, windows: Sequence[Window]) -> Iterator[torch.Tensor]:
        """`batch` of each run of at most `batch_windows` windows (`UNRESERVED_BATCH` before a
        reservation), in order: a long list read within the memory reserved for one batch."""
        size = self.batch_windows or UNRESERVED_BATCH
        for start in range(0, len(windows), size):
            yield self.batch(windows[start : start + size])

    def _frames(self) -> int:
        """Frames in a window: inputs then targets."""
        return self.spec.input_frames + self.spec.output_frames


def read_buffers(block_bytes: int) -> int:
    """Bytes that reading blocks of `block_bytes` leaves allocated beyond the cache: the
    assembled block, and a block's stored bytes and decoded values in each reading thread."""
    return (1 + 2 * read_threads()) * block_bytes


class TrainingBatches:
    """Batch source for the trainer: random training windows drawn with the trainer's generator,
    optionally cropped to `crop` pixels, turned/flipped (`flips`) and scaled in rain rate by a
    factor drawn log-uniformly in `gain` (on the log rain `scale` the reader gives)."""

    def __init__(
        self,
        reader: WindowReader,
        windows: Sequence[Window],
        batch_size: int,
        crop: int | None = None,
        flips: bool = False,
        gain: tuple[float, float] | None = None,
    ) -> None:
        if gain is not None and (reader.space is None or reader.space.units is None):
            raise ConfigError("a rain-rate gain needs rain: the pipelines hold no rain rate")
        self.reader = reader
        self.windows = windows if isinstance(windows, WindowIndex) else WindowIndex.of(windows)
        self.batch_size = batch_size
        reader.reserve_batches(batch_size, self.windows.groups)
        self.crop = crop
        self.flips = flips
        self.gain = gain

    def picks(self, generator: torch.Generator) -> list[int]:
        """The global batch's window indices (the same on every rank: the same generator)."""
        return torch.randint(len(self.windows), (self.batch_size,), generator=generator).tolist()

    def __call__(self, iteration: int, generator: torch.Generator) -> torch.Tensor:
        """The global batch for `iteration` (the generator state makes resumes identical)."""
        return self.shard(iteration, generator, 0, 1)

    def shard(
        self, iteration: int, generator: torch.Generator, rank: int, world_size: int
    ) -> torch.Tensor:
        """Rank `rank`'s contiguous part of the global batch, reading only its windows, each
        cropped and turned/flipped exactly as it is in the global batch."""
        part = shard_slice(self.batch_size, rank, world_size)
        picks = self.picks(generator)
        batch = self.reader.batch(self.windows.take(np.asarray(picks[part], dtype=np.int64)))
        draws = self.draws(generator, (batch.shape[-2], batch.shape[-1]))
        return self.augment(batch, draws, part)

    def draws(self, generator: torch.Generator, grid: tuple[int, int]) -> list[Draw] | None:
        """The global batch's crops and symmetries, drawn after its picks (None: no
        augmentation, and nothing drawn)."""
        if self.crop is None and not self.flips and self.gain is None:
            return None
        return augment_draws(self.batch_size, generator, grid, self.crop, self.flips, self.gain)

    def augment(self, batch: torch.Tensor, draws: list[Draw] | None, part: slice) -> torch.Tensor:
        """This rank's windows cropped and turned/flipped by their share of the draws."""
        if draws is None:
            return batch
        scale = None if self.gain is None else self.reader.space.transform
        return apply_draws(batch, draws[part], self.crop, self.flips, scale)
