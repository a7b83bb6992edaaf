"""Satellite test files in their real layouts: Himawari HSD segments, CEReS gridded TIR, a LUT.

HSD segments follow the JMA Himawari Standard Data format (header blocks 1-11, then the
little-endian uint16 counts of one segment) on a coarse 20 km full disk (550x550 in 10
segments) so that every array stays small; satpy reads the grid from the header, so the
coarse disk is a valid HSD file. CEReS files are headerless big-endian uint16 6000x6000 counts.
"""

from __future__ import annotations

import bz2
from datetime import datetime
from pathlib import Path

import numpy as np
import pyproj

SUB_LON = 140.7
DISK = 550  # lines and columns of the coarse full disk (the real 2 km disk is 5500)
SEGMENTS = 10
CFAC = round(20466275 * DISK / 5500)  # the 2 km scaling factor, scaled to the coarse disk
EARTH_A_KM, EARTH_B_KM, SATELLITE_KM = 6378.137, 6356.7523, 42164.0
WAVELENGTH_UM = 10.4
GAIN, OFFSET = -0.0039, 16.0  # count -> radiance (W m-2 sr-1 um-1), as in band 13 headers
SPEED, PLANCK, BOLTZMANN = 2.99792458e8, 6.62606957e-34, 1.3806488e-23
ERROR_COUNT, OUTSIDE_COUNT = 65535, 65534
MJD_EPOCH = datetime(1858, 11, 17)


def _block(number: int, fields: list[tuple[str, str, object]], length_dtype: str = "<u2") -> bytes:
    """One header block: number, length, then (name, dtype, value) fields in order."""
    dtype = np.dtype(
        [("hblock_number", "u1"), ("blocklength", length_dtype)]
        + [(name, kind) for name, kind, _ in fields]
    )
    record = np.zeros(1, dtype)
    record["hblock_number"] = number
    record["blocklength"] = dtype.itemsize
    for name, _, value in fields:
        record[name] = value
    return record.tobytes()


def _mjd(when: datetime) -> float:
    """Modified Julian Date, as HSD headers store times."""
    return (when - MJD_EPOCH).total_seconds() / 86400.0


WAVELENGTH_M = WAVELENGTH_UM * 1e-6
RADIANCE_SCALE = 2 * PLANCK * SPEED**2 / WAVELENGTH_M**5 * 1e-6  # per um, not per m
KELVIN_SCALE = PLANCK * SPEED / (BOLTZMANN * WAVELENGTH_M)


def planck_radiance(kelvin: np.ndarray) -> np.ndarray:
    """Band-13 radiance (W m-2 sr-1 um-1) of a brightness temperature."""
    return RADIANCE_SCALE / np.expm1(KELVIN_SCALE / kelvin)


def disk_lonlat() -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of every pixel of the coarse full disk (NaN in space)."""
    h = (SATELLITE_KM - EARTH_A_KM) * 1000
    geos = pyproj.CRS.from_proj4(
        f"+proj=geos +lon_0={SUB_LON} +h={h} +a={EARTH_A_KM * 1000} +b={EARTH_B_KM * 1000}"
        " +units=m +no_defs"
    )
    step = np.deg2rad(2.0**16 / CFAC) * h
    centres = (np.arange(DISK) - DISK / 2 + 0.5) * step
    xx, yy = np.meshgrid(centres, -centres)
    to_lonlat = pyproj.Transformer.from_crs(geos, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(xx, yy, errcheck=False)
    lon, lat = np.asarray(lon), np.asarray(lat)
    space = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lon) > 360)
    return np.where(space, np.nan, lon), np.where(space, np.nan, lat)


def storm_kelvin(
    lon: np.ndarray, lat: np.ndarray, centre: tuple[float, float], sea: float = 295.0
) -> np.ndarray:
    """A warm sea with a cold cloud shield (190 K at the centre) around (lat, lon)."""
    distance = np.hypot(lat - centre[0], (lon - centre[1]) * np.cos(np.deg2rad(centre[0])))
    return sea - (sea - 190.0) * np.exp(-((distance / 2.0) ** 2))


def hsd_counts(kelvin: np.ndarray) -> np.ndarray:
    """uint16 counts that calibrate back to `kelvin` (space and NaN: outside-scan count)."""
    counts = np.round((planck_radiance(np.nan_to_num(kelvin, nan=200.0)) - OFFSET) / GAIN)
    return np.where(np.isfinite(kelvin), counts, OUTSIDE_COUNT).astype("<u2")


def hsd_name(start: datetime, segment: int, satellite: str = "H08") -> str:
    """The NOAA bucket's name of one compressed band-13 segment."""
    return f"HS_{satellite}_{start:%Y%m%d_%H%M}_B13_FLDK_R20_S{segment:02d}10.DAT.bz2"


