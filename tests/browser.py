"""Headless Chromium for the dashboard's tests and scripts: Debian's `chromium` and
`chromium-driver` packages (installed by scripts/pyenv.sh), driven through Selenium's WebDriver
client with the driver and the browser given by path, so nothing is downloaded.

Selenium rather than Playwright: Playwright's Python package ships its own Node driver pinned
to its own Chromium builds, and drives the distribution's browser only through a version it was
not made for; chromedriver comes from the same Debian source package as chromium, so the two
always match, and Selenium's client is pure Python.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

CHROMIUM = os.environ.get("MNEMODB_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MNEMODB_CHROMEDRIVER", "/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parent.parent
# Screenshots the tests take: an artefact of the run, never committed (target/ is ignored).
ARTEFACTS = ROOT / "target" / "test-artefacts" / "dashboard"


def missing() -> Optional[str]:
    """Why a browser cannot be started here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"{path} is missing: scripts/pyenv.sh installs Debian's chromium and chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: scripts/pyenv.sh installs python/requirements-test.txt"
    return None


def chromium(width: int = 1280, height: int = 900) -> Any:
    """A headless Chromium session that keeps the page's console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                "--no-proxy-server",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def console_errors(driver: Any) -> list:
    """The page's console errors since the last call (reading the log empties it)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def wait_for(driver: Any, script: str, timeout: float = 30.0) -> Any:
    """Waits until `script` (a JavaScript expression) is truthy; returns its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(f"return {script};"))


# Loopback only: no proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url: str, method: str = "GET", body: Any = None, token: Optional[str] = None) -> Any:
    """One JSON request; returns (status, answer)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(req, timeout=120) as resp:
            text = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        status = e.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text
