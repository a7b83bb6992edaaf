"""Training windows as a compact index: a group number and a start time per window, in arrays."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Window:
    """One training sequence: an archive group and its first frame's time."""

    group: str
    start: pd.Timestamp


class WindowIndex(Sequence[Window]):
    """Windows held as int32 group numbers and int64 start times (ns since 1970), 12 bytes a
    window instead of two Python objects; a `Window` is made only when one is asked for."""

    def __init__(self, groups: Sequence[str], group_ids: np.ndarray, starts: np.ndarray) -> None:
        self.groups = tuple(groups)
        self.group_ids = np.asarray(group_ids, dtype=np.int32)
        self.starts = np.asarray(starts, dtype=np.int64)

    @classmethod
    def of_group(cls, group: str, starts: np.ndarray) -> WindowIndex:
        """The windows of one group, from their start times in ns."""
        return cls((group,), np.zeros(len(starts), dtype=np.int32), starts)

    @classmethod
    def of(cls, windows: Iterable[Window]) -> WindowIndex:
        """The index of a list of `Window`s, in their order."""
        listed = list(windows)
        groups = tuple(dict.fromkeys(w.group for w in listed))
        number = {group: i for i, group in enumerate(groups)}
        ids = np.fromiter((number[w.group] for w in listed), dtype=np.int32, count=len(listed))
        starts = np.fromiter((w.start.value for w in listed), dtype=np.int64, count=len(listed))
        return cls(groups, ids, starts)

    @classmethod
    def concat(cls, parts: Sequence[WindowIndex]) -> WindowIndex:
        """The windows of several indexes, one after the other, group numbers renumbered."""
        groups = tuple(dict.fromkeys(g for part in parts for g in part.groups))
        number = {group: i for i, group in enumerate(groups)}
        ids = [
            np.array([number[g] for g in part.groups], dtype=np.int32)[part.group_ids]
            for part in parts
        ]
        starts = [np.zeros(0, np.int64), *(part.starts for part in parts)]
        return cls(groups, np.concatenate([np.zeros(0, np.int32), *ids]), np.concatenate(starts))

    def take(self, positions: np.ndarray) -> WindowIndex:
        """The windows at integer positions or where a boolean mask is true, in that order."""
        return WindowIndex(self.groups, self.group_ids[positions], self.starts[positions])

    def group_names(self) -> list[str]:
        """The groups that have at least one window here, sorted."""
        return sorted(self.groups[i] for i in np.unique(self.group_ids))

    @property
    def nbytes(self) -> int:
        """Bytes held by the per-window arrays."""
        return self.group_ids.nbytes + self.starts.nbytes

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, item: int) -> Window: ...

    @overload
    def __getitem__(self, item: slice) -> WindowIndex: ...

    def __getitem__(self, item: int | slice) -> Window | WindowIndex:
        if isinstance(item, slice):
            return WindowIndex(self.groups, self.group_ids[item], self.starts[item])
        return Window(self.groups[self.group_ids[item]], pd.Timestamp(int(self.starts[item])))

    def __iter__(self) -> Iterator[Window]:
        for i in range(len(self)):
            yield self[i]
