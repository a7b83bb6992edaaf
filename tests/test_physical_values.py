"""The archive holds physical values: plain `xr.open_zarr` of each ingested group equals an
independent pysteps read of the source files, block-averaged in the documented space."""

from __future__ import annotations

import contextlib
import io
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from conftest import shared_data_path
from ingest_fixtures import BOM, MCH, SAF, cli, write_settings

from nowcast.ingest.sources.synthetic import Storm, SyntheticOptions
from nowcast.products.styles import field_style
from nowcast.store.archive import Archive
from nowcast.store.transform import Transform

KNMI = ("radar", "knmi-20100826")
FMI = ("radar", "fmi-pgm-20160928")

PIPELINES = {
    "knmi-radar": """
[source]
kind = "directory"
path = "${NOWCAST_KNMI_DIR}"
pattern = "RAD_NL25_RAP_5min_%Y%m%d%H%M.h5"
format = "knmi_hdf5"
cadence = "5min"
[grid]
shape = [64, 64]
[transform]
kind = "log10"
vmin = 0.01
vmax = 10.0
[forecast]
history = "10min"
horizon = "10min"
""",
    "fmi-radar": """
[source]
kind = "directory"
path = "${NOWCAST_FMI_DIR}"
pattern = "%Y%m%d%H%M_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz"
format = "fmi_pgm"
cadence = "5min"
[source.reader.importer_kwargs]
gzipped = true
[grid]
shape = [64, 64]
[transform]
kind = "linear"
vmin = -10.0
vmax = 60.0
""",
    "saf-full": """
[source]
kind = "directory"
path = "${NOWCAST_SAF_DIR}"
pattern = "S_NWC_CRR_MSG4_Europe-VISIR_%Y%m%dT%H%M%SZ.nc"
format = "netcdf"
variable = "crr_intensity"
cadence = "15min"
[grid]
shape = [64, 64]
[transform]
kind = "log10"
vmin = 0.1
vmax = 100.0
""",
}


def pysteps_read(name: str, path: Path) -> np.ndarray:
    """One source file read independently through pysteps' importer (NaN for no-data)."""
    with contextlib.redirect_stdout(io.StringIO()):
        from pysteps.io import importers

    readers = {
        "bom-radar": lambda p: importers.import_bom_rf3(p),
        "mch-radar": lambda p: importers.import_mch_gif(p, "AQC", "mm", 5),
        "knmi-radar": lambda p: importers.import_knmi_hdf5(p),
        "fmi-radar": lambda p: importers.import_fmi_pgm(p, gzipped=True),
        "saf-full": lambda p: importers.import_saf_crri(p),
    }
    data = readers[name](str(path))[0]
    return np.ma.filled(np.ma.asarray(data, dtype=np.float64), np.nan)


