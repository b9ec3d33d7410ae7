"""A feed for every saved search: `watch feed`, `/saved/NAME.atom` and `/saved.atom`, read back by feedparser."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import feedparser
from click.testing import CliRunner

from newsdesk.cli.main import cli
from newsdesk.core.home import Home
from newsdesk.web.app import create_app
from tests.records import record, write_outbox

KURSK = record("https://www.jpost.com/bn/21", "Ukraine says North Korea troops reached Kursk", "2024-10-25T09:00:00+00:00",
               agency="Reuters", summary="Kyiv said the first troops had reached the Kursk region.")
TROOPS = record("https://www.jpost.com/bn/23", "More troops <sent> & \x07counted", "2024-10-25T11:00:00+00:00")
RAIN = record("jpost-breaking:abc123", "Heavy rain expected in the north", None)


def run(home: Path, *args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, [*args, "--home", str(home)], catch_exceptions=False)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    run(home, "watch", "add", "korea", "troops")
    run(home, "watch", "add", "north", "north")
    write_outbox(home, "20241025T100000Z-a-aaaaaa", [KURSK])
    run(home, "ingest")
    write_outbox(home, "20241025T120000Z-a-bbbbbb", [TROOPS, RAIN])
    run(home, "ingest")
    return home


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_feed_entries_equal_watch_show_json(tmp_path: Path) -> None:
    home = _home(tmp_path)
    shown = json.loads(run(home, "watch", "show", "korea", "--json").stdout)
    result = run(home, "watch", "feed", "korea")
    assert result.exit_code == 0
    feed = feedparser.parse(result.stdout_bytes)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.feed.title == "newsdesk: korea"
    assert len(feed.entries) == len(shown) == 2
    for entry, match in zip(feed.entries, shown):
        assert entry.id == match["key"]
        assert entry.link == match["url"]
        assert entry.title == match["title"].replace("\x07", "")
        assert _when(entry.published) == _when(match["published"])
        assert _when(entry.updated) == _when(match["matched_at"])
    assert feed.entries[1].summary == KURSK["summary"]
    assert feed.entries[0].title == "More troops <sent> & counted"  # escaped, and the control character dropped


def test_a_record_without_a_link_or_date(tmp_path: Path) -> None:
    home = _home(tmp_path)
    feed = feedparser.parse(run(home, "watch", "feed", "north").stdout_bytes)
    (rain,) = [e for e in feed.entries if e.id == RAIN["key"]]
    assert rain.guidislink and "published" not in rain  # no <link>: feedparser falls back on the id
    assert rain.summary == "jpost-breaking" and rain.content[0].value == "jpost-breaking"


def test_the_server_serves_the_same_document(tmp_path: Path) -> None:
    home = _home(tmp_path)
    client = create_app(Home(home), "UTC").test_client()
    served = client.get("/saved/korea.atom")
    assert served.status_code == 200 and served.mimetype == "application/atom+xml"
    assert served.data == run(home, "watch", "feed", "korea", "--base-url", "http://localhost/").stdout_bytes
    feed = feedparser.parse(served.data)
    assert feed.feed.links[0].href == "http://localhost/saved/korea.atom"
    everything = client.get("/saved.atom")
    assert everything.data == run(home, "watch", "feed", "--base-url", "http://localhost/").stdout_bytes
    merged = feedparser.parse(everything.data)
    assert not merged.bozo
    terms = {e.id: sorted(t.term for t in e.tags) for e in merged.entries}
    assert terms == {KURSK["key"]: ["korea", "north"], TROOPS["key"]: ["korea"], RAIN["key"]: ["north"]}


def test_the_saved_searches_page_links_each_feed(tmp_path: Path) -> None:
    home = _home(tmp_path)
    client = create_app(Home(home), "UTC").test_client()
    page = client.get("/saved").get_data(as_text=True)
    assert 'href="/saved/korea.atom"' in page and 'href="/saved/north.atom"' in page
    assert 'href="/saved.atom"' in page


def test_an_unknown_feed_is_a_404_and_a_one_line_error(tmp_path: Path) -> None:
    home = _home(tmp_path)
    client = create_app(Home(home), "UTC").test_client()
    assert client.get("/saved/nope.atom").status_code == 404
    result = run(home, "watch", "feed", "nope")
    assert result.exit_code == 1 and "saved searches: korea, north" in result.stderr
    assert "Traceback" not in result.output


def test_web_api_hides_notification_secrets(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "watch", "add", "k", "korea", "--notify", "ntfy://bob:Pa55wordXYZ@ntfy.example.org/topic")
    client = create_app(Home(home), "UTC").test_client()
    api: Any = client.get("/api/saved").get_json()
    assert api[0]["notify"] == ["ntfy://bob:****@ntfy.example.org/topic"]
    for path in ("/api/saved", "/saved", "/saved/k.atom", "/saved.atom"):
        assert "Pa55wordXYZ" not in client.get(path).get_data(as_text=True)
