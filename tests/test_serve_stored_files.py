"""The live page on files as they are really stored: damaged, huge, linked from outside, and
the forecast store beside the pipeline folders. Each bad file stays in its own card and page."""

from __future__ import annotations

import asyncio
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import netCDF4
import pytest
from serve_fixtures import CLOCK, RADAR, build_site, settings_for

from nowcast.serve.app import create_app
from nowcast.serve.runner import bind_socket

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests httpx2; httpx works
    from starlette.testclient import TestClient

BAD_ID = f"{RADAR}_20240901T0800Z_model-broken"  # newer than every good forecast
GOOD_ID = f"{RADAR}_20240901T0700Z"


def _garbage(path: Path, good: Path) -> None:
    path.write_bytes(b"\x89HDF\r\n\x1a\nnot really a NetCDF file" * 40)


def _truncated(path: Path, good: Path) -> None:
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])


def _empty(path: Path, good: Path) -> None:
    path.write_bytes(b"")


def _no_forecast_variable(path: Path, good: Path) -> None:
    with netCDF4.Dataset(path, "w") as handle:
        handle.createDimension("x", 3)
        handle.createVariable("other", "f4", ("x",))[:] = [1, 2, 3]


def _huge(path: Path, good: Path) -> None:
    """A small file whose header declares 6 x 8192 x 8192 float32 (1.5 GiB) of forecast."""
    with netCDF4.Dataset(path, "w") as handle:
        for name, size in (("lead_time", 6), ("y", 8192), ("x", 8192)):
            handle.createDimension(name, size)
        handle.createVariable(
            "forecast", "f4", ("lead_time", "y", "x"), zlib=True, chunksizes=(1, 512, 512)
        )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    build_site(tmp_path)
    return tmp_path


def client_for(root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(root), clock=lambda: CLOCK)) as test_client:
        yield test_client


@pytest.mark.parametrize("damage", [_garbage, _truncated, _empty, _no_forecast_variable, _huge])
def test_a_bad_newest_file_stays_in_its_card(site: Path, damage) -> None:  # noqa: ANN001
    folder = site / "forecasts" / RADAR
    damage(folder / f"{BAD_ID}.nc", folder / f"{GOOD_ID}.nc")
    for client in client_for(site):
        for url in ("/", "/api/pipelines", f"/api/pipelines/{RADAR}", f"/forecasts/{GOOD_ID}"):
            assert client.get(url).status_code == 200, url
        card = {c["name"]: c for c in client.get("/api/pipelines").json()["pipelines"]}[RADAR]
        assert card["newest"]["id"] == BAD_ID
        assert f"{BAD_ID}.nc" in card["newest"]["error"]
        assert str(site) not in card["newest"]["error"]
        assert "newest forecast: " in client.get("/").text
        for url in (
            f"/forecasts/{BAD_ID}",
            f"/api/forecasts/{BAD_ID}",
            f"/frames/{BAD_ID}/lead-0.png",
        ):
            answer = client.get(url)
            assert answer.status_code == 422, url
            assert f"{BAD_ID}.nc" in answer.text and "Traceback" not in answer.text


def test_a_huge_file_is_refused_before_it_is_read(site: Path) -> None:
    folder = site / "forecasts" / RADAR
    _huge(folder / f"{BAD_ID}.nc", folder / f"{GOOD_ID}.nc")
    assert (folder / f"{BAD_ID}.nc").stat().st_size < 1_000_000
    for client in client_for(site):
        answer = client.get(f"/api/forecasts/{BAD_ID}").json()
        assert "over the 512 MB bound (serve.max_forecast_mb)" in answer["error"]


def test_a_link_out_of_the_forecasts_folder_is_no_forecast(site: Path) -> None:
    outside = site / "elsewhere"
    outside.mkdir()
    target = outside / "copy.nc"
    target.write_bytes((site / "forecasts" / RADAR / f"{GOOD_ID}.nc").read_bytes())
    (site / "forecasts" / RADAR / f"{BAD_ID}.nc").symlink_to(target)
    for client in client_for(site):
        for url in (
            f"/api/forecasts/{BAD_ID}",
            f"/forecasts/{BAD_ID}",
            f"/frames/{BAD_ID}/lead-0.png",
        ):
            assert client.get(url).status_code == 404, url
        assert client.get(f"/files/forecasts/{RADAR}/{BAD_ID}.nc").status_code == 403
        ids = [f["id"] for f in client.get(f"/api/pipelines/{RADAR}").json()["forecast_list"]]
        assert BAD_ID not in ids


def test_the_forecast_store_is_not_a_pipeline(site: Path) -> None:
    store = site / "forecasts" / "forecasts.zarr"
    (store / RADAR).mkdir(parents=True)
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    for client in client_for(site):
        names = [card["name"] for card in client.get("/api/pipelines").json()["pipelines"]]
        assert "forecasts.zarr" not in names and RADAR in names


def test_accepted_connections_send_without_delay() -> None:
    """The listening socket says it is TCP, so asyncio sets TCP_NODELAY on each connection
    (without it a keep-alive response waits for the client's delayed ACK)."""

    async def accept_one() -> int:
        listening = bind_socket("127.0.0.1", 0)
        seen: list[int] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            seen.append(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listening)
        port = listening.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        while not seen:
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()
        return seen[0]

    assert asyncio.run(asyncio.wait_for(accept_one(), 10)) == 1
