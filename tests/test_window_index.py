"""The window index is compact: two small arrays, not Python objects per window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from synthetic_squares import CADENCE, write_squares_archive

from nowcast.training.window_index import Window, WindowIndex
from nowcast.training.windows import WindowSpec, find_windows, split_windows

SPEC = WindowSpec(4, 4, CADENCE)


def test_window_index_is_compact_and_lists_the_archive_windows(tmp_path: Path) -> None:
    archive = write_squares_archive(tmp_path / "a.zarr", 2000, size=8, append_every=500)
    index = find_windows(archive, ["squares"], SPEC)
    starts = archive.windows("squares", "40min", "40min")
    assert len(index) == len(starts) > 1900
    assert index.nbytes / len(index) <= 12  # an int32 group number and an int64 start
    assert index.group_ids.dtype == np.int32 and index.starts.dtype == np.int64
    assert list(index) == [Window("squares", s) for s in starts]
    split = split_windows(index, SPEC, 0.15, 0.15)
    assert all(isinstance(part, WindowIndex) for part in split.windows.values())
    assert sum(part.nbytes for part in split.windows.values()) <= index.nbytes


def test_index_slices_takes_and_joins_in_order() -> None:
    times = pd.date_range("2024-01-01", periods=6, freq="10min")
    windows = [Window("b" if i % 2 else "a", t) for i, t in enumerate(times)]
    index = WindowIndex.of(windows)
    assert list(index[1:5:2]) == windows[1:5:2] and index[-1] == windows[-1]
    assert list(index.take(np.array([4, 0]))) == [windows[4], windows[0]]
    joined = WindowIndex.concat([index[3:], WindowIndex.of([Window("c", times[0])])])
    assert list(joined) == [*windows[3:], Window("c", times[0])]
    assert joined.group_names() == ["a", "b", "c"] and joined.groups == ("a", "b", "c")
    assert len(WindowIndex.concat([])) == 0
