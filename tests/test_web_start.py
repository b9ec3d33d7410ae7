"""The web start page (the newest items, filters with counts) and error pages that keep the form."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from index.ingest import ingest
from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from newsdesk.web.app import create_app
from tests.records import record, write_outbox
from tests.records_search import SEARCH_ARCHIVE


@pytest.fixture(scope="module")
def start_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web-start") / "home"
    extra = [record(f"https://wire.example/n{n}", f"Market note {n}", f"2024-10-2{n % 7}T0{n % 9}:00:00+00:00",
                    source="wire-many", agency="AP") for n in range(25)]
    write_outbox(root, "20241024T170000Z-mixed-aaaaaa", SEARCH_ARCHIVE + extra)
    ingest(Home(root))
    return root


@pytest.fixture(scope="module")
def client(start_home: Path) -> Any:
    return create_app(Home(start_home), "UTC").test_client()


def _newest(home: Path, *args: str) -> list[str]:
    out = CliRunner().invoke(cli, ["search", "", *args, "--json", "--limit", "20", "--home", str(home)])
    return [h["key"] for h in json.loads(out.stdout)]


def test_the_start_page_shows_the_newest_20(client: Any, start_home: Path) -> None:
    assert _newest(start_home) == _newest(start_home, "--sort", "newest")  # no words: relevance is newest first
    page = client.get("/").get_data(as_text=True)
    assert 'id="latest"' in page
    shown = re.findall(r'href="/record\?key=([^"]+)"', page)
    assert [html.unescape(k).replace("%3A", ":").replace("%2F", "/") for k in shown][:20] == _newest(start_home)


def test_the_start_page_filters_list_only_sources_with_records_largest_first(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    box = re.search(r'<select name="source".*?</select>', page, re.S)
    assert box is not None
    options = re.findall(r'<option value="([^"]+)"[^>]*>[^<(]*\((\d+)\)</option>', box.group(0))
    counts = [int(n) for _, n in options]
    assert options[0][0] == "wire-many" and counts == sorted(counts, reverse=True) and all(counts)
    assert "bbc-world" not in box.group(0)  # configured, but no records
    agencies = re.search(r'<select name="agency".*?</select>', page, re.S)
    assert agencies is not None and re.search(r"\(\d+\)</option>", agencies.group(0))


def test_an_error_page_keeps_the_form_and_names_the_field(client: Any) -> None:
    response = client.get("/", query_string={"q": "korea troops", "since": "Oct 99 sometime", "until": "2024-10-24",
                                            "source": "jpost-breaking"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="korea troops"' in page and 'value="Oct 99 sometime"' in page and 'value="2024-10-24"' in page
    assert re.search(r'<option value="jpost-breaking" selected>', page)
    message = re.search(r'<p class="message">(.*?)</p>', page, re.S)
    assert message is not None and "the Since field" in message.group(1) and "--since" not in page
    assert 'id="since" value="Oct 99 sometime" size="16" placeholder="2024-10-01, 3d, today" aria-invalid="true"' in page


def test_the_api_error_stays_as_it_was(client: Any) -> None:
    response = client.get("/api/search", query_string={"q": "korea", "since": "Oct 99 sometime"})
    assert response.status_code == 400 and "error" in response.get_json()
