"""Headless Chromium for the browser tests (the report, the live view, inspect view): one
setup, so the three tests load pages the same way and see the same logs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--disable-default-apps", "--disable-extensions")
HINT = "/usr/bin/chromium or /usr/bin/chromedriver missing (bash scripts/install_browser.sh)"


def chromium_present() -> bool:
    """Whether Chromium and its driver are installed (scripts/install_browser.sh)."""
    return CHROMIUM.is_file() and CHROMEDRIVER.is_file()


def require_chromium() -> None:
    """Skip without Chromium, except in CI, where the browser tests must run."""
    if not chromium_present():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the browser test: scripts/install.sh --test "
                               "installs Chromium")
        pytest.skip(HINT)


def start_chrome(profile: Path, window: str = "1280,1000") -> Any:
    """A headless Chrome with browser and performance logs on, past its new-tab page."""
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (bash scripts/install_browser.sh)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--window-size={window}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    chrome = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    chrome.set_page_load_timeout(30)
    chrome.get("about:blank")          # leave the new-tab page (it loads chrome:// resources)
    chrome.get_log("performance")
    return chrome
