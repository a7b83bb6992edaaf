"""What every reader shares: the bytes-or-file payload, the options base, the reader protocol."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from nowcast.core import is_plain_utf8


@dataclass(frozen=True)
class Payload:
    """The input of one frame: a local file, or bytes downloaded into memory, and its name."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def read_bytes(self) -> bytes:
        """The payload's content as bytes (reads the file when it is one)."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError(f"payload {self.name!r} has neither a path nor data")
        return self.path.read_bytes()


@contextmanager
def local_path(payload: Payload) -> Iterator[Path]:
    """A file path holding the payload, for libraries that only open files by name.

    A path with bytes that are not UTF-8 (which netCDF4, HDF5 and GDAL cannot take as a str)
    is reached through a symbolic link with a plain name in a temporary folder."""
    if payload.path is not None and is_plain_utf8(str(payload.path)):
        yield payload.path
        return
    if payload.path is not None:
        with tempfile.TemporaryDirectory(prefix="nowcast-") as folder:
            link = Path(folder) / f"input{''.join(payload.path.suffixes)}"
            if not is_plain_utf8(link.name):
                link = Path(folder) / "input"
            link.symlink_to(payload.path.absolute())
            yield link
        return
    suffix = Path(payload.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, prefix="nowcast-") as handle:
        handle.write(payload.read_bytes())
        handle.flush()
        yield Path(handle.name)


class ReaderOptions(BaseModel):
    """Options every reader accepts: which variable to read; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variable: str | None = None
    max_pixels: int = Field(
        25_000_000, gt=0, description="largest variable read, checked from the file's header"
    )


def check_frame_size(what: str, shape: tuple[int, ...], max_pixels: int) -> None:
    """Refuse, from a header's shape and before reading, what is not one frame or too large."""
    kept = [size for size in shape if size > 1]
    if len(kept) != 2:
        raise ValueError(f"{what} has shape {shape}, not one 2D frame")
    if kept[0] * kept[1] > max_pixels:
        raise ValueError(
            f"{what} has {kept[0]}x{kept[1]} pixels, more than"
            f" [source.reader] max_pixels = {max_pixels}"
        )


class Reader(Protocol):
    """Turns one payload into a physical frame: DataArray (y, x), float32, units, georeference.

    The frame may carry a scalar `time` coordinate (the valid time the file itself states),
    which ingest compares with the time the source derived from the file name.
    """

    options_model: type[ReaderOptions]

    def read(self, payload: Payload, options: ReaderOptions) -> xr.DataArray:
        """Decode the payload; raise any exception when it is not a readable frame."""
        ...
