"""Screenshots of `nowcast serve` for the README: docs/serve-overview.png, docs/serve-forecast.png.

Serves the synthetic test site (tests/serve_fixtures.py, fixed clock) on 127.0.0.1 and a free
port, and photographs the overview and the newest radar forecast in headless Chromium (Debian's
chromium and chromedriver). Run: `PYTHONPATH=. .venv/bin/python benchmarks/serve_screens.py`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from serve_fixtures import CLOCK, RADAR, build_site  # noqa: E402
from test_serve_browser import image_loaded, make_driver  # noqa: E402

from nowcast.serve.runner import BackgroundServer  # noqa: E402


def wait_for_images(driver, seconds: float = 60) -> None:  # noqa: ANN001 - selenium WebDriver
    """Until every <img> on the page has loaded (or the time is up)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(image_loaded(driver, img) for img in driver.find_elements(By.TAG_NAME, "img")):
            return
        time.sleep(0.2)


def main() -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    docs = REPO / "docs"
    with tempfile.TemporaryDirectory() as tmp:
        settings = build_site(Path(tmp))
        with BackgroundServer(settings, clock=lambda: CLOCK) as server:
            driver = make_driver(1000, 1000)
            try:
                driver.get(server.url + "/")
                wait_for_images(driver)
                driver.save_screenshot(str(docs / "serve-overview.png"))
                driver.get(f"{server.url}/forecasts/{RADAR}_20240901T0700Z")
                driver.find_element(By.ID, "slider").send_keys(Keys.ARROW_RIGHT)
                wait_for_images(driver)
                driver.save_screenshot(str(docs / "serve-forecast.png"))
            finally:
                driver.quit()
    print("wrote docs/serve-overview.png and docs/serve-forecast.png")


if __name__ == "__main__":
    main()
