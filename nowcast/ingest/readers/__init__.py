"""Readers: bytes or files -> physical xarray frames. `get_reader(format)` picks one by name.

Adding a format is one module with a class that follows `base.Reader`, plus one line below.
"""

from __future__ import annotations

from nowcast.core import Registry
from nowcast.ingest.readers.base import Payload, Reader, ReaderOptions

PYSTEPS_FORMATS = (
    "bom_rf3",
    "dwd_hdf5",
    "dwd_radolan",
    "fmi_geotiff",
    "fmi_pgm",
    "knmi_hdf5",
    "mch_gif",
    "mch_hdf5",
    "mch_metranet",
    "mrms_grib",
    "odim_hdf5",
    "opera_hdf5",
    "saf_crri",
)

# format name -> "module:class" (imported on first use, so pysteps loads only when needed)
READERS: Registry[type[Reader]] = Registry(
    "format",
    {
        "netcdf": "nowcast.ingest.readers.netcdf:NetcdfReader",
        "digital_typhoon": "nowcast.ingest.readers.digital_typhoon:DigitalTyphoonReader",
        "image": "nowcast.ingest.readers.image:ImageReader",
        "ahi_hsd": "nowcast.ingest.readers.ahi_hsd:AhiHsdReader",
        "ceres_gridded": "nowcast.ingest.readers.ceres:CeresReader",
        **{
            name: "nowcast.ingest.readers.pysteps_importers:PystepsReader"
            for name in PYSTEPS_FORMATS
        },
    },
)


def reader_names() -> list[str]:
    """Every format name a pipeline may use."""
    return READERS.names()


def get_reader(format: str) -> Reader:
    """The reader for `format`; UnknownNameError listing the valid names when it is unknown."""
    return READERS.get(format)(format)


__all__ = ["READERS", "Payload", "Reader", "ReaderOptions", "get_reader", "reader_names"]
