"""A least-recently-used cache of arrays bounded by their total size in bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


class BoundedCache:
    """Keeps the most recently used arrays while their bytes fit in `limit_bytes`.

    An array larger than the whole bound is returned but never kept, so the bound always holds.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def get(self, key: Hashable, load: Callable[[], np.ndarray], expected: int = 0) -> np.ndarray:
        """The cached array for `key`, or `load()`'s, kept when it fits (evicting the oldest).

        `expected`, the bytes `load()` will return at most, makes room before loading, so the
        kept arrays and the one being loaded fit in the bound together.
        """
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]
        self.misses += 1
        if expected <= self.limit_bytes:
            self._evict_until(self.limit_bytes - expected)
        value = load()
        if value.nbytes > self.limit_bytes:
            return value
        self._evict_until(self.limit_bytes - value.nbytes)
        self._items[key] = value
        self.nbytes += value.nbytes
        return value

    def resize(self, limit_bytes: int) -> None:
        """Bound the cache by `limit_bytes` from now on, evicting the oldest arrays beyond it."""
        self.limit_bytes = limit_bytes
        self._evict_until(limit_bytes)

    def _evict_until(self, room: int) -> None:
        """Drop the least recently used arrays until they hold at most `room` bytes."""
        while self._items and self.nbytes > room:
            _, evicted = self._items.popitem(last=False)
            self.nbytes -= evicted.nbytes

    def __len__(self) -> int:
        return len(self._items)
