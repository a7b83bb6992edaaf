"""The Zarr archive: append/dedupe/read, windows and gaps, crash recovery, the on-disk format."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr

from nowcast.core.errors import DataMissingError
from nowcast.store.archive import Archive
from nowcast.store.archive_layout import COMMITTED, ArchiveLocked, open_store
from nowcast.store.grid import crs_coord, crs_of
from nowcast.store.transform import Transform, from_attrs

CRS = pyproj.CRS.from_epsg(3577)
LEGACY = Path(__file__).parent / "data" / "archive-v0.1.zarr"  # written by release 0.1.0


def frames(hours: list[int], value: float | None = None, ny: int = 8, nx: int = 6) -> xr.DataArray:
    """Frames at the given hours of 2024-01-01, each filled with its hour (or `value`)."""
    times = pd.DatetimeIndex([pd.Timestamp("2024-01-01") + pd.Timedelta(hours=h) for h in hours])
    data = np.stack([np.full((ny, nx), h if value is None else value, np.float32) for h in hours])
    transform = Transform(kind="linear", vmin=170, vmax=300, invert=True)
    return xr.DataArray(
        data / 100.0,
        dims=("time", "y", "x"),
        coords={
            "time": times,
            "y": ("y", np.arange(ny, 0, -1) * 1000.0, {"units": "m"}),
            "x": ("x", np.arange(nx) * 1000.0, {"units": "m"}),
            "crs": crs_coord(CRS),
        },
        attrs={"units": "K", "standard_name": "toa_brightness_temperature", **transform.to_attrs()},
        name="bt",
    )


@pytest.fixture()
def archive(tmp_path: Path) -> Archive:
    """An empty archive in a temporary folder."""
    return Archive(tmp_path / "a.zarr")


def test_append_dedupes_and_reads_back_lazily(archive: Archive) -> None:
    assert archive.groups() == [] and not archive.exists()
    assert archive.append("demo", frames([0, 1, 2]), {"cadence_s": 3600}) == 3
    assert archive.append("demo", frames([1, 2])) == 0  # re-ingesting is a no-op
    assert archive.append("demo", frames([3, 3, 4])) == 2  # duplicates within a batch too
    series = archive.read("demo")
    assert isinstance(series.variable._data, xr.core.indexing.LazilyIndexedArray)
    assert series.dims == ("time", "y", "x") and series.sizes["time"] == 5
    assert series.time.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_allclose(series.isel(time=-1).values, 0.04)
    assert series.attrs["units"] == "K" and series.attrs["cadence_s"] == 3600
    assert crs_of(series).equals(CRS)
    physical = from_attrs(series.attrs).to_physical(series.values)
    assert physical.dtype == np.float32
    assert archive.groups() == ["demo"]


def test_time_encoding_is_int64_ns_since_1970(archive: Archive) -> None:
    archive.append("demo", frames([0, 1]))
    time = open_store(archive.path, "r")["demo/time"]
    assert time.dtype == np.int64
    assert time.attrs["units"] == "nanoseconds since 1970-01-01"
    assert time[0] == pd.Timestamp("2024-01-01").value
    data_attrs = json.loads((archive.path / "demo" / "bt" / ".zattrs").read_text())
    assert data_attrs["_ARRAY_DIMENSIONS"] == ["time", "y", "x"]
    assert data_attrs["grid_mapping"] == "crs"


def test_late_frames_are_archived_and_read_sorted(archive: Archive) -> None:
    archive.append("demo", frames([0, 1, 3, 4]), {"cadence_s": 3600})
    assert [g.missing for g in archive.gaps("demo")] == [1]
    assert archive.append("demo", frames([2])) == 1
    series = archive.read("demo")
    assert list(series.time.dt.hour.values) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(series.values[:, 0, 0], [0, 0.01, 0.02, 0.03, 0.04])
    assert archive.gaps("demo") == []


def test_windows_latest_and_gaps(archive: Archive) -> None:
    hours = [h for h in range(24) if h != 10]
    archive.append("demo", frames(hours), {"cadence_s": 3600})
    assert archive.cadence("demo") == pd.Timedelta("1h")
    gap = archive.gaps("demo")[0]
    assert (gap.after.hour, gap.before.hour, gap.missing) == (9, 11, 1)
    starts = archive.windows("demo", "3h", "1h")
    assert [t.hour for t in starts] == [0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    latest = archive.latest("demo", "4h")
    assert latest.sizes["time"] == 4 and latest.time.dt.hour.values[-1] == 23
    at_nine = archive.latest("demo", "2h", at=pd.Timestamp("2024-01-01T09:00"))
    assert list(at_nine.time.dt.hour.values) == [8, 9]
    with pytest.raises(DataMissingError, match="history incomplete"):
        archive.latest("demo", "3h", at=pd.Timestamp("2024-01-01T11:00"))
    with pytest.raises(ValueError, match="whole number"):
        archive.windows("demo", "90min", "1h")


def test_storm_groups_are_nested(archive: Archive) -> None:
    storm = (
        frames([0, 1])
        .drop_vars("crs")
        .assign_coords(
            center_lat=("time", np.array([20.0, 20.5], np.float32)),
            center_lon=("time", np.array([130.0, 129.5], np.float32)),
        )
    )
    archive.append("digital-typhoon/202224", storm)
    archive.append("digital-typhoon/202225", storm)
    assert archive.groups() == ["digital-typhoon/202224", "digital-typhoon/202225"]
    series = archive.read("digital-typhoon/202224")
    np.testing.assert_allclose(series.center_lat.values, [20.0, 20.5])
    assert '"Latitude of natural origin",20.5' in crs_of(series).to_wkt()


def test_uncommitted_tail_is_invisible_and_trimmed(archive: Archive) -> None:
    archive.append("demo", frames([0, 1, 2]))
    node = open_store(archive.path, "a")["demo"]
    for key in ("bt", "time"):  # what a process killed mid-append leaves behind
        node[key].resize((5, *node[key].shape[1:]))
    node["bt"][3:5] = 99.0
    node["time"][3:5] = [pd.Timestamp("2024-01-01T05").value] * 2
    assert node.attrs[COMMITTED] == 3
    assert archive.read("demo").sizes["time"] == 3
    assert float(archive.read("demo").max()) < 1
    assert archive.append("demo", frames([5])) == 1  # the next writer trims, then appends
    series = archive.read("demo")
    assert list(series.time.dt.hour.values) == [0, 1, 2, 5]
    assert float(series.max()) < 1


def test_grid_change_is_refused(archive: Archive) -> None:
    archive.append("demo", frames([0]))
    with pytest.raises(ValueError, match="differ from archive group"):
        archive.append("demo", frames([1]).assign_coords(x=frames([1]).x + 10.0))


def test_unknown_group_lists_known(archive: Archive) -> None:
    with pytest.raises(DataMissingError, match="no archive yet"):
        archive.read("demo")
    archive.append("demo", frames([0]))
    with pytest.raises(DataMissingError, match=r"no group 'radar' \(has: demo\)"):
        archive.read("radar")


def test_summary_for_status(archive: Archive) -> None:
    archive.append("demo", frames([0, 1, 4]), {"cadence_s": 3600})
    (row,) = archive.summary()
    assert (row.group, row.variable, row.units, row.frames) == ("demo", "bt", "K", 3)
    assert (row.gaps, row.missing, row.cadence) == (1, 2, pd.Timedelta("1h"))
    assert row.last_ingest is not None and row.end.hour == 4


def metadata_files(store: Path) -> set[str]:
    """The names of every Zarr metadata file in a store."""
    names = {".zgroup", ".zarray", ".zattrs", ".zmetadata", "zarr.json"}
    return {path.name for path in store.rglob("*") if path.name in names}


def test_store_is_one_format_consolidated_with_the_lock_beside_it(archive: Archive) -> None:
    archive.append("demo", frames([0, 1]), {"cadence_s": 3600})
    archive.append("digital-typhoon/202224", frames([0]).drop_vars("crs"))
    assert metadata_files(archive.path) == {".zgroup", ".zarray", ".zattrs", ".zmetadata"}
    assert Path(archive.lock.lock_file) == archive.path.parent / "a.zarr.lock"
    assert not list(archive.path.glob("*lock*"))
    consolidated = json.loads((archive.path / ".zmetadata").read_text())["metadata"]
    assert consolidated["demo/time/.zarray"]["shape"] == [2]
    archive.append("demo", frames([2]))
    consolidated = json.loads((archive.path / ".zmetadata").read_text())["metadata"]
    assert consolidated["demo/time/.zarray"]["shape"] == [3]
    assert consolidated["demo/.zattrs"][COMMITTED] == 3


def test_plain_xarray_opens_every_group_without_warnings(archive: Archive) -> None:
    archive.append("demo", frames([0, 1, 2]), {"cadence_s": 3600})
    archive.append("digital-typhoon/202224", frames([3]).drop_vars("crs"))
    for group, hours in (("demo", [0, 1, 2]), ("digital-typhoon/202224", [3])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opened = xr.open_zarr(archive.path, group=group)
        assert list(opened.time.dt.hour.values) == hours
        np.testing.assert_allclose(opened["bt"].values[:, 0, 0], np.array(hours) / 100.0)


def test_plain_xarray_in_a_fresh_process_raises_no_user_warning(archive: Archive) -> None:
    archive.append("demo", frames([0, 1]), {"cadence_s": 3600})
    code = f"import xarray as xr; print(xr.open_zarr({str(archive.path)!r}, group='demo').sizes)"
    ran = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    assert "'time': 2" in ran.stdout


def test_lock_held_elsewhere_refuses_the_append(archive: Archive) -> None:
    archive.append("demo", frames([0]))
    other = Archive(archive.path, lock_timeout=0.1)
    with archive.lock:
        with pytest.raises(ArchiveLocked, match="locked by another process"):
            other.append("demo", frames([1]))
    assert other.append("demo", frames([1])) == 1
    assert archive.times("demo").hour.tolist() == [0, 1]


def test_store_written_by_release_0_1_opens_and_grows(tmp_path: Path) -> None:
    store = shutil.copytree(LEGACY, tmp_path / "old.zarr")
    assert not (store / ".zmetadata").exists() and (store / ".nowcast.lock").exists()
    archive = Archive(store)
    assert archive.groups() == ["demo", "digital-typhoon/202224"]
    series = archive.read("demo")
    assert list(series.time.dt.hour.values) == [0, 1, 2, 4, 5]
    # Release 0.1 stored the model scale (demo: 300..170 K -> 0..1); it now reads as kelvin.
    model_scale = np.broadcast_to([[[0]], [[1]], [[2]], [[4]], [[5]]], (5, 8, 6)) / 100.0
    np.testing.assert_allclose(series.values, 300.0 - 130.0 * model_scale, rtol=1e-6)
    assert series.attrs["cadence_s"] == 3600 and crs_of(series).equals(CRS)
    storm = archive.read("digital-typhoon/202224")
    np.testing.assert_allclose(storm.center_lat.values, [20.0, 20.5])
    assert archive.append("demo", frames([3, 6])) == 2
    assert not (store / ".nowcast.lock").exists()
    assert list(archive.read("demo").time.dt.hour.values) == [0, 1, 2, 3, 4, 5, 6]
    assert metadata_files(store) == {".zgroup", ".zarray", ".zattrs", ".zmetadata"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert archive.groups() == ["demo", "digital-typhoon/202224"]
        opened = xr.open_zarr(store, group="demo")
    assert opened.sizes["time"] == 7
