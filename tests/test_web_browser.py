"""`newsdesk serve` in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium).

The app is served by waitress on 127.0.0.1 in a thread, over an index built
from hand-made records.  Skipped, with the reason, where chromium, its driver
or selenium are missing (``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from index.ingest import ingest
from newsdesk.core.home import Home
from tests.records import record, write_outbox
from tests.records_search import SEARCH_ARCHIVE, WIRE_A
from tests.test_web import HOSTILE

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1200,1000")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
    pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install -y chromium chromium-driver",
                allow_module_level=True)

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def storm_records() -> list[dict[str, Any]]:
    """A made-up storm story that grows over two days: reports per hour rise, peak, fade."""
    start = datetime(2024, 10, 22, 6, tzinfo=timezone.utc)
    per_hour = [1, 0, 2, 1, 3, 5, 8, 6, 4, 3, 2, 2, 1, 0, 1, 1, 0, 0, 1, 2, 4, 3, 2, 1, 1, 0, 1]
    records = []
    for hour, count in enumerate(per_hour):
        for n in range(count):
            at = start + timedelta(hours=hour, minutes=7 * n)
            records.append(record(f"https://storm.example/{hour}-{n}", f"Storm Zelda update {hour}.{n}: winds and floods",
                                  at.isoformat(), source="storm-desk" if n % 2 else "jpost-breaking",
                                  body="Storm Zelda brought strong winds and floods to the coast, officials said."))
    return records


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over a fixture index, served by waitress on a free loopback port."""
    from waitress import create_server

    from newsdesk.web.app import create_app

    root = tmp_path_factory.mktemp("browser") / "home"
    write_outbox(root, "20241024T170000Z-mixed-cccccc", [*SEARCH_ARCHIVE, HOSTILE, *storm_records()])
    ingest(Home(root))
    server = create_server(create_app(Home(root), "UTC"), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, nothing fetched off the machine."""
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def _search(browser: Any, base_url: str, words: str, since: str = "") -> None:
    browser.get(base_url + "/")
    browser.find_element(By.ID, "q").send_keys(words)
    if since:
        browser.find_element(By.ID, "since").send_keys(since)
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "summary")))


def test_search_with_a_date_filter_then_open_a_record(browser: Any, base_url: str, tmp_path: Path) -> None:
    _search(browser, base_url, "korea troops", since="2024-10-01")
    assert "since=2024-10-01" in browser.current_url
    titles = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#hits a.title")]
    assert sorted(titles) == sorted([
        "Putin does not deny reports about North Korea troops",
        "South Korea summons Russian envoy over North Korean troops",
        "Troops deployed as North Korea tensions rise",
    ])  # the September item and the undated one are outside the range
    assert browser.find_element(By.ID, "total").text == "3"
    marks = {m.text.lower() for m in browser.find_elements(By.CSS_SELECTOR, "#hits mark")}
    assert marks & {"korea", "troops"}

    browser.find_element(By.LINK_TEXT, "Putin does not deny reports about North Korea troops").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "record")))
    assert browser.find_element(By.ID, "record-title").text == "Putin does not deny reports about North Korea troops"
    fields = browser.find_element(By.ID, "fields").text
    assert "https://www.jpost.com/bn/1" in fields and "Reuters" in fields


def test_timeline_screenshot(browser: Any, base_url: str, tmp_path: Path) -> None:
    _search(browser, base_url, "storm zelda", since="2024-10-22")
    chart = browser.find_element(By.ID, "timeline")
    bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
    assert len(bars) == 33  # one per hour from since (00:00) to the last report, empty hours included
    heights = [float(b.get_attribute("height")) for b in bars]
    assert heights[:6] == [0.0] * 6  # the asked window's empty hours before the first report
    assert heights.index(max(heights)) == 12  # the peak hour, 12:00 UTC
    caption = browser.find_element(By.ID, "timeline-caption").text
    assert "55 dated matches, counted per hour: 22 Oct 2024 – 23 Oct 2024 (UTC)" in caption
    assert chart.size["width"] >= 900 and chart.size["height"] >= 280  # drawn, not collapsed
    shot = tmp_path / "timeline.png"
    assert chart.screenshot(str(shot))
    assert shot.stat().st_size > 5000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert browser.save_screenshot(str(tmp_path / "search-page.png"))  # the whole page, for a person to look at


def test_a_script_title_shows_as_text_and_never_runs(browser: Any, base_url: str) -> None:
    _search(browser, base_url, "zebrafish")
    title = browser.find_element(By.CSS_SELECTOR, "#hits a.title").text
    assert title == "Breaking <script>alert('pwned')</script> headline"
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018  (the script would have opened an alert)
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0


def test_near_duplicates_link_between_sources(browser: Any, base_url: str) -> None:
    browser.get(f"{base_url}/record?key={WIRE_A['key']}")
    dups = browser.find_element(By.ID, "duplicates")
    assert "wire-b" in dups.text
    dups.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "record")))
    assert "wire-b.example" in browser.find_element(By.ID, "fields").text
