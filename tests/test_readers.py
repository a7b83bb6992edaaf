"""Readers on the real files: values, units, georeference and valid time, and bad bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from conftest import shared_data_path
from PIL import Image

from nowcast.ingest.readers import Payload, get_reader
from nowcast.ingest.readers.digital_typhoon import parse_name
from nowcast.store.grid import crs_of


def read(format: str, path: Path, **options: object):  # noqa: ANN201 - a DataArray
    """Read one file with a reader and its options."""
    reader = get_reader(format)
    return reader.read(Payload(path.name, path=path), reader.options_model(**options))


def test_netcdf_reads_bom_rainfields() -> None:
    path = shared_data_path("radar", "bom-prcp-c10-66-20201031", "66_20201031_120000.prcp-c10.nc")
    frame = read("netcdf", path, variable="precipitation")
    assert frame.dims == ("y", "x") and frame.shape == (512, 512)
    assert frame.dtype == np.float32
    assert frame.attrs["units"] == "kg m-2"
    assert frame.attrs["standard_name"] == "precipitation_amount"
    assert pd.Timestamp(frame["time"].values) == pd.Timestamp("2020-10-31T12:00")
    assert float(frame.x[1] - frame.x[0]) == pytest.approx(500.0)  # km converted to metres
    crs = crs_of(frame)
    assert crs is not None and "Albers" in crs.to_wkt()
    assert np.nanmin(frame.values) >= -0.1 and np.isfinite(frame.values).any()


def test_netcdf_reads_bom_from_bytes_like_a_download() -> None:
    path = shared_data_path("radar", "bom-prcp-c10-66-20201031", "66_20201031_120000.prcp-c10.nc")
    reader = get_reader("netcdf")
    options = reader.options_model(variable="precipitation")
    from_bytes = reader.read(Payload(path.name, data=path.read_bytes()), options)
    np.testing.assert_array_equal(from_bytes.values, read("netcdf", path, variable="precipitation"))


def test_netcdf_matches_pysteps_bom_rf3() -> None:
    path = shared_data_path("radar", "bom-prcp-c10-66-20201031", "66_20201031_120000.prcp-c10.nc")
    ours = read("netcdf", path, variable="precipitation")
    theirs = read("bom_rf3", path)
    assert theirs.attrs["standard_name"] == "precipitation_amount"
    # pysteps gives BOM corners as pixel centres, so its grid sits half a pixel (250 m) off
    np.testing.assert_allclose(theirs.x, ours.x, atol=250.0)
    np.testing.assert_allclose(theirs.y, ours.y, atol=250.0)
    np.testing.assert_allclose(theirs.values, ours.values, rtol=1e-6, equal_nan=True)
    assert "Albers" in crs_of(theirs).to_wkt()


def test_netcdf_reads_saf_crr_with_geostationary_projection() -> None:
    path = shared_data_path(
        "satellite", "saf-crr-20180601", "S_NWC_CRR_MSG4_Europe-VISIR_20180601T120000Z.nc"
    )
    frame = read("netcdf", path, variable="crr_intensity")
    assert frame.shape == (1019, 2200)
    assert frame.attrs["units"] == "mm/h"
    assert pd.Timestamp(frame["time"].values) == pd.Timestamp("2018-06-01T12:00")
    assert "Geostationary" in crs_of(frame).to_wkt()
    assert 0 <= np.nanmax(frame.values) <= 50


def test_pysteps_saf_crri_and_mch_gif() -> None:
    saf = shared_data_path(
        "satellite", "saf-crr-20180601", "S_NWC_CRR_MSG4_Europe-VISIR_20180601T120000Z.nc"
    )
    frame = read("saf_crri", saf)
    assert frame.shape == (1019, 2200) and frame.attrs["units"] == "mm h-1"
    np.testing.assert_allclose(
        frame.x[[0, -1]], read("netcdf", saf, variable="crr_intensity").x[[0, -1]]
    )
    gif = shared_data_path("radar", "mch-20160711", "AQC161932100V_00005.801.gif")
    frame = read("mch_gif", gif, importer_kwargs={"product": "AQC", "unit": "mm", "accutime": 5})
    assert frame.shape == (640, 710)
    assert frame.attrs["accumulation_minutes"] == 5
    assert float(frame.x[1] - frame.x[0]) == 1000.0 and float(frame.y[0]) > float(frame.y[-1])
    assert "Oblique" in crs_of(frame).to_wkt() or "somerc" in crs_of(frame).to_proj4()


def test_digital_typhoon_real_file(tmp_path: Path) -> None:
    path = shared_data_path("typhoon", "digital-typhoon", "2022111112-202224-HMW8-1.h5")
    track = tmp_path / "202224.csv"
    track.write_text("year,month,day,hour,grade,lat,lng\n2022,11,11,12,3,21.5,134.25\n")
    frame = read("digital_typhoon", path, track=str(tmp_path / "{storm}.csv"))
    assert frame.shape == (512, 512)
    assert frame.attrs["units"] == "K" and frame.attrs["storm_id"] == "202224"
    assert 180 < np.nanmin(frame.values) < np.nanmax(frame.values) < 310
    assert float(frame.center_lat) == pytest.approx(21.5)
    assert float(frame.x[1] - frame.x[0]) == 5000.0 and float(frame.x.mean()) == pytest.approx(0)
    crs = crs_of(frame)
    assert crs is not None and "Lambert Azimuthal" in crs.to_wkt()


def test_digital_typhoon_name_and_missing_track() -> None:
    time, storm, satellite = parse_name("1998091906-199808-GMS5-1.h5")
    assert (time, storm, satellite) == (pd.Timestamp("1998-09-19T06"), "199808", "GMS5")
    with pytest.raises(ValueError, match="is not named"):
        parse_name("typhoon.h5")
    path = shared_data_path("typhoon", "digital-typhoon", "2022111112-202224-HMW8-1.h5")
    frame = read("digital_typhoon", path, track="/nonexistent/{storm}.csv")
    assert np.isnan(float(frame.center_lat)) and crs_of(frame) is None


def test_image_png_grey_with_linear_mapping(tmp_path: Path) -> None:
    pixels = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30) % 250
    pixels[0, 0] = 255
    Image.fromarray(pixels).save(tmp_path / "frame.png")
    frame = read(
        "image",
        tmp_path / "frame.png",
        crs="EPSG:3857",
        extent=(0.0, 0.0, 3000.0, 2000.0),
        scale=0.5,
        offset=-1.0,
        nodata=[255],
        units="mm h-1",
    )
    assert frame.shape == (20, 30) and np.isnan(frame.values[0, 0])
    assert frame.values[0, 1] == pytest.approx(-0.5)
    assert float(frame.x[0]) == 50.0 and float(frame.y[0]) == 1950.0
    assert crs_of(frame).to_epsg() == 3857


def test_image_rgb_palette(tmp_path: Path) -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 1] = (0, 0, 255)
    rgb[2, 2] = (9, 9, 9)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    palette = [(0, 0, 0, 0.0), (255, 0, 0, 10.0), (0, 0, 255, 1.0)]
    frame = read("image", tmp_path / "rgb.png", extent=(0, 0, 4, 4), palette=palette)
    assert frame.values[0, 0] == 10.0 and frame.values[1, 1] == 1.0 and frame.values[3, 3] == 0
    assert np.isnan(frame.values[2, 2])


def test_image_geotiff_georeference_from_tags(tmp_path: Path) -> None:
    data = np.ones((10, 20), dtype=np.float32)
    geokeys = (1, 1, 0, 1, 3072, 0, 1, 32633)  # ProjectedCSTypeGeoKey = EPSG:32633
    tifffile.imwrite(
        tmp_path / "frame.tif",
        data,
        extratags=[
            (33550, "d", 3, (1000.0, 1000.0, 0.0)),
            (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 5000000.0, 0.0)),
            (34735, "H", len(geokeys), geokeys),
        ],
    )
    frame = read("image", tmp_path / "frame.tif")
    assert crs_of(frame).to_epsg() == 32633
    assert float(frame.x[0]) == 500500.0 and float(frame.y[-1]) == 4990500.0


def test_image_without_georeference_is_an_error(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "frame.png")
    with pytest.raises(ValueError, match="no georeference"):
        read("image", tmp_path / "frame.png")


@pytest.mark.parametrize("format", ["netcdf", "digital_typhoon", "image"])
def test_garbage_bytes_raise(tmp_path: Path, format: str) -> None:
    path = tmp_path / "2022111112-202224-HMW8-1.h5"
    path.write_bytes(b"\x89HDF-not-really" * 50)
    options = {"variable": "precipitation"} if format == "netcdf" else {}
    with pytest.raises(Exception):  # noqa: B017 - each library raises its own error type
        read(format, path, **options)
