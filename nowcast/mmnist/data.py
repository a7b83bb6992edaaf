"""Moving MNIST data: MNIST digits, the standard generator, and the fixed test set.

Digits: find the idx files, download them once if allowed, split them into disjoint pools.
Generator (Srivastava et al., 2015): each sequence places `digits` MNIST digits at uniform random
positions of the free canvas (canvas minus digit size), moves each along a uniform random
direction by `step_length` of the free canvas per frame, and at a border clamps the position and
reverses that velocity component, exactly as the reference code does. Positions are recorded
after each step and truncated to whole pixels; overlapping digits combine by pixel-wise maximum.
Test set: the standard `mnist_test_seq.npy`, or seeded generation from the held-out digits.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from nowcast.core import ConfigError, DataMissingError, SourceError, write_bytes_atomic

log = logging.getLogger(__name__)

TRAIN_FILE = "train-images-idx3-ubyte.gz"
TEST_FILE = "t10k-images-idx3-ubyte.gz"
# MD5 of the *uncompressed* idx files: mirrors that recompress the gzip change only its bytes.
IDX_MD5 = {
    TRAIN_FILE: "6bbc9ace898e44ae57da46a324031adb",
    TEST_FILE: "2646ac647ad5339dbf082846283269ea",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
HOME_PAGE = "http://yann.lecun.com/exdb/mnist/"
IDX3_MAGIC = 0x00000803
# With one idx file only, its last fifth becomes the test pool, disjoint from the training pool.
HELD_OUT_FRACTION = 0.2
TEST_SEED = 20_151_231
# Sequences are generated in whole chunks with their own seeds, so the first N sequences are
# the same whatever test-set size is asked for.
CHUNK = 100


@dataclass(frozen=True)
class DigitPools:
    """Disjoint digit images for training and for the fixed test set, and where they came from."""

    train: np.ndarray
    test: np.ndarray
    description: str
    files: dict[str, str]


def user_cache_dir() -> Path:
    """The folder nowcast caches downloads in: $NOWCAST_CACHE, else $XDG_CACHE_HOME/nowcast."""
    if os.environ.get("NOWCAST_CACHE"):
        return Path(os.environ["NOWCAST_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nowcast"


def parse_idx_images(raw: bytes, source: str) -> np.ndarray:
    """Decode uncompressed idx3 bytes into a `(N, rows, cols)` uint8 array."""
    if len(raw) < 16:
        raise DataMissingError(f"{source}: too short to be an idx3 image file")
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != IDX3_MAGIC or len(raw) != 16 + count * rows * cols:
        raise DataMissingError(f"{source}: not an MNIST idx3 image file (bad header or length)")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def read_idx_images(path: Path) -> tuple[np.ndarray, str]:
    """The images of a gzipped idx3 file and the MD5 of its uncompressed bytes."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataMissingError(f"{path}: cannot read as gzip ({exc})") from None
    return parse_idx_images(raw, str(path)), hashlib.md5(raw).hexdigest()


def _session() -> requests.Session:
    """An HTTP session that retries transient failures with backoff."""
    retry = Retry(total=3, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504))
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def download_idx(name: str, folder: Path, mirrors: tuple[str, ...], timeout: float = 30) -> Path:
    """Fetch one idx file from the first mirror that serves it with the right checksum."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    failures = []
    with _session() as session:
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                response = session.get(url, timeout=timeout)
                response.raise_for_status()
                digest = hashlib.md5(gzip.decompress(response.content)).hexdigest()
            except (requests.RequestException, OSError, EOFError) as exc:
                failures.append(f"{url}: {type(exc).__name__}")
                continue
            if digest != IDX_MD5[name]:
                failures.append(f"{url}: checksum mismatch (md5 {digest})")
                continue
            write_bytes_atomic(target, response.content)
            log.info("downloaded %s into %s", url, folder)
            return target
    raise SourceError(f"could not download {name}: " + "; ".join(failures))


def find_idx_files(folders: list[Path]) -> dict[str, Path]:
    """The MNIST image files present in the first folder that holds any of them."""
    for folder in folders:
        found = {n: folder / n for n in (TRAIN_FILE, TEST_FILE) if (folder / n).is_file()}
        if found:
            return found
    return {}


def _fetch_into_cache(cache: Path, mirrors: tuple[str, ...]) -> tuple[dict[str, Path], list[str]]:
    """Download both image files into the cache; return those obtained and why others failed."""
    found, failures = {}, []
    for name in (TRAIN_FILE, TEST_FILE):
        try:
            found[name] = download_idx(name, cache, mirrors)
        except SourceError as exc:
            failures.append(str(exc))
    return found, failures


def _split(images: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Split one file's digits by index into disjoint train and test pools."""
    cut = int(round(len(images) * (1 - HELD_OUT_FRACTION)))
    note = (
        f"only {name} was available: digits 0..{cut - 1} train the model and digits "
        f"{cut}..{len(images) - 1} make the test set (split by index, disjoint)"
    )
    return images[:cut], images[cut:], note


