"""The archive keeps its time axis sorted on disk: plain `xr.open_zarr` sees frames in time
order after a backfill of older frames, and a kill mid-rewrite loses or half-writes nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import REPO
from ingest_fixtures import cli, write_settings
from test_archive import frames

import nowcast.store.archive_layout as layout
from nowcast.store.archive import Archive
from nowcast.store.archive_layout import COMMITTED, open_store

HOUR = np.timedelta64(1, "h")


def plain_hours(store: Path, group: str = "demo") -> tuple[list[int], np.ndarray]:
    """Hours after 2024-01-01 and the stored values (x 100) as plain xarray reads a group."""
    with xr.open_zarr(store, group=group) as plain:
        hours = ((plain.time.values - np.datetime64("2024-01-01")) // HOUR).tolist()
        return hours, np.round(plain["bt"].values[:, 0, 0] * 100, 3)


def assert_sorted_and_right(store: Path, group: str = "demo") -> list[int]:
    """A strictly increasing time axis whose frame at each time holds that time's value."""
    hours, values = plain_hours(store, group)
    assert all(np.diff(hours) > 0), hours
    np.testing.assert_array_equal(values, hours)
    return hours


def leftovers(store: Path) -> list[str]:
    """Temporary copies beside the store or inside it (a killed writer's)."""
    names = [p.name for p in store.parent.iterdir() if p.name.startswith(".")]
    return names + [p.name for p in store.rglob(".*") if p.is_dir()]


@pytest.fixture()
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Archive:
    """An empty archive whose data chunks hold 3 frames, so a rewrite spans several chunks."""
    monkeypatch.setattr(layout, "CHUNK_BYTES", 3 * 4 * 8 * 6)
    return Archive(tmp_path / "a.zarr")


def test_a_backfill_is_stored_in_time_order(archive: Archive) -> None:
    assert archive.append("demo", frames(list(range(10, 18))), {"cadence_s": 3600}) == 8
    assert archive.time_chunk("demo") == 3
    assert archive.append("demo", frames([2, 0, 1, 12])) == 3  # older than all stored
    assert assert_sorted_and_right(archive.path) == [0, 1, 2, *range(10, 18)]
    assert archive.append("demo", frames([5, 20, 3])) == 3  # between, and after
    expected = [0, 1, 2, 3, 5, *range(10, 18), 20]
    assert assert_sorted_and_right(archive.path) == expected
    assert archive.append("demo", frames([21, 22])) == 2  # in order: appended in place
    assert assert_sorted_and_right(archive.path) == [*expected, 21, 22]
    assert pd.DatetimeIndex(archive.read("demo").time.values).equals(archive.times("demo"))
    rows = archive.frame_rows("demo")
    assert rows.order is None and rows.read(slice(0, 3))[:, 0, 0].tolist() == pytest.approx(
        [0, 0.01, 0.02]
    )
    assert open_store(archive.path, "r")["demo"].attrs[COMMITTED] == 16
    assert archive.groups() == ["demo"] and leftovers(archive.path) == []


def test_storm_positions_move_with_their_frames(archive: Archive) -> None:
    def storm(hours: list[int]) -> xr.DataArray:
        return (
            frames(hours)
            .drop_vars("crs")
            .assign_coords(
                center_lat=("time", np.array([20.0 + h for h in hours], np.float32)),
                center_lon=("time", np.array([130.0 - h for h in hours], np.float32)),
            )
        )

    archive.append("typhoon/202224", storm([4, 5, 6]))
    archive.append("typhoon/202224", storm([1, 2]))
    hours = assert_sorted_and_right(archive.path, "typhoon/202224")
    with xr.open_zarr(archive.path, group="typhoon/202224") as plain:
        np.testing.assert_allclose(plain.center_lat.values, [20.0 + h for h in hours])
        np.testing.assert_allclose(plain.center_lon.values, [130.0 - h for h in hours])
    assert archive.groups() == ["typhoon/202224"]


def test_a_group_stored_in_arrival_order_is_sorted_by_its_next_commit(archive: Archive) -> None:
    archive.append("demo", frames([5, 6]), {"cadence_s": 3600})
    node = open_store(archive.path, "a")["demo"]  # what an older release stored for a late frame
    for key in ("bt", "time"):
        node[key].resize((3, *node[key].shape[1:]))
    node["bt"][2] = frames([1]).values[0]
    node["time"][2] = pd.Timestamp("2024-01-01T01").value
    node.attrs[COMMITTED] = 3
    assert archive.append("demo", frames([7])) == 1
    assert assert_sorted_and_right(archive.path) == [1, 5, 6, 7]


