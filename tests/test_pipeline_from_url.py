"""`nowcast pipeline new NAME --from URL`: a pipeline drafted from a web folder's listing (a
local server on 127.0.0.1 serving shared files) ingests and forecasts with no hand edit; links
that leave the folder are left out; a listing that cannot be used says why in one line."""

from __future__ import annotations

import functools
import shutil
import threading
import tomllib
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import shared_data_path
from ingest_fixtures import cli

from nowcast.ingest.url_listing import listed_names, listing_source, url_template

MCH = ("radar", "mch-20160711")


class QuietHandler(SimpleHTTPRequestHandler):
    """The standard library's folder server, without its request log; every path asked for
    is kept in `asked`."""

    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.asked.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    QuietHandler.asked = []
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def site(tmp_path: Path) -> Path:
    """Settings with an empty pipelines folder."""
    (tmp_path / "pipelines").mkdir()
    config = tmp_path / "nowcast.toml"
    config.write_text('archive = "archive.zarr"\npipelines_dir = "pipelines"\n')
    return config


def test_a_listed_radar_day_is_drafted_ingested_and_forecast(
    tmp_path: Path, web: tuple[Path, str]
) -> None:
    root, base = web
    shutil.copytree(shared_data_path(*MCH), root / "mch")
    config = site(tmp_path)
    drafted = cli(config, "pipeline", "new", "mchweb", "--from", f"{base}/mch")
    assert drafted.exit_code == 0, drafted.output
    files = [path for path in QuietHandler.asked if not path.endswith("/")]
    assert 1 < len(files) == len(set(files)), files  # a few files read, each fetched once
    assert "next: nowcast ingest -p mchweb --since 2016-07-11T20:45:00Z" in drafted.output
    written = tomllib.loads((tmp_path / "pipelines" / "mchweb.toml").read_text())
    assert written["source"] == {
        "kind": "http",
        "url": f"{base}/mch/{{time:AQC%y%j%H%MV_00005.801.gif}}",
        "format": "mch_gif",
        "cadence": "5min",
        "reader": {"importer_kwargs": {"product": "AQC", "unit": "mm", "accutime": 5}},
    }
    span = ("--since", "2016-07-11T20:45Z", "--until", "2016-07-12T00:00Z")
    ingested = cli(config, "ingest", "-p", "mchweb", *span)
    assert ingested.exit_code == 0, ingested.output
    assert "│      40 │" in ingested.output  # every listed file fetched
    made = cli(config, "forecast", "-p", "mchweb", "--out", str(tmp_path / "fc"))
    assert made.exit_code == 0, made.output
    assert list((tmp_path / "fc" / "mchweb").glob("*model-modernn-radar-guided.nc"))


def test_links_that_leave_the_folder_are_left_out(web: tuple[Path, str]) -> None:
    root, base = web
    (root / "radar").mkdir()
    (root / "radar" / "index.html").write_text(
        "<html><body>"
        '<a href="../">up</a> <a href="sub/">folder</a> <a href="/etc/passwd">abs</a>'
        '<a href="http://elsewhere.example/x_202401010000.nc">other host</a>'
        '<a href="x_202401010000.nc?sig=1">query</a> <a href="javascript:alert(1)">js</a>'
        '<a href=".hidden_202401010000.nc">hidden</a> <a href="a%2Fb_202401010000.nc">slash</a>'
        '<a href="x_202401010000.nc">one</a> <a href="./x_202401010010.nc">two</a>'
        '<a href="x_202401010000.nc">again</a> <a href="x%20y_202401010020.nc">space</a>'
        "</body></html>"
    )
    names = listed_names(listing_source(f"{base}/radar"), f"{base}/radar")
    assert names == ["x_202401010000.nc", "x_202401010010.nc", "x y_202401010020.nc"]


def test_a_pattern_with_varying_letters_has_no_single_url() -> None:
    with pytest.raises(Exception, match="vary beyond their times"):
        url_template("http://host/radar/", "AQC%y%j%H%M?_00005.801.gif")
    assert url_template("http://host/radar", "R%Y%m%d%H%M.h5") == (
        "http://host/radar/{time:R%Y%m%d%H%M.h5}"
    )


def test_mixed_suffixes_are_refused_with_the_reason(tmp_path: Path, web: tuple[Path, str]) -> None:
    root, base = web
    mixed = root / "mixed"
    mixed.mkdir()
    for path in sorted(shared_data_path(*MCH).iterdir())[:4]:
        shutil.copy(path, mixed / path.name)
        shutil.copy(path, mixed / path.name.replace("V_", "F_").replace("045", "047"))
    config = site(tmp_path)
    result = cli(config, "pipeline", "new", "mixed", "--from", f"{base}/mixed/")
    assert result.exit_code == 2, result.output
    assert "vary beyond their times" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "pipelines" / "mixed.toml").exists()
    assert QuietHandler.asked == ["/mixed/"]  # refused from the listing: no file fetched


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/missing/", 3, "404 not found"),
        ("/empty/", 3, "no series of files with times in their names"),
        ("/notes/", 3, "formats tried"),
    ],
)
def test_a_listing_that_cannot_be_used_says_why(
    tmp_path: Path, web: tuple[Path, str], path: str, code: int, message: str
) -> None:
    root, base = web
    (root / "empty").mkdir()
    (root / "notes").mkdir()
    for minute in ("00", "10", "20"):
        (root / "notes" / f"note_2024010100{minute}.txt").write_text("not a frame\n")
    config = site(tmp_path)
    result = cli(config, "pipeline", "new", "web", "--from", f"{base}{path}")
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_server_that_is_not_there_is_a_source_failure(tmp_path: Path) -> None:
    config = site(tmp_path)
    closed = "http://127.0.0.1:9/radar/"  # the discard port: nothing listens there
    result = cli(config, "pipeline", "new", "web", "--from", closed)
    assert result.exit_code == 4, result.output
    assert "127.0.0.1:9" in result.output and "Traceback" not in result.output
