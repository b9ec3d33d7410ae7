"""End to end: a feed, a news sitemap and a list page on a loopback site, crawled twice.

The second run fetches the feed, the sitemaps and the list page again, but no
article page it already archived (a page that failed is tried again), and
adds no record.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from index.search import search
from tests.helpers import FIXTURES, NOT_FOUND, Answer, FixtureSite, LoopbackSite, serve

pytestmark = pytest.mark.e2e
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "RETRY_TIMES=0"]
HOSTS = (b"https://www.jpost.com", b"https://www.meridian-news.example")
LISTING_PAGES = ["/rss/rssfeedsheadlines.aspx", "/sitemaps/news-index.xml", "/sitemaps/news-1.xml", "/latest"]
SERVED_ARTICLES = [
    "/middle-east/article-826101", "/israel-news/article-826099",
    "/world/2024/10/24/ceasefire-talks-resume-in-cairo", "/world/2024/10/24/storm-batters-atlantic-coast",
    "/world/2024/10/24/volcano-erupts-in-iceland", "/world/2024/10/24/finance-ministers-meet-in-washington",
]
MISSING_ARTICLES = [  # linked, but the site answers 404: the listed record is kept
    "/israel-news/politics-and-diplomacy/article-826102", "/world/2024/10/20/harvest-festival-draws-record-crowds",
    "/world/2024/10/24/rail-strike-called-off",
]


@pytest.fixture
def outlets_site() -> Iterator[FixtureSite]:
    """fixtures/outlets on 127.0.0.1, with the pages' absolute links pointing back at it."""
    with serve(FIXTURES / "outlets") as site:
        for path in site.pages:
            body = site.body_for(path)
            assert body is not None
            for host in HOSTS:
                body = body.replace(host, site.base.encode())
            site.overrides[path] = body
        yield site


def _sources_toml(base: str) -> str:
    return f"""
[sources.e2e-feed]
spider = "feed"
urls = ["{base}/rss/rssfeedsheadlines.aspx"]
timezone = "Asia/Jerusalem"
[sources.e2e-feed.options]
extra_fields = ["itemID", "isPremium"]
updated_field = "UpdateDate"
dates_from = "listing"

[sources.e2e-sitemap]
spider = "sitemap"
urls = ["{base}/sitemaps/news-index.xml"]
timezone = "Europe/London"
[sources.e2e-sitemap.options]
since = ""                       # the fixture's dates are old; keep them all
sitemap_allow = "/news-[0-9]+\\\\.xml$"  # not the 2019 archive

[sources.e2e-list]
spider = "list"
urls = ["{base}/latest"]
timezone = "Europe/London"
[sources.e2e-list.options]
item = "ol.ticker > li.ticker__item"
headline = ".ticker__headline"
link = "a.ticker__link::attr(href)"
byline = ".ticker__byline"
time = ".ticker__time"
time_format = "%d.%m.%Y | %H:%M"
"""


def newsdesk(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=120, check=False)


def _reports(home: Path) -> dict[str, list[dict[str, Any]]]:
    """Run reports by source, oldest first."""
    reports: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((home / "runs").glob("*.json")):
        data = json.loads(path.read_text())
        reports.setdefault(data["source"], []).append(data)
    return reports