def block_average(values: np.ndarray, shape: tuple[int, int], decibel: bool) -> np.ndarray:
    """Centre-trimmed block mean ignoring NaN; dB values averaged as 10^(v/10)."""
    (ny, nx), (h, w) = shape, values.shape
    fy, fx = h // ny, w // nx
    r0, c0 = (h - fy * ny) // 2, (w - fx * nx) // 2
    cut = values[r0 : r0 + fy * ny, c0 : c0 + fx * nx].reshape(ny, fy, nx, fx)
    if decibel:
        cut = 10.0 ** (cut / 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        mean = np.nanmean(cut, axis=(1, 3))
    return 10.0 * np.log10(mean) if decibel else mean


CASES = {
    # pipeline: (data folder, env var, first file, first time, last time)
    "bom-radar": (BOM, "NOWCAST_BOM_DIR", "66_20201031_120000.prcp-c10.nc", "12:00", "12:10"),
    "mch-radar": (MCH, "NOWCAST_MCH_DIR", "AQC161932100V_00005.801.gif", "21:00", "21:05"),
    "knmi-radar": (KNMI, "NOWCAST_KNMI_DIR", "RAD_NL25_RAP_5min_201008260300.h5", "03:00", "03:05"),
    "fmi-radar": (
        FMI,
        "NOWCAST_FMI_DIR",
        "201609281600_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz",
        "16:00",
        "16:05",
    ),
    "saf-full": (
        SAF,
        "NOWCAST_SAF_DIR",
        "S_NWC_CRR_MSG4_Europe-VISIR_20180601T120000Z.nc",
        "12:00",
        "12:15",
    ),
}
DAYS = {
    "bom-radar": "2020-10-31",
    "mch-radar": "2016-07-11",
    "knmi-radar": "2010-08-26",
    "fmi-radar": "2016-09-28",
    "saf-full": "2018-06-01",
}


def ingest(
    tmp_path: Path, repo_root: Path, name: str, text: str | None = None, like: str | None = None
) -> tuple[Path, Path]:
    """Ingest two frames of pipeline `name` (its TOML `text`, else above, else shipped: the
    shipped fmi-radar stores rain rate, these tests read dBZ; the files of pipeline `like`, else
    its own); return the archive path and the first source file."""
    folder, env_var, first, start, end = CASES[like or name]
    data = shared_data_path(*folder)
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir(parents=True)
    shipped = repo_root / "pipelines" / f"{name}.toml"
    if text is None:
        text = PIPELINES[name] if name in PIPELINES else shipped.read_text()
    (pipelines / f"{name}.toml").write_text(text)
    config = write_settings(tmp_path, pipelines)
    day = DAYS[like or name]
    since, until = f"{day}T{start}Z", f"{day}T{end}Z"
    env = {env_var: str(data)}
    result = cli(config, "ingest", "-p", name, "--since", since, "--until", until, env=env)
    assert result.exit_code == 0, result.output
    return tmp_path / "archive" / "nowcast.zarr", data / first


@pytest.mark.parametrize("name", sorted(CASES))
def test_open_zarr_shows_physical_values(tmp_path: Path, repo_root: Path, name: str) -> None:
    store, first = ingest(tmp_path, repo_root, name)
    group = xr.open_zarr(store, group=name, consolidated=False)
    variable = group[group.attrs["nowcast_variable"]]
    stored = variable.isel(time=0).values.astype(np.float64)
    decibel = variable.attrs["units"] == "dBZ"
    expected = block_average(pysteps_read(name, first), (64, 64), decibel)
    assert pd.Timestamp(group.time.values[0]).strftime("%H:%M") == CASES[name][3]
    np.testing.assert_array_equal(np.isnan(stored), np.isnan(expected))
    np.testing.assert_allclose(stored, expected, rtol=1e-4, equal_nan=True)
    assert np.nanmax(stored) > 0


def test_demo_group_equals_the_synthetic_storm_block_averaged(
    tmp_path: Path, repo_root: Path
) -> None:
    shipped = repo_root / "pipelines" / "demo.toml"
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "demo.toml").write_text(shipped.read_text())
    config = write_settings(tmp_path, pipelines)
    result = cli(
        config, "ingest", "-p", "demo", "--since", "2024-09-01T00Z", "--until", "2024-09-01T02Z"
    )
    assert result.exit_code == 0, result.output
    group = xr.open_zarr(tmp_path / "archive" / "nowcast.zarr", group="demo")
    variable = group[group.attrs["nowcast_variable"]]
    assert variable.attrs["units"] == "K"
    source = tomllib.loads(shipped.read_text())["source"]
    storm = Storm(
        SyntheticOptions(**{k: v for k, v in source.items() if k not in ("kind", "cadence")})
    )
    times = pd.DatetimeIndex(group.time.values)
    assert list(times.strftime("%H:%M")) == ["00:00", "01:00", "02:00"]
    for index, time in enumerate(times):
        native = storm.brightness_temperature(time).astype(np.float64)
        expected = block_average(native, (64, 64), decibel=False)
        stored = variable.isel(time=index).values.astype(np.float64)
        np.testing.assert_allclose(stored, expected, rtol=1e-4)
    assert 180.0 <= float(variable.min()) < float(variable.max()) <= 300.0


def test_mch_and_saf_keep_no_data_as_nan(tmp_path: Path, repo_root: Path) -> None:
    for name in ("mch-radar", "saf-full"):
        store, first = ingest(tmp_path / name, repo_root, name)
        stored = Archive(store).read(name).isel(time=0).values
        source_missing = np.isnan(pysteps_read(name, first)).mean()
        assert source_missing > 0.05
        assert np.isnan(stored).any()
        mask = xr.open_zarr(store, group=name, consolidated=False)["valid_mask"].values
        assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
        mask = mask.astype(bool)
        assert 0.3 < mask.mean() < 0.99
        assert not np.isfinite(stored[~mask]).any()


def test_fmi_dbz_averaged_in_linear_space_keeps_showers(tmp_path: Path, repo_root: Path) -> None:
    store, first = ingest(tmp_path, repo_root, "fmi-radar")
    stored = Archive(store).read("fmi-radar").isel(time=0).values
    source = pysteps_read("fmi-radar", first)
    in_db = block_average(source, (64, 64), decibel=False)
    assert np.nanmax(stored) > np.nanmax(in_db) + 3.0  # averaging dB would flatten the echoes


def test_fmi_echoes_span_the_dbz_colour_scale(tmp_path: Path, repo_root: Path) -> None:
    store, _ = ingest(tmp_path, repo_root, "fmi-radar")
    frame = Archive(store).read("fmi-radar").isel(time=0).load()
    style = field_style(frame)
    assert style.label.endswith("(dBZ)") and style.ticks[0] == 5 and style.ticks[-1] == 70
    colours = style.norm(np.asarray(frame.values)[np.isfinite(frame.values)])
    assert len(set(np.asarray(colours)[np.asarray(colours) >= 0].tolist())) >= 5


