"""`nowcast serve` in headless Chromium: the overview's cards, the forecast page's slider.

Uses Debian's chromium and chromedriver (`make apt`), pointed at explicitly, so selenium never
downloads a browser or driver. Skips with the reason when either is absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
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
