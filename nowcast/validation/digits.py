"""MNIST digits for Moving MNIST: find the idx files, download them once if allowed, split pools."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from nowcast.core.errors import DataMissingError, SourceError
from nowcast.core.files import write_bytes_atomic

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
