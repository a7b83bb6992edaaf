"""Training windows read ahead in `torch.utils.data` worker processes.

The training process still makes every random draw with the trainer's generator, in the order
of the in-process `TrainingBatches`, so a seed gives the same batches with 0 or N workers and a
resumed run continues identically. A private copy of the generator plans the coming batches,
and the workers read only this rank's windows of them. Each worker opens the archive itself
(the dataset carries its path, never an open store) and its own reader, whose data path (chunk
cache, the batch it assembles, the read buffers and code) is bounded by `cache_mb`: N workers
hold up to N bounds, beside the training process's own reader, which still reads the validation and
test windows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import count
from typing import Any

import numcodecs.blosc
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from nowcast.core import ConfigError
from nowcast.models import ModelSpace
from nowcast.training.distributed import shard_slice
from nowcast.training.retimed import TrainingArchive
from nowcast.training.window_index import WindowIndex
from nowcast.training.windows import TrainingBatches, WindowReader, WindowSpec

Task = tuple[int, np.ndarray, np.ndarray]
"""One rank's reads for one iteration: (iteration, group numbers, start times in ns)."""


class WindowDataset(Dataset[tuple[int, Tensor]]):
    """Reads a task's windows through the reader of whichever process asks, opened there."""

    def __init__(
        self,
        archive: TrainingArchive,
        groups: tuple[str, ...],
        spec: WindowSpec,
        cache_mb: float,
        batch_size: int,
        space: ModelSpace | None = None,
    ) -> None:
        self.archive = archive
        self.groups = groups
        self.spec = spec
        self.cache_mb = cache_mb
        self.batch_size = batch_size
        self.space = space
        self._reader: WindowReader | None = None
        self._pid = -1

    def reader(self) -> WindowReader:
        """This process's reader, opened on first use (a forked worker opens its own)."""
        if self._reader is None or self._pid != os.getpid():
            archive = self.archive.reopened()
            self._reader = WindowReader(archive, self.spec, self.cache_mb, self.space)
            self._reader.reserve_batches(self.batch_size, self.groups)
            self._pid = os.getpid()
        return self._reader

    def __getitem__(self, task: Task) -> tuple[int, Tensor]:
        """The task's iteration and its windows as a (B, T, 1, H, W) tensor."""
        iteration, group_ids, starts = task
        return iteration, self.reader().batch(WindowIndex(self.groups, group_ids, starts))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its reader, so a spawned worker opens the store itself."""
        return {**self.__dict__, "_reader": None, "_pid": -1}


class _Plan(Sampler[Task]):
    """The read tasks of iterations `first`, `first` + 1, ..., drawn with a private generator
    started from the trainer's generator state; keeps the state before each iteration's draws,
    so the training process can check that its own draws are the planned ones."""

    def __init__(
        self,
        batches: TrainingBatches,
        windows: WindowIndex,
        state: Tensor,
        first: int,
        part: slice,
        grid: tuple[int, int],
    ) -> None:
        self.batches = batches
        self.windows = windows
        self.state = state
        self.first = first
        self.part = part
        self.grid = grid
        self.states: dict[int, Tensor] = {}

    def __iter__(self) -> Iterator[Task]:
        generator = torch.Generator()
        generator.set_state(self.state)
        for iteration in count(self.first):
            self.states[iteration] = generator.get_state()
            picks = np.asarray(self.batches.picks(generator), dtype=np.int64)[self.part]
            self.batches.draws(generator, self.grid)
            chosen = self.windows.take(picks)
            yield iteration, chosen.group_ids, chosen.starts

    def planned(self, iteration: int, state: Tensor, part: slice) -> bool:
        """Whether this plan's task for `iteration` was drawn from `state` for `part`."""
        expected = self.states.pop(iteration, None)
        return part == self.part and expected is not None and torch.equal(expected, state)


def _one_blosc_thread(worker: int) -> None:
    """Worker set-up: decompress in the worker's own thread (the workers are the parallelism)."""
    numcodecs.blosc.use_threads = False


class LoaderBatches:
    """`TrainingBatches` whose windows `workers` DataLoader worker processes read ahead; the
    same batches, draws and generator states as `TrainingBatches` itself. Call `close` (or let
    it be collected) to stop the workers."""

    def __init__(self, batches: TrainingBatches, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"loader workers must be 1 or more, not {workers}")
        self.batches = batches
        self.batch_size = batches.batch_size
        self.workers = workers
        self.windows = batches.windows
        reader = batches.reader
        self.dataset = WindowDataset(
            reader.archive,
            self.windows.groups,
            reader.spec,
            reader.cache_mb,
            self.batch_size,
            reader.space,
        )
        self._plan: _Plan | None = None
        self._stream: Iterator[tuple[int, Tensor]] | None = None

    def __call__(self, iteration: int, generator: torch.Generator) -> Tensor:
        """The global batch for `iteration`, as `TrainingBatches` gives it."""
        return self.shard(iteration, generator, 0, 1)

    def shard(
        self, iteration: int, generator: torch.Generator, rank: int, world_size: int
    ) -> Tensor:
        """Rank `rank`'s part of the global batch, as `TrainingBatches.shard` gives it."""
        part = shard_slice(self.batch_size, rank, world_size)
        state = generator.get_state()
        self.batches.picks(generator)
        grid = self.batches.reader.grid(self.windows[0].group)
        draws = self.batches.draws(generator, grid)
        stream = self._stream
        if stream is None or self._plan is None or not self._plan.planned(iteration, state, part):
            stream = self._start(iteration, state, part, grid)
        done, batch = next(stream)
        if done != iteration:
            raise RuntimeError(f"loader workers returned iteration {done} for {iteration}")
        return self.batches.augment(batch, draws, part)

    def _start(
        self, iteration: int, state: Tensor, part: slice, grid: tuple[int, int]
    ) -> Iterator[tuple[int, Tensor]]:
        """(Re)start the workers on a plan drawn from `state`: the first call, or a resume."""
        self.close()
        plan = _Plan(self.batches, self.windows, state, iteration, part, grid)
        loader = DataLoader(
            self.dataset,
            batch_size=None,
            sampler=plan,
            num_workers=self.workers,
            worker_init_fn=_one_blosc_thread,
            generator=torch.Generator(),  # worker seeds, not drawn from torch's global RNG
        )
        self._stream = iter(loader)
        plan.states.pop(iteration, None)
        self._plan = plan
        return self._stream

    def close(self) -> None:
        """Stop the worker processes (they are started again by the next `shard`)."""
        self._stream = None
        self._plan = None
