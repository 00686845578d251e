"""The fleet status page in a real browser: headless Chromium (Debian ``chromium``, ``chromium-driver``)
driven by selenium, at a phone's width, in front of three simulated hosts."""

import contextlib
import shutil
import threading
import time

import pytest

from ovm3.cli.cmd_exporter import build_server
from ovm3.monitor.collector import FleetCollector, Target
from tests.test_exporter import running_fleet

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="chromium and chromium-driver (Debian packages) not installed")


@contextlib.contextmanager
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # both paths given: selenium's manager never looks for a download
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=390,844", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors (CSP) readable below
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _rows(driver):
    # Read in one script: the page replaces its rows at every refresh, so element handles go stale.
    pairs = driver.execute_script(
        "return Array.from(document.querySelectorAll('#hosts tr')).map("
        "function (tr) { return [tr.getAttribute('data-host'), tr.innerText]; });")
    return dict(pairs)


def _wait(what, check, timeout):
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s" % what)


def test_status_page_in_headless_chromium_shows_hosts_and_a_host_going_down(tmp_path):
    with running_fleet(tmp_path / "sim") as hosts:
        collector = FleetCollector([Target("ovm-%d" % i, h.client) for i, h in enumerate(hosts)], deadline=3,
                                   module_version="1.0.0")
        # A browser sends no bearer token by itself: the page is served here under --allow-from, one of the
        # exporter's modes (tests/test_exporter.py checks it under a token).
        server = build_server(collector, "127.0.0.1", 0, insecure_http=True, allow_from=("127.0.0.1/32",))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with browser() as driver:
                driver.get(server.url.replace("/metrics", "/"))
                rows = _wait("three host rows", lambda: len(_rows(driver)) == 3 and _rows(driver), 30)
                assert "up" in rows["ovm-0"] and "1 running" in rows["ovm-0"] and "1.0.0 (current)" in rows["ovm-0"]
                wide = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
                assert not wide  # usable at a phone's width: no sideways scrolling
                driver.save_screenshot(str(tmp_path / "status.png"))
                assert (tmp_path / "status.png").stat().st_size > 1000
                marker = driver.execute_script("window.__same_page = 1; return window.__same_page")
                hosts[1].power_off()
                # within one refresh (5 s) plus the reuse window of the last scrape (5 s) and the sweep
                _wait("ovm-1 shown DOWN", lambda: "DOWN" in _rows(driver).get("ovm-1", ""), 20)
                assert "up" in _rows(driver)["ovm-0"]
                assert driver.execute_script("return window.__same_page") == marker  # refreshed, not reloaded
                logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
                assert logs == []  # no CSP violation, no failed asset
        finally:
            server.shutdown()
            server.server_close()
            collector.close()