def test_a_failed_rewrite_leaves_the_group_as_it_was(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.append("demo", frames([4, 5, 6]), {"cadence_s": 3600})

    def full_disk(*_: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(Archive, "_commit", full_disk)
    with pytest.raises(OSError, match="No space"):
        archive.append("demo", frames([1, 2]))
    assert assert_sorted_and_right(archive.path) == [4, 5, 6]
    assert archive.times("demo").hour.tolist() == [4, 5, 6]
    assert leftovers(archive.path) == []


KILLER = """
import os, signal, sys
import numpy as np
import zarr
sys.path.insert(0, "tests")
import nowcast.core.files as files
import nowcast.store.archive as archive_module
from test_archive import frames

STEP = sys.argv[2]

def kill_at(step):
    if step == STEP:
        os.kill(os.getpid(), signal.SIGKILL)

write = zarr.Array.__setitem__
def write_or_die(self, *args):
    kill_at("write:" + self.basename)
    return write(self, *args)
zarr.Array.__setitem__ = write_or_die
commit = archive_module.Archive._commit
def commit_or_die(self, *args):
    kill_at("commit")
    return commit(self, *args)
archive_module.Archive._commit = commit_or_die
exchange = files._exchange
def exchange_or_die(*args):
    kill_at("exchange")
    done = exchange(*args)
    kill_at("exchanged")
    return done
files._exchange = exchange_or_die
archive_module.Archive(sys.argv[1]).append("demo", frames([1, 2, 3]))
"""


@pytest.mark.parametrize("step", ["write:bt", "write:time", "commit", "exchange", "exchanged"])
def test_a_kill_mid_rewrite_leaves_old_or_new_never_a_mix(tmp_path: Path, step: str) -> None:
    store = tmp_path / "a.zarr"
    archive = Archive(store)
    archive.append("demo", frames([4, 5, 6]), {"cadence_s": 3600})
    script = tmp_path / "killer.py"
    script.write_text(textwrap.dedent(KILLER))
    killed = subprocess.run([sys.executable, str(script), str(store), step], cwd=REPO)
    assert killed.returncode == -signal.SIGKILL
    seen = assert_sorted_and_right(store)
    assert seen in ([4, 5, 6], [1, 2, 3]), seen  # consolidated: the old length of either
    assert archive.times("demo").hour.tolist() in ([4, 5, 6], [1, 2, 3, 4, 5, 6])
    assert archive.groups() == ["demo"]
    assert archive.append("demo", frames([1, 2, 3, 7])) >= 1  # the rerun completes the backfill
    assert assert_sorted_and_right(store) == [1, 2, 3, 4, 5, 6, 7]
    assert leftovers(store) == []


def test_backfill_through_the_cli_reads_sorted_with_plain_xarray(
    tmp_path: Path, repo_root: Path
) -> None:
    """Newer hours first, then older ones and a gap between (`--since` backfills): the store
    equals one ingested in time order."""
    runs = [
        ("2024-09-05T00:00Z", "2024-09-05T03:00Z"),
        ("2024-09-04T18:00Z", "2024-09-04T19:00Z"),
        ("2024-09-04T20:00Z", "2024-09-04T23:00Z"),
    ]
    (tmp_path / "backfilled").mkdir()
    (tmp_path / "in-order").mkdir()
    config = write_settings(tmp_path / "backfilled", repo_root / "pipelines")
    for since, until in runs:
        result = cli(config, "ingest", "-p", "demo", "--since", since, "--until", until)
        assert result.exit_code == 0, result.output
    reference = write_settings(tmp_path / "in-order", repo_root / "pipelines")
    result = cli(reference, "ingest", "-p", "demo", "--since", runs[1][0], "--until", runs[0][1])
    assert result.exit_code == 0, result.output
    stores = [path.parent / "archive" / "nowcast.zarr" for path in (config, reference)]
    with (
        xr.open_zarr(stores[0], group="demo") as plain,
        xr.open_zarr(stores[1], group="demo") as ref,
    ):
        times = pd.DatetimeIndex(plain.time.values)
        assert times.is_monotonic_increasing and times.is_unique and len(times) == 10
        assert times[0] == pd.Timestamp("2024-09-04T18:00")
        assert sorted(plain.variables) == sorted(ref.variables)
        for name in ref.variables:
            np.testing.assert_array_equal(plain[name].values, ref[name].values, err_msg=name)
