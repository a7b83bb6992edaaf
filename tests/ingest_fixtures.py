"""Helpers for the ingest tests: settings files, CLI calls, a faulty HTTP server, typhoon files."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h5py
import netCDF4
import numpy as np
from typer.testing import CliRunner, Result

from nowcast.cli.app import app

BOM = ("radar", "bom-prcp-c10-66-20201031")
MCH = ("radar", "mch-20160711")
SAF = ("satellite", "saf-crr-20180601")
TYPHOON = ("typhoon", "digital-typhoon")
TYPHOON_FILE = "2022111112-202224-HMW8-1.h5"
CLEAN_ENV = {"NOWCAST_CONFIG": "", "NOWCAST_ARCHIVE": "", "NOWCAST_PIPELINES": ""}

runner = CliRunner()


def write_settings(folder: Path, pipelines_dir: Path | None = None) -> Path:
    """A nowcast.toml in `folder` with the archive inside it and a pipelines folder."""
    pipelines = pipelines_dir or folder / "pipelines"
    pipelines.mkdir(parents=True, exist_ok=True)
    config = folder / "nowcast.toml"
    config.write_text(f'archive = "archive/nowcast.zarr"\npipelines_dir = "{pipelines}"\n')
    return config


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run `nowcast --config <config> ...` in-process, as a user would."""
    return runner.invoke(app, ["--config", str(config), *args], env={**CLEAN_ENV, **(env or {})})


def write_typhoon_frames(
    root: Path, real_file: Path, storm: str, hours: int, size: int | None = None
) -> list[Path]:
    """A Digital Typhoon archive layout: the real file plus `hours - 1` later frames like it.

    Later frames are the real image rolled a few pixels per hour (the storm moving), written
    with the real file's dataset name, dtype, attributes, chunks and compression; with `size`,
    each is the centre `size` x `size` of it (tiny frames for quick many-frame tests).
    """
    images = root / "image" / storm
    images.mkdir(parents=True, exist_ok=True)
    with h5py.File(real_file, "r") as handle:
        source = handle["Infrared"]
        values, attrs = source[...], dict(source.attrs)
        chunks, level = source.chunks, source.compression_opts
    if size is not None:
        low = (values.shape[0] - size) // 2
        values = values[low : low + size, low : low + size]
        chunks = tuple(min(c, size) for c in chunks) if chunks else None
    start = np.datetime64("2022-11-11T12")
    written = []
    for hour in range(hours):
        stamp = (start + np.timedelta64(hour, "h")).astype(object).strftime("%Y%m%d%H")
        path = images / f"{stamp}-{storm}-HMW8-1.h5"
        with h5py.File(path, "w") as handle:
            data = handle.create_dataset(
                "Infrared",
                data=np.roll(values, (hour * 3, hour * 2), axis=(0, 1)),
                chunks=chunks,
                compression="gzip",
                compression_opts=level,
            )
            data.attrs.update(attrs)
        written.append(path)
    metadata = root / "metadata"
    metadata.mkdir(exist_ok=True)
    rows = ["year,month,day,hour,grade,lat,lng,pressure,wind"]
    for hour in range(hours + 1):
        when = (start + np.timedelta64(hour, "h")).astype(object)
        rows.append(
            f"{when.year},{when.month},{when.day},{when.hour},3,"
            f"{20.0 + 0.2 * hour:.2f},{135.0 - 0.3 * hour:.2f},990,50"
        )
    (metadata / f"{storm}.csv").write_text("\n".join(rows) + "\n")
    return written


def write_bom_like(path: Path, rain_mm: np.ndarray, valid_time: np.datetime64) -> Path:
    """A small NetCDF in the Rainfields layout (packed int16 precipitation, x/y in km)."""
    ny, nx = rain_mm.shape
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", ny)
        ds.createDimension("x", nx)
        seconds = ds.createVariable("valid_time", "i8")
        seconds.setncatts(
            {"standard_name": "time", "units": "seconds since 1970-01-01 00:00:00 UTC"}
        )
        seconds.assignValue(int(valid_time.astype("datetime64[s]").astype(np.int64)))
        for name, size in (("y", ny), ("x", nx)):
            coord = ds.createVariable(name, "f8", (name,))
            coord.units = "km"
            coord[:] = (np.arange(size) - size / 2 + 0.5) * 0.5 * (-1 if name == "y" else 1)
        rain = ds.createVariable("precipitation", "i2", ("y", "x"), fill_value=-1)
        rain.setncatts({"units": "kg m-2", "scale_factor": 0.05, "add_offset": 0.0})
        rain[:] = rain_mm
    return path


class FaultyHandler(BaseHTTPRequestHandler):
    """Serves files from `root`; paths listed in `faults` misbehave once per listed fault."""

    root: Path
    faults: dict[str, list[str]]
    hits: dict[str, int]
    slow_s: float = 1.0

    def log_message(self, *args: object) -> None:  # quiet test output
        return

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        name = self.path.split("?", 1)[0].lstrip("/")
        self.hits[f"HEAD {name}"] = self.hits.get(f"HEAD {name}", 0) + 1
        path = self.root / name
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.send_header("ETag", f'"{size}"')
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        name = self.path.split("?", 1)[0].lstrip("/")
        self.hits[name] = self.hits.get(name, 0) + 1
        queue = self.faults.get(name, [])
        fault = queue.pop(0) if queue else None
        path = self.root / name.removeprefix("moved/")
        if fault == "404" or not path.is_file():
            self.send_error(404)
            return
        if fault == "500":
            self.send_error(500)
            return
        if fault == "retry-after":
            self.send_response(503)
            self.send_header("Retry-After", "3600")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "redirect-here":
            self.send_response(301)
            self.send_header("Location", f"/moved/{name}?sig=abc")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "redirect-away":
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/{name}?sig=abc")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if fault == "slow":
            time.sleep(self.slow_s)
        if fault == "drip-headers":
            self._drip_headers()
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{len(body)}"')
        self.end_headers()
        if fault == "drip":
            self._drip(body)
            return
        if fault == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _drip_headers(self) -> None:
        """Send a status line and endless headers, one byte every 0.2 s (at most 60 s)."""
        lines = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: a\r\n" * 30
        try:
            for byte in lines[:300]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            return

    def _drip(self, body: bytes) -> None:
        """Send 2 bytes per second (at most 60 s), until the client hangs up."""
        try:
            for start in range(0, min(len(body), 120), 2):
                self.wfile.write(body[start : start + 2])
                self.wfile.flush()
                time.sleep(1.0)
        except OSError:
            return


@contextmanager
def faulty_server(
    root: Path, faults: dict[str, list[str]], slow_s: float = 1.0, hits: dict | None = None
) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 serving `root` with injected faults; yields its URL.

    `hits`, when given, counts the requests per file name.
    """
    counts = {} if hits is None else hits
    handler = type(
        "Handler",
        (FaultyHandler,),
        {"root": root, "faults": faults, "hits": counts, "slow_s": slow_s},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
