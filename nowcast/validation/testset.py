"""The fixed Moving MNIST test set: the standard `mnist_test_seq.npy`, or seeded generation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nowcast.core.errors import ConfigError, DataMissingError
from nowcast.validation.generator import SequenceSpec, generate

TEST_SEED = 20_151_231
# Sequences are generated in whole chunks with their own seeds, so the first N sequences are
# the same whatever test-set size is asked for.
CHUNK = 100


@dataclass(frozen=True)
class TestSet:
    """A fixed, reproducible set of uint8 `(T, H, W)` sequences served in batches."""

    __test__ = False

    size: int
    description: str
    file: np.ndarray | None = None
    pool: np.ndarray | None = None
    spec: SequenceSpec = SequenceSpec()

    def _chunk(self, index: int) -> np.ndarray:
        """Sequences `index*CHUNK` up to the next chunk, read or generated."""
        start, stop = index * CHUNK, min((index + 1) * CHUNK, self.size)
        if self.file is not None:
            return np.asarray(self.file[:, start:stop]).transpose(1, 0, 2, 3)
        rng = np.random.default_rng([TEST_SEED, index])
        return generate(self.pool, CHUNK, rng, self.spec)[: stop - start]

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """All sequences in order, as uint8 arrays of up to `batch_size` sequences."""
        frame_shape = (self.spec.frames, self.spec.size, self.spec.size)
        buffer = np.empty((0, *frame_shape), dtype=np.uint8)
        for index in range((self.size + CHUNK - 1) // CHUNK):
            buffer = np.concatenate([buffer, self._chunk(index)])
            while len(buffer) >= batch_size:
                yield buffer[:batch_size]
                buffer = buffer[batch_size:]
        if len(buffer):
            yield buffer

    def head(self, count: int) -> np.ndarray:
        """The first `count` sequences, for sample figures."""
        return next(self.batches(min(count, self.size)))


def load_sequence_file(path: Path, size: int | None, spec: SequenceSpec) -> TestSet:
    """The standard `mnist_test_seq.npy` layout: uint8 `(T, N, H, W)`, memory-mapped."""
    if not path.is_file():
        raise DataMissingError(f"test file not found: {path}")
    try:
        data = np.load(path, mmap_mode="r")
    except ValueError as exc:
        raise ConfigError(f"{path}: not a .npy array ({exc})") from None
    expected = (spec.frames, spec.size, spec.size)
    if data.ndim != 4 or (data.shape[0], *data.shape[2:]) != expected or data.dtype != np.uint8:
        raise ConfigError(
            f"{path}: expected uint8 of shape ({spec.frames}, N, {spec.size}, {spec.size}) "
            f"like mnist_test_seq.npy, got {data.dtype} {data.shape}"
        )
    count = data.shape[1] if size is None else min(size, data.shape[1])
    return TestSet(size=count, description=f"{count} sequences from {path.name}", file=data)


def generated_test_set(pool: np.ndarray, size: int, spec: SequenceSpec) -> TestSet:
    """`size` sequences generated with the fixed test seed from the held-out digit `pool`."""
    description = f"{size} sequences generated with seed {TEST_SEED} from held-out test digits"
    return TestSet(size=size, description=description, pool=pool, spec=spec)
