"""`nowcast serve` in headless Chromium: the overview's cards, the forecast page's slider.

Uses Debian's chromium and chromedriver (`make apt`), pointed at explicitly, so selenium never
downloads a browser or driver. Skips with the reason when either is absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from serve_fixtures import CLOCK, RADAR, SATELLITE, build_site

from nowcast.serve.runner import BackgroundServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NEWEST_ID = f"{RADAR}_20240901T0700Z"

pytestmark = [
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()) or shutil.which("true") is None,
        reason=f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)",
    ),
    pytest.mark.timeout(180),
]


def make_driver(width: int = 1280, height: int = 900):  # noqa: ANN201 - selenium WebDriver
    """Headless Chromium through the system chromedriver (no selenium-manager download)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    return driver


def image_loaded(driver, element) -> bool:  # noqa: ANN001 - selenium objects
    """Whether an <img> finished loading a real picture."""
    return bool(
        driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", element
        )
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    settings = build_site(tmp_path_factory.mktemp("browser-site"))
    with BackgroundServer(settings, clock=lambda: CLOCK) as server:
        yield server


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    browser = make_driver()
    try:
        yield browser
    finally:
        browser.quit()


def test_overview_shows_a_card_per_pipeline(served: BackgroundServer, driver) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(served.url + "/")
    cards = driver.find_elements(By.CSS_SELECTOR, "section.card")
    assert [c.get_attribute("data-pipeline") for c in cards] == [SATELLITE, RADAR]
    radar = cards[1]
    assert "2024-09-01T07:00Z" in radar.text and "10 min" in radar.text
    thumb = radar.find_element(By.TAG_NAME, "img")
    WebDriverWait(driver, 30).until(lambda d: image_loaded(d, thumb))
    assert "source timed out" in cards[0].text
    assert "running" in driver.find_element(By.ID, "scheduler").text


def test_forecast_slider_moves_through_frames(served: BackgroundServer, driver) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{served.url}/forecasts/{NEWEST_ID}")
    slider = driver.find_element(By.ID, "slider")
    frame = driver.find_element(By.ID, "frame")
    label = driver.find_element(By.ID, "frame-label")
    assert slider.get_attribute("max") == "7"  # 4 observed + 4 forecast frames
    assert slider.get_attribute("value") == "4"  # opens at the first lead
    assert frame.get_attribute("src").endswith(f"/frames/{NEWEST_ID}/lead-0.png")
    assert label.text == "+30 min, valid 2024-09-01T07:30Z"
    WebDriverWait(driver, 60).until(lambda d: image_loaded(d, frame))
    slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert slider.get_attribute("value") == "6"
    assert frame.get_attribute("src").endswith(f"/frames/{NEWEST_ID}/lead-2.png")
    assert label.text == "+90 min, valid 2024-09-01T08:30Z"
    WebDriverWait(driver, 60).until(lambda d: image_loaded(d, frame))
    slider.send_keys(Keys.HOME)
    assert frame.get_attribute("src").endswith(f"/frames/{RADAR}_20240901T0400Z/observation.png")
    assert label.text.startswith("observed 2024-09-01T04:00Z")
    WebDriverWait(driver, 60).until(lambda d: image_loaded(d, frame))
    colorbar = driver.find_element(By.ID, "colorbar")
    WebDriverWait(driver, 30).until(lambda d: image_loaded(d, colorbar))
    assert "Rain rate (mm/h)" in driver.find_element(By.ID, "units").text
    link = driver.find_element(By.LINK_TEXT, "NetCDF").get_attribute("href")
    assert link.endswith(f"/files/forecasts/{RADAR}/{NEWEST_ID}.nc")


def test_play_button_advances(served: BackgroundServer, driver) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{served.url}/forecasts/{NEWEST_ID}")
    driver.find_element(By.ID, "play").click()
    slider = driver.find_element(By.ID, "slider")
    WebDriverWait(driver, 10).until(lambda d: slider.get_attribute("value") != "4")
    driver.find_element(By.ID, "play").click()


@pytest.fixture(scope="module")
def ensemble_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """A site whose model ensemble was written, rendered and verified through the CLI on the
    repository's BOM frames, served."""
    from ingest_fixtures import cli

    from nowcast.settings.config import load_settings

    site = tmp_path_factory.mktemp("ensemble-browser")
    frames = REPO / "tests" / "data" / "bom-66-20201031"
    shutil.copytree(frames, site / "incoming", ignore=shutil.ignore_patterns("*.md"))
    config = site / "nowcast.toml"
    config.write_text(
        f'archive = "archive/nowcast.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n'
        'pipelines = ["bom-radar"]\n'
    )
    env = {"NOWCAST_BOM_DIR": str(site / "incoming")}
    init = "2020-10-31T09:30Z"
    for args in (
        ("ingest", "--since", "2020-10-31T09:00Z", "--until", "2020-10-31T10:30Z"),
        ("forecast", "-p", "bom-radar", "--at", init, "--ensemble", "3", "--render"),
        ("verify", "-p", "bom-radar", "--from", init, "--to", init),
    ):
        result = cli(config, *args, env=env)
        assert result.exit_code == 0, result.output
    with BackgroundServer(load_settings(config), clock=lambda: CLOCK) as server:
        yield server


def test_ensemble_page_switches_to_a_probability_map(ensemble_served, driver) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    forecast_id = "bom-radar_20201031T0930Z_model-ensemble-modernn-radar-guided"
    driver.get(f"{ensemble_served.url}/forecasts/{forecast_id}")
    frame = driver.find_element(By.ID, "frame")
    colorbar = driver.find_element(By.ID, "colorbar")
    assert frame.get_attribute("src").endswith(f"/frames/{forecast_id}/lead-0.png")
    view = Select(driver.find_element(By.ID, "view"))
    assert [o.text for o in view.options][:3] == [
        "ensemble mean",
        "P(R >= 1 mm/h)",
        "P(R >= 5 mm/h)",
    ]
    view.select_by_visible_text("P(R >= 5 mm/h)")
    assert frame.get_attribute("src").endswith(f"/frames/{forecast_id}/probability-1-lead-0.png")
    assert colorbar.get_attribute("src").endswith("/colorbar-probability.png")
    assert driver.find_element(By.ID, "frame-label").text.startswith("P(R >= 5 mm/h) · +10 min")
    WebDriverWait(driver, 60).until(lambda d: image_loaded(d, frame))
    WebDriverWait(driver, 30).until(lambda d: image_loaded(d, colorbar))
    driver.find_element(By.ID, "slider").send_keys("\ue014")  # arrow right: the next lead
    assert frame.get_attribute("src").endswith(f"/frames/{forecast_id}/probability-1-lead-1.png")
    view.select_by_visible_text("member 2")
    assert frame.get_attribute("src").endswith(f"/frames/{forecast_id}/member-2-lead-1.png")
    WebDriverWait(driver, 60).until(lambda d: image_loaded(d, frame))
    maps = driver.find_element(By.LINK_TEXT, "probability maps").get_attribute("href")
    assert maps.endswith(f"{forecast_id}_probability.png")


def test_skill_page_shows_the_ensemble_plots(ensemble_served, driver) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{ensemble_served.url}/skill/bom-radar")
    plots = driver.find_elements(By.CSS_SELECTOR, "section.ensemble img")
    names = [p.get_attribute("alt") for p in plots]
    assert "ensemble rank histogram" in names and "ensemble reliability @ 1 mm/h" in names
    for plot in plots[:3]:
        WebDriverWait(driver, 60).until(lambda d, p=plot: image_loaded(d, p))
