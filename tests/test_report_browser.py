"""The report in a real browser: headless Chromium via Selenium, offline, from file://.

Checks the index shows the leaderboard rows, a session page shows every turn and a click on a
scratchpad's summary expands it, the report's script runs under its CSP, injected HTML shows
as literal text, no JavaScript error or alert fires, and no request leaves the machine (every
URL the page requests is file:, data: or about:). A screenshot of each page is saved under the
test's temp folder and must not be blank. Skipped when Chromium, chromedriver or Selenium is
missing (``bash scripts/install_browser.sh`` installs them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluation.site import build_site
from evaluation.site.build import slug
from negotiation.logs.reading import read_log as load_log
from tests.browser import HINT, chromium_present, start_chrome
from tests.reportsite import HOSTILE, HOSTILE_ID, add_hostile_session, scripted_run

LOCAL_SCHEMES = ("file:", "data:", "about:")

if os.environ.get("CI") and not chromium_present():
    raise RuntimeError("CI must run the browser test: scripts/install.sh --test installs Chromium")
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (bash scripts/install_browser.sh)")
if not chromium_present():
    pytest.skip(HINT, allow_module_level=True)

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("browser")
    run = scripted_run(root / "runs")
    add_hostile_session(run)
    build_site([run], root / "site")
    return run, root / "site"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chrome = start_chrome(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.quit()


def visit(driver: Any, page: Path, shots: Path) -> None:
    """Open a page, check it stayed quiet and local, and save a non-blank screenshot."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(page.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    assert_quiet(driver)
    screenshot(driver, shots / f"{page.stem}.png")


def assert_quiet(driver: Any) -> None:
    """No alert open, no SEVERE console entry, every request local."""
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in events
            if m["method"] == "Network.requestWillBeSent"]
    assert urls, "performance logging saw no request at all"
    assert [u for u in urls if not u.startswith(LOCAL_SCHEMES)] == []


def screenshot(driver: Any, path: Path) -> None:
    """Save a screenshot and check it holds more than one colour."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path))
    import matplotlib.image as mpimg

    pixels = (mpimg.imread(str(path))[..., :3].reshape(-1, 3) * 255).astype(np.int64)
    assert pixels.std() > 5
    assert len(np.unique(pixels @ np.array([65536, 256, 1]))) > 10


def test_report_in_chromium(site: tuple[Path, Path], driver: Any,
                            tmp_path_factory: pytest.TempPathFactory) -> None:
    run, out = site
    shots = tmp_path_factory.mktemp("screenshots")
    visit(driver, out / "index.html", shots)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.leaderboard tr.lb-row")
    assert len(rows) == 1 and rows[0].text.startswith("scripted:rational 3 ")
    assert len(driver.find_elements(By.CSS_SELECTOR, "figure img")) >= 3
    assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 0
               for img in driver.find_elements(By.CSS_SELECTOR, "figure img"))
    for page in sorted(out.glob("*.html")):
        if page.name != "index.html":
            visit(driver, page, shots)
    assert len(list(shots.glob("*.png"))) == len(list(out.glob("*.html")))


def test_session_page_turns_and_scratchpad(site: tuple[Path, Path], driver: Any) -> None:
    run, out = site
    log = load_log(run / f"session-{HOSTILE_ID}.json")
    driver.get((out / f"session-0-{slug(HOSTILE_ID)}.html").as_uri())
    turns = driver.find_elements(By.CSS_SELECTOR, "article.turn")
    assert len(turns) == len(log.turns)
    hostile = driver.find_element(By.ID, "turn-1")
    details = hostile.find_element(By.CSS_SELECTOR, "details.private")
    pad = details.find_element(By.CSS_SELECTOR, "pre.scratchpad")
    assert details.get_attribute("open") is None and not pad.is_displayed()
    details.find_element(By.TAG_NAME, "summary").click()
    assert details.get_attribute("open") is not None and pad.is_displayed()
    assert pad.text == f"private {HOSTILE}"
    body = driver.find_element(By.TAG_NAME, "body").text
    assert HOSTILE in body and f"plan {HOSTILE}" in body
    assert driver.find_elements(By.CSS_SELECTOR, "main img") == []   # nothing injected rendered
    assert_quiet(driver)


def test_expand_all_button_runs_under_csp(site: tuple[Path, Path], driver: Any) -> None:
    _, out = site
    page = next(p for p in sorted(out.glob("session-*.html")) if HOSTILE_ID not in p.name)
    driver.get(page.as_uri())
    details = driver.find_elements(By.CSS_SELECTOR, "details.private")
    assert details and not any(d.get_attribute("open") for d in details)
    driver.find_element(By.CSS_SELECTOR, "button[data-details=open]").click()
    assert all(d.get_attribute("open") is not None for d in details)
    driver.find_element(By.CSS_SELECTOR, "button[data-details=close]").click()
    assert not any(d.get_attribute("open") for d in details)
    assert_quiet(driver)
