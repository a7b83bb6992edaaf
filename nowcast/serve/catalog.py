"""The forecasts on disk, listed from file names and cached by folder mtime (no NetCDF opened).

A request for the overview with a thousand stored forecasts costs a few `stat` calls: each
pipeline folder is rescanned only when its modification time changes (a new forecast file
renamed into place changes it). Per-file details (method, model, units) come from opening the
file once, cached by the file's own mtime.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from nowcast.core import NowcastError
from nowcast.serve.security import PathRefused, safe_file, valid_name
from nowcast.store import ForecastFile, open_forecast, parse_forecast_name

DETAILS_CACHED = 64
DATASETS_CACHED = 8
# netCDF4/HDF5 is not thread-safe: the threadpool serving images opens one file at a time.
NETCDF_LOCK = threading.Lock()


class UnreadableForecast(Exception):
    """A stored forecast the page cannot show (damaged, incomplete or too large): why, in one
    line; it stays in its own card and page, the rest of the site answers as usual."""


@dataclass(frozen=True)
class Entry:
    """One stored forecast: its id (the file stem), pipeline, init time and file mtime."""

    id: str
    pipeline: str
    init_time: pd.Timestamp
    mtime_ns: int
    path: Path

    @property
    def relative(self) -> str:
        """The NetCDF path relative to the forecasts folder, as the file route takes it."""
        return f"{self.pipeline}/{self.path.name}"


@dataclass(frozen=True)
class Details:
    """What a card shows about a forecast that its file name does not say."""

    method: str
    model: str
    units: str
    long_name: str
    leads: int


class _Folder:
    """The cached, sorted listing of one pipeline folder."""

    def __init__(self, mtime_ns: int, entries: list[Entry]) -> None:
        self.mtime_ns = mtime_ns
        self.entries = entries
        self.by_id = {entry.id: entry for entry in entries}


def _scan(root: Path, pipeline: str) -> list[Entry]:
    """Forecast files in one pipeline folder, oldest first, from their names and stat only.

    The same rule as the file route: a name that is hidden, or a link that leads out of the
    forecasts folder, is no forecast of this site."""
    entries = []
    with os.scandir(root / pipeline) as listing:
        for item in listing:
            if item.name.startswith("."):
                continue
            try:
                safe_file(root, f"{pipeline}/{item.name}")
            except (PathRefused, OSError):
                continue
            found: ForecastFile | None = parse_forecast_name(Path(item.path))
            if found is None or found.pipeline != pipeline:
                continue
            stem = Path(item.name).stem
            mtime = item.stat().st_mtime_ns
            entries.append(Entry(stem, pipeline, found.init_time, mtime, found.path))
    return sorted(entries, key=lambda e: e.init_time)


class Catalog:
    """Thread-safe, mtime-cached index of `<forecasts>/<pipeline>/<pipeline>_<init>_<method>.nc`."""

    def __init__(self, forecasts_dir: Path, max_bytes: float = float("inf")) -> None:
        self.root = forecasts_dir
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._folders: dict[str, _Folder] = {}
        self._names: tuple[int, list[str]] | None = None
        self._details: OrderedDict[tuple[Path, int], Details] = OrderedDict()
        self._datasets: OrderedDict[tuple[Path, int], xr.Dataset] = OrderedDict()

    def pipelines(self) -> list[str]:
        """Pipeline folder names, sorted (cached by the forecasts folder's mtime)."""
        try:
            mtime = self.root.stat().st_mtime_ns
        except OSError:
            return []
        with self._lock:
            if self._names is None or self._names[0] != mtime:
                with os.scandir(self.root) as listing:
                    names = sorted(
                        item.name
                        for item in listing
                        if item.is_dir()
                        and not item.name.startswith(".")
                        and valid_name(item.name)
                        and not _is_zarr_store(Path(item.path))
                    )
                self._names = (mtime, names)
            return list(self._names[1])

    def _folder(self, pipeline: str) -> _Folder | None:
        """The cached listing of one pipeline, rescanned when the folder changed."""
        if not valid_name(pipeline):
            return None
        folder = self.root / pipeline
        try:
            mtime = folder.stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            cached = self._folders.get(pipeline)
            if cached is None or cached.mtime_ns != mtime:
                cached = _Folder(mtime, _scan(self.root, pipeline))
                self._folders[pipeline] = cached
            return cached

    def forecasts(self, pipeline: str) -> list[Entry] | None:
        """A pipeline's forecasts oldest first; None when there is no such pipeline."""
        folder = self._folder(pipeline)
        return None if folder is None else list(folder.entries)

    def newest(self, pipeline: str) -> Entry | None:
        """A pipeline's newest forecast, if any."""
        folder = self._folder(pipeline)
        return folder.entries[-1] if folder and folder.entries else None

    def find(self, forecast_id: str) -> Entry | None:
        """The forecast with this id (its file stem, `<pipeline>_<init>[_<method>]`), or None."""
        if not valid_name(forecast_id):
            return None
        named = parse_forecast_name(Path(f"{forecast_id}.nc"))
        folder = self._folder(named.pipeline) if named else None
        return folder.by_id.get(forecast_id) if folder else None

    def revision(self) -> str:
        """A short token that changes whenever a forecast lands (for the page's polling)."""
        newest = [self.newest(name) for name in self.pipelines()]
        return ";".join(entry.id for entry in newest if entry is not None)

    def dataset(self, entry: Entry) -> xr.Dataset:
        """The forecast's dataset, loaded once per file version (a few kept)."""
        key = (entry.path, entry.mtime_ns)
        with self._lock:
            if key in self._datasets:
                self._datasets.move_to_end(key)
                return self._datasets[key]
        with NETCDF_LOCK, _unreadable(entry):
            self._check_size(entry)
            ds = open_forecast(entry.path)
        with self._lock:
            self._datasets[key] = ds
            while len(self._datasets) > DATASETS_CACHED:
                self._datasets.popitem(last=False)
        return ds

    def details(self, entry: Entry) -> Details:
        """Method, model, units and lead count of one forecast (opened once per file version)."""
        key = (entry.path, entry.mtime_ns)
        with self._lock:
            if key in self._details:
                return self._details[key]
        with (
            NETCDF_LOCK,
            _unreadable(entry),
            xr.open_dataset(entry.path, engine="netcdf4", decode_timedelta=True) as ds,
        ):
            self._check_size(entry, ds)
            field = ds["forecast"]
            found = Details(
                method=str(ds.attrs.get("method", "")),
                model=str(ds.attrs.get("model", "")),
                units=str(field.attrs.get("units", "")),
                long_name=str(field.attrs.get("long_name") or field.attrs.get("standard_name", "")),
                leads=int(ds.sizes.get("lead_time", 0)),
            )
        with self._lock:
            self._details[key] = found
            while len(self._details) > DETAILS_CACHED:
                self._details.popitem(last=False)
        return found

    def _check_size(self, entry: Entry, lazy: xr.Dataset | None = None) -> None:
        """Refuse a file whose arrays, as its header declares them, exceed the bound."""
        if lazy is None:
            with xr.open_dataset(entry.path, engine="netcdf4", decode_timedelta=True) as opened:
                return self._check_size(entry, opened)
        declared = sum(variable.nbytes for variable in lazy.variables.values())
        if declared > self.max_bytes:
            raise UnreadableForecast(
                f"{entry.path.name}: its arrays hold {declared / 2**20:.0f} MB, over the "
                f"{self.max_bytes / 2**20:.0f} MB bound (serve.max_forecast_mb)"
            )


def _is_zarr_store(folder: Path) -> bool:
    """A Zarr store (such as the forecast store beside the pipeline folders), not a pipeline."""
    return (folder / ".zgroup").is_file() or (folder / "zarr.json").is_file()


@contextmanager
def _unreadable(entry: Entry) -> Iterator[None]:
    """Turn any failure to read a forecast file into one `UnreadableForecast` line."""
    try:
        yield
    except UnreadableForecast:
        raise
    except (NowcastError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        reason = str(exc).replace(str(entry.path), entry.path.name) or type(exc).__name__
        raise UnreadableForecast(f"{entry.path.name} cannot be read: {reason}") from None