def hsd_segment(counts: np.ndarray, segment: int, start: datetime, satellite: str = "H08") -> bytes:
    """One HSD segment file (header blocks 1-11 and the segment's counts) of a full disk."""
    lines = DISK // SEGMENTS
    rows = counts[(segment - 1) * lines : segment * lines]
    block2 = _block(
        2,
        [
            ("bits_per_pixel", "<u2", 16),
            ("columns", "<u2", DISK),
            ("lines", "<u2", lines),
            ("compression", "u1", 0),
            ("spare", "S40", b""),
        ],
    )
    block3 = _block(
        3,
        [
            ("sub_lon", "<f8", SUB_LON),
            ("cfac", "<u4", CFAC),
            ("lfac", "<u4", CFAC),
            ("coff", "<f4", DISK / 2 + 0.5),
            ("loff", "<f4", DISK / 2 + 0.5),
            ("distance", "<f8", SATELLITE_KM),
            ("equatorial_radius", "<f8", EARTH_A_KM),
            ("polar_radius", "<f8", EARTH_B_KM),
            ("req2_rpol2_req2", "<f8", (EARTH_A_KM**2 - EARTH_B_KM**2) / EARTH_A_KM**2),
            ("rpol2_req2", "<f8", EARTH_B_KM**2 / EARTH_A_KM**2),
            ("req2_rpol2", "<f8", EARTH_A_KM**2 / EARTH_B_KM**2),
            ("coeff_for_sd", "<f8", SATELLITE_KM**2 - EARTH_A_KM**2),
            ("resampling_types", "<i2", 4),
            ("resampling_size", "<i2", 4),
            ("spare", "S40", b""),
        ],
    )
    block4 = _block(
        4,
        [
            ("time", "<f8", _mjd(start)),
            ("ssp_lon", "<f8", SUB_LON),
            ("ssp_lat", "<f8", 0.0),
            ("distance", "<f8", SATELLITE_KM),
            ("nadir_lon", "<f8", SUB_LON),
            ("nadir_lat", "<f8", 0.0),
            ("sun", "(3,)<f8", 0.0),
            ("moon", "(3,)<f8", 0.0),
            ("spare", "S40", b""),
        ],
    )
    block5 = _block(
        5,
        [
            ("band", "<u2", 13),
            ("wavelength", "<f8", WAVELENGTH_UM),
            ("valid_bits", "<u2", 12),
            ("error_count", "<u2", ERROR_COUNT),
            ("outside_count", "<u2", OUTSIDE_COUNT),
            ("gain", "<f8", GAIN),
            ("offset", "<f8", OFFSET),
            ("c0_rad2tb", "<f8", 0.0),
            ("c1_rad2tb", "<f8", 1.0),
            ("c2_rad2tb", "<f8", 0.0),
            ("c0_tb2rad", "<f8", 0.0),
            ("c1_tb2rad", "<f8", 1.0),
            ("c2_tb2rad", "<f8", 0.0),
            ("speed_of_light", "<f8", SPEED),
            ("planck", "<f8", PLANCK),
            ("boltzmann", "<f8", BOLTZMANN),
            ("spare", "S40", b""),
        ],
    )
    block6 = _block(
        6,
        [
            ("gsics", "(8,)<f8", 0.0),
            ("limits", "(2,)<f4", 0.0),
            ("file", "S128", b""),
            ("spare", "S56", b""),
        ],
    )
    block7 = _block(
        7,
        [
            ("segments", "u1", SEGMENTS),
            ("segment", "u1", segment),
            ("first_line", "<u2", (segment - 1) * lines + 1),
            ("spare", "S40", b""),
        ],
    )
    block8 = _block(
        8,
        [
            ("rotation_column", "<f4", DISK / 2 + 0.5),
            ("rotation_line", "<f4", DISK / 2 + 0.5),
            ("rotation", "<f8", 0.0),
            ("corrections", "<u2", 0),
            ("spare", "S40", b""),
        ],
    )
    block9 = _block(
        9,
        [
            ("times", "<u2", 1),
            ("line", "<u2", (segment - 1) * lines + 1),
            ("time", "<f8", _mjd(start)),
            ("spare", "S40", b""),
        ],
    )
    block10 = _block(10, [("errors", "<u2", 0), ("spare", "S40", b"")], length_dtype="<u4")
    block11 = _block(11, [("spare", "S256", b"")])
    rest = [block2, block3, block4, block5, block6, block7, block8, block9, block10, block11]
    name = hsd_name(start, segment, satellite).removesuffix(".bz2")
    header_length = 282 + sum(len(block) for block in rest)
    block1 = _block(
        1,
        [
            ("blocks", "<u2", 11),
            ("byte_order", "u1", 0),
            ("satellite", "S16", f"Himawari-{int(satellite[1:])}".encode()),
            ("centre", "S16", b"MSC"),
            ("area", "S4", b"FLDK"),
            ("other", "S2", b"RT"),
            ("timeline", "<u2", int(f"{start:%H%M}")),
            ("start", "<f8", _mjd(start)),
            ("end", "<f8", _mjd(start) + 600 / 86400),
            ("created", "<f8", _mjd(start) + 900 / 86400),
            ("header_length", "<u4", header_length),
            ("data_length", "<u4", rows.nbytes),
            ("quality", "(4,)u1", 0),
            ("version", "S32", b"1.3"),
            ("name", "S128", name.encode()),
            ("spare", "S40", b""),
        ],
    )
    return b"".join([block1, *rest]) + rows.astype("<u2").tobytes()


