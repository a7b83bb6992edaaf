"""MNIST idx files, their download with checksum, disjoint digit pools and the fixed test set."""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nowcast.core.errors import ConfigError, DataMissingError, SourceError
from nowcast.mmnist.data import (
    IDX_MD5,
    TEST_FILE,
    TRAIN_FILE,
    SequenceSpec,
    download_idx,
    generated_test_set,
    load_digit_pools,
    load_sequence_file,
    read_idx_images,
)

TEST_DATA = Path(
    os.environ.get("NOWCAST_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
MNIST = TEST_DATA / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST / TEST_FILE).is_file(),
    reason=f"MNIST test digits not found at {MNIST} (set NOWCAST_TEST_DATA)",
)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a folder; yields its URL and the folder."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "mirror"
    folder.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    server.shutdown()
    server.server_close()


@needs_mnist
def test_reads_the_standard_test_digits() -> None:
    images, md5 = read_idx_images(MNIST / TEST_FILE)
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert md5 == IDX_MD5[TEST_FILE]


def test_rejects_a_file_that_is_not_idx(tmp_path: Path) -> None:
    path = tmp_path / TEST_FILE
    path.write_bytes(gzip.compress(b"\x00" * 64))
    with pytest.raises(DataMissingError, match="not an MNIST idx3 image file"):
        read_idx_images(path)


@needs_mnist
def test_one_file_splits_into_disjoint_pools() -> None:
    pools = load_digit_pools(MNIST, download=False)
    images, _ = read_idx_images(MNIST / TEST_FILE)
    assert len(pools.train) == 8_000 and len(pools.test) == 2_000
    assert np.array_equal(pools.train, images[:8_000])
    assert np.array_equal(pools.test, images[8_000:])
    assert "split by index" in pools.description


@needs_mnist
def test_download_from_a_local_mirror(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, folder = served
    shutil.copy(MNIST / TEST_FILE, folder / TEST_FILE)
    monkeypatch.setenv("NOWCAST_CACHE", str(tmp_path / "cache"))
    pools = load_digit_pools(None, download=True, mirrors=(url,))
    cached = tmp_path / "cache" / "mnist" / TEST_FILE
    assert cached.is_file() and not (tmp_path / "cache" / "mnist" / TRAIN_FILE).exists()
    assert len(pools.test) == 2_000
    # A second run finds the cached file and never asks the mirror again.
    (folder / TEST_FILE).unlink()
    assert len(load_digit_pools(None, download=True, mirrors=(url,)).train) == 8_000


def test_download_rejects_a_wrong_checksum(served: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = served
    raw = (0x803).to_bytes(4, "big") + (1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (folder / TEST_FILE).write_bytes(gzip.compress(raw + bytes(784)))
    with pytest.raises(SourceError, match="checksum mismatch"):
        download_idx(TEST_FILE, tmp_path / "cache", (url,))
    assert not (tmp_path / "cache" / TEST_FILE).exists()


def test_missing_digits_name_the_file_and_folder(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = served
    monkeypatch.setenv("NOWCAST_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataMissingError) as failure:
        load_digit_pools(tmp_path / "empty", download=True, mirrors=(url,))
    message = str(failure.value)
    assert TRAIN_FILE in message and str(tmp_path / "empty") in message
    assert "404" in message or "HTTPError" in message


def test_sequence_file_in_the_standard_layout(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 256, (20, 7, 64, 64), dtype=np.uint8)
    path = tmp_path / "mnist_test_seq.npy"
    np.save(path, data)
    test_set = load_sequence_file(path, None, SequenceSpec())
    batches = list(test_set.batches(3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert np.array_equal(np.concatenate(batches), data.transpose(1, 0, 2, 3))
    assert len(list(load_sequence_file(path, 4, SequenceSpec()).batches(10))[0]) == 4


def test_sequence_file_with_the_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((10, 3, 64, 64), dtype=np.uint8))
    with pytest.raises(ConfigError, match="mnist_test_seq.npy"):
        load_sequence_file(path, None, SequenceSpec())


def test_generated_test_set_is_fixed_and_prefix_stable() -> None:
    pool = np.random.default_rng(1).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    large = np.concatenate(list(generated_test_set(pool, 150, SequenceSpec()).batches(64)))
    small = np.concatenate(list(generated_test_set(pool, 5, SequenceSpec()).batches(2)))
    assert large.shape == (150, 20, 64, 64)
    assert np.array_equal(large[:5], small)
    assert np.array_equal(generated_test_set(pool, 5, SequenceSpec()).head(5), small)
