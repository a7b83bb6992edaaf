"""The threads zarr-python reads chunks in, and keeping a one-chunk-at-a-time reader to one.

zarr-python 3 reads and decodes each chunk in a pool thread and assembles the result in its
event-loop thread; glibc gives every such thread its own heap, which keeps the chunk-sized
buffers it freed. zarr-python 2 reads in the caller's thread.
"""

from __future__ import annotations

import os

import zarr

from nowcast.store.archive_layout import ZARR3


def read_threads() -> int:
    """Threads that hold a chunk's stored bytes and decoded values while it is read: zarr-python
    3's pool (`threading.max_workers`, else asyncio's default pool size); 1 (the caller's) for
    zarr-python 2."""
    if not ZARR3:
        return 1
    configured = zarr.config.get("threading.max_workers", None)
    if configured is not None:
        return int(configured)
    cores = getattr(os, "process_cpu_count", os.cpu_count)() or 1
    return min(32, cores + 4)


def read_one_chunk_at_a_time() -> None:
    """Have zarr-python 3 read in one pool thread, unless the site chose a pool size: a reader
    that asks for one chunk at a time gains nothing from more, and each keeps its own heap."""
    if ZARR3 and zarr.config.get("threading.max_workers", None) is None:
        zarr.config.set({"threading.max_workers": 1})
