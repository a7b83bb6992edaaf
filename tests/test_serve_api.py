"""`nowcast serve`: each JSON endpoint and page, refused paths, the token, the CLI's errors."""

from __future__ import annotations

import http.client
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_fixtures import CLOCK, RADAR, SATELLITE, SECRET, build_site
from typer.testing import CliRunner

from nowcast.cli.app import app
from nowcast.serve.app import create_app
from nowcast.serve.runner import BackgroundServer
from nowcast.serve.security import PathRefused, bind_warning, safe_file

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests httpx2; httpx works
    from starlette.testclient import TestClient

NEWEST_ID = f"{RADAR}_20240901T0700Z"
OLDEST_ID = f"{RADAR}_20240901T0400Z"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    build_site(root)
    return root


@pytest.fixture(scope="module")
def client(site: Path) -> Iterator[TestClient]:
    from serve_fixtures import settings_for

    with TestClient(create_app(settings_for(site), clock=lambda: CLOCK)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[BackgroundServer]:
    from serve_fixtures import settings_for

    with BackgroundServer(settings_for(site), clock=lambda: CLOCK) as running:
        yield running


def raw_get(server: BackgroundServer, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (no client-side normalisation of `..` or `%2e`)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_status(client: TestClient) -> None:
    data = client.get("/api/status").json()
    assert data["now"] == "2024-09-01T07:10Z"
    assert data["pipelines"] == [SATELLITE, RADAR]
    assert data["forecasts"] == 5
    assert data["revision"] == f"{SATELLITE}_20240901T0600Z;{NEWEST_ID}"
    assert data["scheduler"]["state"] == "running"
    assert client.get("/api/revision").json() == {"revision": data["revision"]}


def test_pipelines_cards(client: TestClient) -> None:
    data = client.get("/api/pipelines").json()
    cards = {card["name"]: card for card in data["pipelines"]}
    radar = cards[RADAR]
    assert radar["forecasts"] == 4
    newest = radar["newest"]
    assert newest["id"] == NEWEST_ID
    assert newest["init_time"] == "2024-09-01T07:00Z"
    assert newest["age_minutes"] == 10
    assert (newest["method"], newest["model"], newest["units"]) == (
        "model",
        "modernn-demo-radar",
        "mm/h",
    )
    assert newest["netcdf"] == f"/files/forecasts/{RADAR}/{NEWEST_ID}.nc"
    assert radar["thumbnail"] == f"/frames/{NEWEST_ID}/thumbnail.png"
    assert radar["last_error"] is None
    assert radar["scheduler"]["jobs"][f"forecast:{RADAR}"]["last_success"]["summary"] == (
        f"wrote .../{NEWEST_ID}.nc"
    )
    assert cards[SATELLITE]["last_error"]["job"] == f"ingest:{SATELLITE}"


def test_pipeline_lists_forecasts_newest_first(client: TestClient) -> None:
    data = client.get(f"/api/pipelines/{RADAR}").json()
    ids = [f["id"] for f in data["forecast_list"]]
    assert ids[0] == NEWEST_ID and ids[-1] == OLDEST_ID and len(ids) == 4


def test_forecast_frames_history_and_scale(client: TestClient) -> None:
    data = client.get(f"/api/forecasts/{NEWEST_ID}").json()
    kinds = [frame["kind"] for frame in data["frames"]]
    assert kinds == ["observed"] * 4 + ["forecast"] * 4  # 3 earlier inits + this one
    assert data["frames"][0]["url"] == f"/frames/{OLDEST_ID}/observation.png"
    leads = [f["lead_minutes"] for f in data["frames"] if f["kind"] == "forecast"]
    assert leads == [30, 60, 90, 120]
    assert data["frames"][-1]["time"] == "2024-09-01T09:00Z"
    assert data["colour_scale"]["label"] == "Rain rate (mm/h)"
    assert data["previous"] == f"{RADAR}_20240901T0600Z" and data["next"] is None
    for frame in data["frames"][3:5]:
        image = client.get(frame["url"])
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert client.get(data["colour_scale"]["image"]).content[:4] == b"\x89PNG"
    netcdf = client.get(data["netcdf"])
    assert netcdf.status_code == 200 and netcdf.content[:4] == b"\x89HDF"


def test_scores_per_lead_and_method(client: TestClient) -> None:
    data = client.get(f"/api/scores/{RADAR}").json()
    assert sorted(data["scores"]) == ["CSI @ 1", "MAE"]
    mae = data["scores"]["MAE"]
    assert sorted(mae) == ["extrapolation", "model", "persistence"]
    assert [row["lead_minutes"] for row in mae["model"]] == [30, 60, 90, 120]
    assert mae["model"][1] == {
        "lead_minutes": 60,
        "mean": pytest.approx(0.8 * 0.8 + 0.005),
        "cases": 2,
    }
    plot = client.get(data["plots"][0]["url"])
    assert plot.status_code == 200 and plot.content[:4] == b"\x89PNG"
    empty = client.get(f"/api/scores/{SATELLITE}").json()
    assert empty["scores"] == {} and empty["plots"] == []


def test_daily(client: TestClient) -> None:
    days = client.get("/api/daily").json()["days"]
    assert days[0]["day"] == "2024-09-01"
    assert client.get(days[0]["index"]).text.startswith("<html>")


def test_pages(client: TestClient) -> None:
    overview = client.get("/").text
    assert f'data-pipeline="{RADAR}"' in overview and "2024-09-01T07:00Z" in overview
    assert "source timed out" in overview
    page = client.get(f"/forecasts/{NEWEST_ID}").text
    assert 'id="slider"' in page and "Rain rate (mm/h)" in page and f"{NEWEST_ID}.nc" in page
    skill = client.get(f"/skill/{RADAR}").text
    assert "persistence" in skill and "/plots/skill/" in skill
    assert "2024-09-01" in client.get("/daily").text
    assert client.get("/static/serve.js").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/pipelines/nope",
        "/api/forecasts/nope_20240901T0700Z",
        "/api/forecasts/..",
        "/api/scores/nope",
        "/frames/nope_20240901T0700Z/lead-0.png",
        f"/frames/{NEWEST_ID}/lead-9.png",
        "/plots/skill/demo-radar/99.png",
        "/no/such/route",
    ],
)
def test_unknown_ids_are_json_404(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert "error" in response.json()


def test_unknown_pages_are_404(client: TestClient) -> None:
    assert client.get("/forecasts/nope_20240901T0700Z").status_code == 404
    assert client.get("/skill/nope").status_code == 404


def test_read_only(client: TestClient) -> None:
    assert client.post("/api/status").status_code == 405
    assert client.delete(f"/files/forecasts/{RADAR}/{NEWEST_ID}.nc").status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/files/products/../secret.png",
        "/files/products/../../etc/passwd",
        "/files/products/%2e%2e/secret.png",
        "/files/products/%2E%2E%2Fsecret.png",
        "/files/products/daily%2F..%2F..%2Fsecret.png",
        "/files/forecasts//etc/passwd",
        "/files/forecasts/%2Fetc%2Fpasswd",
        "/files/products/escape.png",
        "/files/products/daily/2024-09-01/%00.png",
        "/files/products/..%5csecret.png",
    ],
)
def test_traversal_refused(server: BackgroundServer, path: str) -> None:
    status, body = raw_get(server, path)
    assert status in (400, 403, 404)
    assert SECRET.encode() not in body