def test_fmi_rain_rate_view_follows_pysteps_z_r(tmp_path: Path, repo_root: Path) -> None:
    text = PIPELINES["fmi-radar"].replace(
        "[source.reader.importer_kwargs]",
        "[source.reader]\nrain_rate = true\n[source.reader.importer_kwargs]",
    )
    text = text.replace(
        'kind = "linear"\nvmin = -10.0\nvmax = 60.0', 'kind = "log10"\nvmin = 0.1\nvmax = 100.0'
    )
    assert "rain_rate = true" in text and 'kind = "log10"' in text
    store, first = ingest(tmp_path, repo_root, "fmi-rate", text, like="fmi-radar")
    frame = Archive(store).read("fmi-rate").isel(time=0)
    assert frame.attrs["units"] == "mm h-1"
    dbz = pysteps_read("fmi-radar", first)
    rate = np.where(dbz >= -31.5, (10 ** (dbz / 10) / 223.0) ** (1 / 1.53), 0.0)  # FMI's Z-R
    rate[np.isnan(dbz)] = np.nan
    expected = block_average(rate, (64, 64), decibel=False)
    np.testing.assert_allclose(frame.values, expected, rtol=1e-4, atol=1e-6)


def test_knmi_ingests_and_renders_without_celestial_body_override(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROJ_IGNORE_CELESTIAL_BODY", raising=False)
    store, _ = ingest(tmp_path, repo_root, "knmi-radar")
    series = Archive(store).read("knmi-radar")
    assert 0.0 < float(series.lon.min()) < 2.0 and 50.0 < float(series.lat.mean()) < 54.0
    assert float(series.x.max() - series.x.min()) > 600e3  # metres, not km
    args = ("forecast", "-p", "knmi-radar", "--baseline", "persistence", "--since", "10min")
    env = {"NOWCAST_KNMI_DIR": str(shared_data_path(*KNMI))}
    result = cli(tmp_path / "nowcast.toml", *args, "--render", env=env)
    assert result.exit_code == 0, result.output
    maps = list(tmp_path.rglob("knmi-radar*.png"))
    assert maps and maps[0].stat().st_size > 10_000


def old_model_scale_group(path: Path) -> tuple[Archive, xr.DataArray, np.ndarray]:
    """An archive whose group `old` holds model-scale values, as stores did before physical
    values were stored; returns the archive, the frames and the values it must read as."""
    transform = Transform(kind="log10", vmin=0.01, vmax=20.0)
    physical = np.array([[[0.0, 0.05], [1.0, np.nan]]], dtype=np.float32)
    frames = xr.DataArray(
        physical,
        dims=("time", "y", "x"),
        coords={"time": pd.DatetimeIndex(["2020-10-31T00:00"]), "y": [0.0, 1.0], "x": [0, 1.0]},
        attrs={"units": "mm", **transform.to_attrs()},
        name="precipitation",
    )
    archive = Archive(path)
    archive.append("old", frames)
    array = zarr.open_group(str(archive.path), mode="a")["old/precipitation"]
    array[0] = transform.to_model(physical[0])
    del array.attrs["nowcast_scale"]
    return archive, frames, transform.to_physical(transform.to_model(physical[0]))


def test_old_model_scale_group_reads_physical_and_migrates(tmp_path: Path) -> None:
    archive, frames, expected = old_model_scale_group(tmp_path / "a.zarr")
    np.testing.assert_allclose(archive.read("old").values[0], expected, rtol=1e-6)
    later = frames.assign_coords(time=pd.DatetimeIndex(["2020-10-31T00:10"]))
    archive.append("old", later)
    np.testing.assert_allclose(archive.read("old").values[1], expected, rtol=1e-6)
    assert archive.migrate("old") and not archive.migrate("old")
    plain = xr.open_zarr(archive.path, group="old", consolidated=False)["precipitation"].values
    np.testing.assert_allclose(plain, np.stack([expected, expected]), rtol=1e-6)
    assert float(np.nanmax(plain)) == pytest.approx(1.0, rel=1e-5)


def test_archive_migrate_command_rewrites_old_groups_in_physical_units(tmp_path: Path) -> None:
    archive, _, expected = old_model_scale_group(tmp_path / "archive" / "nowcast.zarr")
    config = write_settings(tmp_path)
    raw = zarr.open_group(str(archive.path), mode="r")["old/precipitation"][0]

    preview = cli(config, "archive", "migrate", "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "old: model scale, would be migrated" in preview.output
    np.testing.assert_array_equal(
        zarr.open_group(str(archive.path), mode="r")["old/precipitation"][0], raw
    )

    done = cli(config, "archive", "migrate", "old")
    assert done.exit_code == 0, done.output
    assert "old: migrated to physical units" in done.output
    plain = xr.open_zarr(archive.path, group="old")["precipitation"].values[0]  # consolidated
    np.testing.assert_allclose(plain, expected, rtol=1e-6)
    again = cli(config, "archive", "migrate")
    assert again.exit_code == 0 and "old: physical already" in again.output


def test_archive_migrate_refuses_a_missing_group_or_archive(tmp_path: Path) -> None:
    old_model_scale_group(tmp_path / "archive" / "nowcast.zarr")
    config = write_settings(tmp_path)
    missing = str(tmp_path / "missing.zarr")
    for args, message in (
        (("archive", "migrate", "../etc"), "has no group '../etc' (has: old)"),
        (("--archive", missing, "archive", "migrate"), "no archive yet at"),
    ):
        result = cli(config, *args)
        assert result.exit_code == 3, result.output
        assert message in result.output
        assert "Traceback" not in result.output
