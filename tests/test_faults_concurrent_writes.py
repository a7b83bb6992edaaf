"""Ten processes writing one forecast at once: one readable file, no temporaries left."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import xarray as xr
from forecast_fixtures import bom_forecast

from nowcast.store.forecast_files import write_netcdf, write_zarr

WRITERS = 10


def write_both(job: tuple[Path, Path, Path]) -> tuple[str, str]:
    """Write the forecast held in `source` as NetCDF into `folder` and into the Zarr `store`."""
    source, folder, store = job
    with xr.open_dataset(source) as loaded:
        dataset = loaded.load()
    return str(write_netcdf(dataset, folder)), str(write_zarr(dataset, store))


def test_ten_parallel_writes_of_one_forecast_leave_one_readable_file(tmp_path: Path) -> None:
    dataset = bom_forecast(factor=8)
    source = write_netcdf(dataset, tmp_path / "source")
    folder, store = tmp_path / "forecasts", tmp_path / "forecasts.zarr"
    context = multiprocessing.get_context("fork")
    with context.Pool(WRITERS) as pool:
        written = pool.map(write_both, [(source, folder, store)] * WRITERS)
    (netcdf,) = {Path(n) for n, _ in written}
    (group,) = {Path(z) for _, z in written}
    assert sorted(p.name for p in folder.iterdir()) == [netcdf.name]
    assert not [p for p in store.rglob("*") if ".tmp" in p.name]
    with xr.open_dataset(netcdf) as back, xr.open_dataset(source) as expected:
        np.testing.assert_array_equal(back["forecast"].values, expected["forecast"].values)
    relative = group.relative_to(store).as_posix()
    with xr.open_zarr(store, group=relative) as stored:
        np.testing.assert_array_equal(stored["forecast"].values, dataset["forecast"].values)