def test_safe_file_rules(site: Path) -> None:
    products = site / "products"
    good = safe_file(products, f"daily/2024-09-01/{RADAR}_2024-09-01.png")
    assert good.name == f"{RADAR}_2024-09-01.png"
    for bad in (
        "../secret.png",
        str(site / "secret.png"),
        "a/./b.png",
        "escape.png",
        "x\\..\\y.png",
    ):
        with pytest.raises(PathRefused):
            safe_file(products, bad)
    with pytest.raises(PathRefused):
        safe_file(products, "daily/2024-09-01/index.py")
    with pytest.raises(FileNotFoundError):
        safe_file(products, "daily/absent.png")


def test_no_absolute_paths_in_responses(client: TestClient, site: Path) -> None:
    urls = [
        "/api/status",
        "/api/pipelines",
        f"/api/pipelines/{RADAR}",
        f"/api/forecasts/{NEWEST_ID}",
    ]
    urls += [
        f"/api/scores/{RADAR}",
        "/api/daily",
        "/",
        f"/forecasts/{NEWEST_ID}",
        f"/skill/{RADAR}",
    ]
    urls += ["/daily", "/api/forecasts/nope_20240901T0700Z"]
    for url in urls:
        text = client.get(url).text
        assert str(site) not in text, url
        assert "/tmp" not in text and "forecast-host" not in text, url


def test_token_required_when_set(site: Path) -> None:
    from serve_fixtures import settings_for

    locked = TestClient(create_app(settings_for(site), token="s3cret", clock=lambda: CLOCK))
    assert locked.get("/api/status").status_code == 401
    assert locked.get("/").status_code == 401
    assert locked.get("/static/serve.js").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert locked.get("/api/status", headers=wrong).status_code == 401
    assert locked.get("/api/status", headers={"Authorization": "s3cret"}).status_code == 401
    right = {"Authorization": "Bearer s3cret"}
    assert locked.get("/api/status", headers=right).status_code == 200
    assert "s3cret" not in locked.get("/", headers=right).text


def test_bind_warning() -> None:
    assert bind_warning("127.0.0.1", None) is None
    assert bind_warning("localhost", None) is None
    assert bind_warning("::1", None) is None
    assert bind_warning("0.0.0.0", "token") is None
    message = bind_warning("0.0.0.0", None)
    assert message is not None and "NOWCAST_SERVE_TOKEN" in message


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = CliRunner().invoke(
            app,
            ["--archive", str(tmp_path / "a.zarr"), "serve", "--port", str(port)],
            env={"NOWCAST_CONFIG": "", "NOWCAST_SERVE_TOKEN": ""},
        )
    finally:
        taken.close()
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1] == f"error: cannot listen on 127.0.0.1:{port}: already in use"
    assert "Traceback" not in result.output


def test_public_bind_without_token_warns(tmp_path: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("0.0.0.0", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        result = CliRunner().invoke(
            app,
            [
                "--archive",
                str(tmp_path / "a.zarr"),
                "serve",
                "--host",
                "0.0.0.0",
                "--port",
                str(port),
            ],
            env={"NOWCAST_CONFIG": "", "NOWCAST_SERVE_TOKEN": ""},
        )
    finally:
        blocker.close()
    assert "warning: serving on 0.0.0.0 without a token" in result.output
    assert result.exit_code == 2