def write_hsd_frame(
    root: Path,
    start: datetime,
    centre: tuple[float, float],
    segments: range,
    satellite: str = "H08",
) -> list[Path]:
    """Compressed band-13 segments of one full disk in the bucket's `AHI-L1b-FLDK/` layout."""
    folder = root / "AHI-L1b-FLDK" / f"{start:%Y/%m/%d/%H%M}"
    folder.mkdir(parents=True, exist_ok=True)
    lon, lat = disk_lonlat()
    counts = hsd_counts(storm_kelvin(lon, lat, centre))
    written = []
    for segment in segments:
        path = folder / hsd_name(start, segment, satellite)
        path.write_bytes(bz2.compress(hsd_segment(counts, segment, start, satellite), 1))
        written.append(path)
    return written


# --- CEReS gridded (Chiba University) -------------------------------------------------------

CERES_SIZE = 6000
CERES_STEP = 0.02
CERES_WEST, CERES_NORTH = 85.0, 60.0
SEA_COUNT = 0x0707  # about 294 K; equal bytes keep bz2 fast on the 72 MB grid


def ceres_kelvin(counts: np.ndarray) -> np.ndarray:
    """Brightness temperature of counts under the table `write_ceres_lut` writes."""
    radiance = OFFSET + GAIN * np.asarray(counts, dtype=np.float64)
    return KELVIN_SCALE / np.log1p(RADIANCE_SCALE / radiance)


def write_ceres_lut(path: Path) -> Path:
    """A CEReS-style count -> Tbb table for TIR band 1: `count  Tbb` rows, 0..4095."""
    counts = np.arange(4096)
    with np.errstate(invalid="ignore", divide="ignore"):
        kelvin = np.nan_to_num(ceres_kelvin(counts), nan=0.0)
    rows = [f"{count:5d} {value:8.3f}" for count, value in zip(counts, kelvin, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def ceres_counts_for(kelvin: np.ndarray) -> np.ndarray:
    """Counts of the table in `write_ceres_lut` nearest to brightness temperatures."""
    return np.clip(np.round((planck_radiance(kelvin) - OFFSET) / GAIN), 0, 4095).astype(">u2")


def write_ceres_file(folder: Path, start: datetime, centre: tuple[float, float]) -> Path:
    """One `YYYYMMDDhhmm.tir.01.fld.geoss.bz2` file: a cold storm at `centre` (lat, lon)."""
    lon = CERES_WEST + CERES_STEP * (np.arange(CERES_SIZE) + 0.5)
    lat = CERES_NORTH - CERES_STEP * (np.arange(CERES_SIZE) + 0.5)
    counts = np.full((CERES_SIZE, CERES_SIZE), SEA_COUNT, dtype=">u2")
    rows = slice(*np.searchsorted(-lat, [-(centre[0] + 8), -(centre[0] - 8)]))
    cols = slice(*np.searchsorted(lon, [centre[1] - 8, centre[1] + 8]))
    sea = float(ceres_kelvin(SEA_COUNT))
    kelvin = storm_kelvin(*np.meshgrid(lon[cols], lat[rows]), centre, sea)
    counts[rows, cols] = ceres_counts_for(kelvin)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{start:%Y%m%d%H%M}.tir.01.fld.geoss.bz2"
    path.write_bytes(bz2.compress(counts.tobytes(), 1))
    return path