def test_second_crawl_fetches_no_known_article_and_adds_nothing(home: Path, outlets_site: FixtureSite) -> None:
    home.mkdir(parents=True)
    (home / "sources.toml").write_text(_sources_toml(outlets_site.base))
    ids = ["e2e-feed", "e2e-sitemap", "e2e-list"]

    first = newsdesk("crawl", *ids, *FAST, home=home)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "e2e-feed: 4 seen, 3 new, 0 updated, 0 unchanged, 1 dropped (1 duplicate in run)" in first.stdout  # the link listed twice is one record
    assert "e2e-sitemap: 3 seen, 3 new" in first.stdout
    assert "e2e-list: 4 seen, 4 new" in first.stdout
    assert "ingest: 10 records" in first.stdout
    for path in LISTING_PAGES + SERVED_ARTICLES + MISSING_ARTICLES:
        assert outlets_site.fetched(path) == 1, path
    assert outlets_site.fetched("/sitemaps/archive-2019-05.xml") == 0
    records = {h.record["title"]: h.record for h in search(home / "index", "", limit=50).hits}
    assert len(records) == 10
    depots = records["IDF says it struck Hezbollah weapons depots near Tyre overnight"]
    assert depots["published"] == "2024-10-24T19:52:00+00:00"  # the feed's GMT, not the page's mislabelled time
    assert "Radwan force" in depots["body"] and depots["extra"]["itemID"] == "826101"
    storm = records["Storm batters Atlantic coast, cutting power to thousands"]
    assert storm["kind"] == "sitemap" and storm["authors"] == ["Fiona Blake", "Daniel Osei"]
    assert "Ferry services were suspended" in storm["body"]
    assert records["Rail strike called off after late-night talks"]["agency"] == "Reuters"  # kept from the list

    second = newsdesk("crawl", *ids, *FAST, home=home)
    assert second.returncode == 0, second.stderr + second.stdout
    for source in ids:
        assert f"{source}: " in second.stdout and " 0 new, 0 updated" in second.stdout
    assert "ingest: 0 records" in second.stdout
    for path in LISTING_PAGES:
        assert outlets_site.fetched(path) == 2, path  # list pages and feeds: always fetched
    for path in SERVED_ARTICLES:
        assert outlets_site.fetched(path) == 1, path  # known articles: not fetched again
    for path in MISSING_ARTICLES:
        assert outlets_site.fetched(path) == 2, path  # a failed article page is tried again

    reports = _reports(home)
    again = {source: runs[-1]["stats"] for source, runs in reports.items()}
    assert sum(s.get("newsdesk/article_known", 0) for s in again.values()) == len(SERVED_ARTICLES)
    # Scrapy's own request stats: per source, its listing pages, robots.txt and the retried 404s only.
    assert again["e2e-feed"]["downloader/request_count"] == 1 + 1 + 1
    assert again["e2e-sitemap"]["downloader/request_count"] == 2 + 1 + 1
    assert again["e2e-list"]["downloader/request_count"] == 1 + 1 + 1

    listing = newsdesk("sources", "--json", home=home)
    rows = {row["id"]: row for row in json.loads(listing.stdout)}
    assert rows["e2e-feed"]["kind"] == "feed" and rows["e2e-feed"]["last_run"]["finish_reason"] == "finished"
    assert rows["e2e-list"]["last_run"]["new"] == 0

    refreshed = newsdesk("crawl", "e2e-list", "--refresh", *FAST, home=home)
    assert refreshed.returncode == 0, refreshed.stderr
    assert outlets_site.fetched("/world/2024/10/24/volcano-erupts-in-iceland") == 2


class _ConditionalFeed(LoopbackSite):
    """A loopback server for one feed that answers 304 to a matching If-None-Match."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body
        self.seen_headers: list[str | None] = []

    def answer(self, path: str, headers: Any) -> Answer:
        if path != "/feed.xml":
            return NOT_FOUND
        self.seen_headers.append(headers.get("If-None-Match"))
        if headers.get("If-None-Match") == '"feed-v1"':
            return 304, {"ETag": '"feed-v1"'}, b""
        return 200, {"Content-Type": "application/rss+xml", "ETag": '"feed-v1"'}, self.body


def test_unchanged_feed_is_a_quiet_successful_304(home: Path) -> None:
    server = _ConditionalFeed((FIXTURES / "outlets" / "meridian-world.atom").read_bytes())
    server.start()
    feed_url = server.url("/feed.xml")
    try:
        home.mkdir(parents=True)
        (home / "sources.toml").write_text(
            f'[sources.e2e-atom]\nspider = "feed"\nurls = ["{feed_url}"]\ntimezone = "Europe/London"\n'
            '[sources.e2e-atom.options]\nfollow = false\n')
        first = newsdesk("crawl", "e2e-atom", *FAST, home=home)
        assert first.returncode == 0 and "e2e-atom: 3 seen, 3 new" in first.stdout, first.stderr
        second = newsdesk("crawl", "e2e-atom", "--quiet", *FAST, home=home)
        assert second.returncode == 0 and second.stdout == "" and second.stderr == ""
        assert server.seen_headers == [None, '"feed-v1"']
        (report,) = _reports(home)["e2e-atom"][-1:]
        assert report["stats"]["newsdesk/not_modified"] == 1 and report["finish_reason"] == "finished"
    finally:
        server.stop()