def pools_from_files(files: dict[str, Path]) -> DigitPools:
    """Training digits from the train file and test digits from t10k, or a split of the one file."""
    loaded = {name: read_idx_images(path) for name, path in files.items()}
    checksums = {str(files[name]): md5 for name, (_, md5) in loaded.items()}
    unusual = [n for n, (_, md5) in loaded.items() if md5 != IDX_MD5[n]]
    if len(loaded) == 2:
        train, test = loaded[TRAIN_FILE][0], loaded[TEST_FILE][0]
        note = f"training digits from {TRAIN_FILE}, test digits from {TEST_FILE} (disjoint)"
    else:
        (name, (images, _)) = next(iter(loaded.items()))
        train, test, note = _split(images, name)
    if unusual:
        note += f"; warning: {', '.join(unusual)} differ from the standard MNIST files (md5)"
    return DigitPools(train=train, test=test, description=note, files=checksums)


def load_digit_pools(
    mnist_dir: Path | None, download: bool, mirrors: tuple[str, ...] = MIRRORS
) -> DigitPools:
    """Digit pools from `mnist_dir` or the user cache, downloading into the cache when allowed."""
    cache = user_cache_dir() / "mnist"
    folders = [mnist_dir, cache] if mnist_dir else [cache]
    files = find_idx_files(folders)
    failures = ["download disabled"] if not download else []
    if not files and download:
        files, failures = _fetch_into_cache(cache, mirrors)
    if not files:
        where = mnist_dir or cache
        raise DataMissingError(
            f"MNIST digits not found: put {TRAIN_FILE} (and/or {TEST_FILE}, from {HOME_PAGE}) "
            f"in {where}, or pass --mnist-dir DIR ({'; '.join(failures)})"
        )
    return pools_from_files(files)


@dataclass(frozen=True)
class SequenceSpec:
    """Shape of the generated sequences: 20 frames of 64x64 with two digits, by default."""

    frames: int = 20
    size: int = 64
    digits: int = 2
    step_length: float = 0.1


def bounce(start: np.ndarray, velocity: np.ndarray, frames: int, step_length: float) -> np.ndarray:
    """Positions in [0, 1] over `frames` steps from `start` (any shape), bouncing at 0 and 1."""
    position = np.array(start, dtype=np.float64)
    speed = np.array(velocity, dtype=np.float64)
    track = np.empty((frames, *position.shape), dtype=np.float64)
    for frame in range(frames):
        position = position + speed * step_length
        low, high = position <= 0.0, position >= 1.0
        position = np.where(low, 0.0, np.where(high, 1.0, position))
        speed = np.where(low | high, -speed, speed)
        track[frame] = position
    return track


def render(digits: np.ndarray, top: np.ndarray, left: np.ndarray, size: int) -> np.ndarray:
    """Paint `digits[s, k]` at pixel offsets `top/left[s, k, t]`: uint8 `(S, T, size, size)`."""
    count, per_sequence, frames = top.shape
    height, width = digits.shape[-2:]
    canvas = np.zeros((count, frames, size, size), dtype=np.uint8)
    for s in range(count):
        for k in range(per_sequence):
            for t in range(frames):
                y, x = top[s, k, t], left[s, k, t]
                window = canvas[s, t, y : y + height, x : x + width]
                np.maximum(window, digits[s, k], out=window)
    return canvas


def generate(
    pool: np.ndarray, count: int, rng: np.random.Generator, spec: SequenceSpec = SequenceSpec()
) -> np.ndarray:
    """`count` sequences drawn from the digit `pool` (N, h, w uint8): uint8 `(count, T, H, W)`."""
    free = spec.size - pool.shape[-1]
    shape = (count, spec.digits)
    chosen = pool[rng.integers(0, len(pool), size=shape)]
    start = rng.random((2, *shape))
    theta = rng.random(shape) * 2.0 * np.pi
    velocity = np.stack([np.sin(theta), np.cos(theta)])
    track = bounce(start, velocity, spec.frames, spec.step_length)
    pixels = (free * track).astype(np.int64)
    top, left = np.moveaxis(pixels[:, 0], 0, -1), np.moveaxis(pixels[:, 1], 0, -1)
    return render(chosen, top, left, spec.size)


def to_unit(frames: np.ndarray) -> np.ndarray:
    """uint8 frames as float32 in [0, 1]."""
    return frames.astype(np.float32) / np.float32(255.0)


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
