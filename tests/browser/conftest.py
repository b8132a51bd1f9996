"""A real browser against the real app: Debian's Chromium, headless, driven by Selenium,
talking to a threaded server on a free port (tests/support/live_server.py) whose clock is
fixed, so the day on screen is the tests' day.

Chromium missing is a failure, not a skip (a skipped browser test proves nothing); set
DESK_BROWSER_TESTS=skip to opt out on purpose (e.g. a machine without the packages).
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from scheduler.clock import FixedClock
from tests.conftest import NOW
from tests.support.live_server import LiveServer

# Debian's packages; the variables exist so a test can show what happens without them.
CHROMIUM = os.environ.get("DESK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DESK_CHROMEDRIVER", "/usr/bin/chromedriver")
OPT_OUT = "DESK_BROWSER_TESTS"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--lang=en-US", "--window-size=1400,1000", "--force-device-scale-factor=1")
WAIT_SECONDS = 15


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def browser():
    if os.environ.get(OPT_OUT, "").lower() == "skip":
        pytest.skip(f"browser tests opted out ({OPT_OUT}=skip)")
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(f"The browser tests need Debian's Chromium and its driver; missing: {', '.join(missing)}. "
                    "Install them with `apt-get install -y chromium chromium-driver` (.ci/run does), "
                    f"or set {OPT_OUT}=skip to opt out.", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="desk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations, script errors
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def server(database_url, _app):
    # _app first: the schema exists before this server's app opens the database.
    with LiveServer(database_url, FixedClock(NOW)) as live:
        yield live


class Page:
    """The browser at one test: go to a path, wait for things, save a screenshot."""

    def __init__(self, driver, base_url):
        self.driver, self.base_url = driver, base_url

    def go(self, path: str):
        self.driver.get(self.base_url + path)

    def wait(self, condition, seconds: float = WAIT_SECONDS):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, seconds).until(condition)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def text_in(self, css: str, text: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC

        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        return self.find(css)

    def console_errors(self) -> list[str]:
        """What the page complained about since the last call (a blocked script or style, an error).
        A refusal's own 4xx answer is logged by Chromium too, and is expected."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if (entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"])
                and "the server responded with a status of 4" not in entry["message"]]

    def body(self) -> str:
        return self.find("body").text

    def shoot(self, name: str) -> Path:
        """The whole page, not just the window: the window grows to the page's height."""
        ARTIFACTS.mkdir(exist_ok=True)
        height = self.driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
        self.driver.set_window_size(1400, min(max(int(height) + 20, 600), 6000))
        path = ARTIFACTS / f"desk-{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1400, 1000)
        return path


@pytest.fixture
def page(browser, server, app):
    browser.delete_all_cookies()
    browser.get(server.base_url + "/desk/sign-in")  # cookies are per site: clear this one's too
    browser.delete_all_cookies()
    return Page(browser, server.base_url)
