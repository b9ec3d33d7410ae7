"""Hostile feeds and sitemaps: DTDs anywhere, gzip bodies, decompression limits, self-listing
indexes, feed fields of the wrong type.  Each ends as a counted drop, never a crash or a loss."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.http import TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

import scraper.settings as project_settings
from newsdesk.core.record import NewsItem
from scraper.sources import Source, load_sources
from scraper.spiders.feed import FeedSpider, json_feed_entries, read_feed
import scraper.spiders.sitemap as sitemap_module
from scraper.extract import MAX_JSONLD_DEPTH
from scraper.spiders.sitemap import MAX_DEPTH, MAX_ENTRIES, MAX_SITEMAPS, SitemapSpider
from scraper.xmlsafety import HostileXML, TooLarge, check_xml, inflate
from tests.helpers import FIXTURES, LoopbackSite

MIB = 1024 * 1024
LIMIT = project_settings.DOWNLOAD_MAXSIZE
LAUGHS = ('<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
          + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>")
RSS = ('<rss version="2.0"><channel><title>t</title>{items}</channel></rss>')
RSS_ITEM = "<item><title>{title}</title><link>https://news.example/{n}</link></item>"
URLSET = '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
INDEX = '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


@pytest.fixture
def sources() -> dict[str, Source]:
    return load_sources(FIXTURES / "outlets" / "sources.toml")


def make_spider(cls: type, source: Source) -> Any:
    crawler = get_crawler(cls, {"TWISTED_REACTOR_ENABLED": False, "DOWNLOAD_MAXSIZE": LIMIT})
    spider = cls.from_crawler(crawler, source=source)
    crawler.spider = spider
    return spider


def stat(spider: Any, name: str) -> Any:
    return spider.crawler.stats.get_value(f"newsdesk/{name}")


def late_dtd(root: str) -> bytes:
    """A DTD after a 70 KB comment: past the head a first-bytes check reads."""
    return f'<?xml version="1.0"?><!--{"x" * 70_000}-->{LAUGHS}{root}'.encode()


# --- point 9: a DTD wherever it sits, and after decompression -------------------------------

@pytest.mark.parametrize("body", [
    late_dtd(RSS.format(items=RSS_ITEM.format(title="&i;", n=1))),
    late_dtd(URLSET.format(entries="<url><loc>https://news.example/&i;</loc></url>")),
    ("<?xml version='1.0' encoding='utf-16'?><!--" + "y" * 70_000 + "-->" + LAUGHS + "<rss/>").encode("utf-16"),
    f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "file:///etc/passwd"><rss/>'.encode(),
], ids=["feed", "sitemap", "utf-16", "external"])
def test_a_dtd_anywhere_in_the_prolog_is_refused(body: bytes) -> None:
    with pytest.raises(HostileXML):
        check_xml(body)


def test_documents_that_declare_nothing_pass() -> None:
    check_xml(b"<!DOCTYPE html><html><body>challenge page</body></html>")
    check_xml(b'<?xml version="1.0"?><rss><channel><item><description><![CDATA[<!DOCTYPE x [<!ENTITY y "z">]>]]>'
              b"</description></item></channel></rss>")
    check_xml(b"not xml at all <!-- <!ENTITY")


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip-without-content-encoding"])
def test_feeds_and_sitemaps_with_a_late_dtd_are_counted_drops(sources: dict[str, Source], packed: bool) -> None:
    feed = late_dtd(RSS.format(items=RSS_ITEM.format(title="&i;", n=1)))
    sitemap = late_dtd(URLSET.format(entries="<url><loc>https://news.example/&i;</loc></url>"))
    for cls, source, body in ((FeedSpider, sources["meridian-world"], feed),
                              (SitemapSpider, sources["meridian-news"], sitemap)):
        spider = make_spider(cls, source)
        response = XmlResponse(url=source.urls[0], body=gzip.compress(body) if packed else body)
        assert list(spider.parse(response)) == []
        assert stat(spider, "dropped/hostile_xml") == 1


# --- point 10: one decompression limit, the documented one ----------------------------------

def _zeros_gzip(size: int, prefix: bytes = b"") -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(prefix)] + [packer.compress(b" " * MIB) for _ in range(size // MIB)]
    return b"".join(parts) + packer.compress(b" " * (size % MIB)) + packer.flush()


def test_the_limit_is_download_maxsize_as_documented() -> None:
    assert LIMIT == 32 * MIB
    assert len(inflate(_zeros_gzip(LIMIT), LIMIT)) == LIMIT
    with pytest.raises(TooLarge):
        inflate(_zeros_gzip(LIMIT + 1), LIMIT)
    assert inflate(b"\x1f\x8b not gzip", LIMIT) == b"\x1f\x8b not gzip"  # left as it is: not XML either


def test_a_gzip_sitemap_past_the_limit_is_refused_quickly(sources: dict[str, Source]) -> None:
    spider = make_spider(SitemapSpider, sources["meridian-news"])
    bomb = _zeros_gzip(40 * MIB, b'<?xml version="1.0"?>' + URLSET.format(entries="").encode()[:-10])
    started = time.perf_counter()
    assert list(spider.parse(XmlResponse(url="https://www.meridian-news.example/s.xml.gz", body=bomb))) == []
    assert time.perf_counter() - started < 5
    assert stat(spider, "dropped/too_big") == 1


# --- point 11: a sitemap is fetched once a run; nesting bounded ------------------------------

def _index(*locs: str) -> bytes:
    return INDEX.format(entries="".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)).encode()


def test_an_index_listing_itself_or_its_parent_is_not_fetched_again(sources: dict[str, Source]) -> None:
    spider = make_spider(SitemapSpider, sources["meridian-news"])
    start = sources["meridian-news"].urls[0]
    first = spider.page_request(start, spider.parse)
    child = "https://www.meridian-news.example/sitemaps/child.xml"
    out = list(spider.parse(XmlResponse(url=start, body=_index(start, child, start + "#again"), request=first)))
    assert [r.url for r in out] == [child]
    again = list(spider.parse(XmlResponse(url=child, body=_index(start, child), request=out[0])))
    assert again == []
    assert stat(spider, "sitemap/repeated") == 4


def test_nested_indexes_stop_at_the_depth_bound(sources: dict[str, Source]) -> None:
    spider = make_spider(SitemapSpider, sources["meridian-news"])
    request: Request = spider.page_request("https://s.example/0.xml", spider.parse)
    fetched = 0
    while True:
        nxt = f"https://s.example/{fetched + 1}.xml"
        out = list(spider.parse(XmlResponse(url=request.url, body=_index(nxt), request=request)))
        if not out:
            break
        [request] = out
        fetched += 1
    assert fetched == MAX_DEPTH
    assert stat(spider, "sitemap/over_limit") == 1


def test_sitemaps_a_run_and_entries_a_sitemap_are_bounded(sources: dict[str, Source],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sitemap_module, "MAX_SITEMAPS", 3)
    monkeypatch.setattr(sitemap_module, "MAX_ENTRIES", 2)
    spider = make_spider(SitemapSpider, sources["meridian-pages"])
    start = spider.page_request("https://s.example/index.xml", spider.parse)
    children = [f"https://s.example/{n}.xml" for n in range(5)]
    out = list(spider.parse(XmlResponse(url=start.url, body=_index(*children), request=start)))
    assert [r.url for r in out] == children[:2]  # the start URL counts: 3 a run
    assert stat(spider, "sitemap/over_limit") == 3
    spider.window = None  # keep undated entries
    urls = URLSET.format(entries="".join(f"<url><loc>https://s.example/a/{n}</loc></url>" for n in range(5)))
    out = list(spider.parse(XmlResponse(url=children[0], body=urls.encode(), request=out[0])))
    assert len(out) == 2 and stat(spider, "sitemap/over_limit") == 6


def test_the_limits_page_states_the_limits_in_the_code() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "limits.md").read_text(encoding="utf-8")
    assert f"`DOWNLOAD_MAXSIZE` ({LIMIT // MIB} MiB" in doc
    assert f"{MAX_DEPTH} levels below the start URL, {MAX_SITEMAPS} sitemaps a run" in doc
    assert f"{MAX_ENTRIES:,} (the sitemap protocol" in doc and f"{MAX_JSONLD_DEPTH} levels" in doc
    for counter in ("dropped/too_big", "dropped/hostile_xml", "sitemap/repeated", "sitemap/over_limit",
                    "dropped/bad_feed_item", "article_unreadable", "charset_lied", "charset_repaired"):
        assert f"`{counter}" in doc, counter


def _write_sources(home: Path, *sources: tuple[str, str, str, str]) -> None:
    """A home whose sources.toml holds ``(id, spider, url, options table body)`` sources."""
    home.mkdir(parents=True)
    (home / "sources.toml").write_text("".join(
        f'[sources.{sid}]\nname = "{sid}"\nspider = "{spider}"\nurls = ["{url}"]\ntimezone = "UTC"\n'
        f'schedule = "0 * * * *"\n[sources.{sid}.options]\n{options}\n' for sid, spider, url, options in sources))


def _crawl(home: Path, source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsdesk", "crawl", source, "--home", str(home), "--no-ingest",
                           "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0"],
                          capture_output=True, text=True, timeout=120, check=False)


class _LoopSite(LoopbackSite):
    """/index.xml lists itself and /child.xml; /child.xml lists /index.xml again."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []

    def answer(self, path: str, headers: Any) -> tuple[int, dict[str, str], Any]:
        self.requests.append(path)
        if path == "/robots.txt":
            return 404, {}, b""
        return 200, {"Content-Type": "application/xml"}, _index(self.url("/index.xml"), self.url("/child.xml"))


@pytest.mark.e2e
def test_a_self_listing_sitemap_index_is_fetched_once(home: Path) -> None:
    with _LoopSite() as site:
        _write_sources(home, ("loop-sitemap", "sitemap", site.url("/index.xml"), 'since = ""'))
        started = time.perf_counter()
        result = _crawl(home, "loop-sitemap")
        elapsed = time.perf_counter() - started
    assert "Traceback" not in result.stderr, result.stderr
    assert site.requests.count("/index.xml") == 1 and site.requests.count("/child.xml") == 1
    assert elapsed < 30
    stats = json.loads(next((home / "runs").glob("*.json")).read_text())["stats"]
    assert stats["newsdesk/sitemap/repeated"] == 3


# --- point 12: every field type-checked, a bad entry dropped and counted -------------------

JSON_FEED = "https://jsonfeed.org/version/1.1"
GOOD = {"id": "g", "url": "https://news.example/good", "title": "Good item", "date_published": "2024-10-24T10:00:00Z"}
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=6)
FIELDS = ("id", "url", "external_url", "title", "summary", "content_html", "content_text", "date_published",
          "date_modified", "language", "tags", "author", "authors", "_ext")
_entry = st.one_of(_json, st.dictionaries(st.sampled_from(FIELDS), _json, max_size=len(FIELDS)))


def _well_typed(item: NewsItem) -> bool:
    texts = (item.url, item.title, item.summary, item.body, item.byline, item.published_raw, item.updated_raw,
             item.language)
    return (all(v is None or isinstance(v, str) for v in texts)
            and all(isinstance(v, str) for v in [*item.authors, *item.tags])
            and all(isinstance(k, str) and isinstance(v, str) for k, v in item.extra.items()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_entry, max_size=6), st.sampled_from(["_ext", "title"]))
def test_json_feed_items_of_any_shape_are_read_or_dropped_never_the_rest(entries: list[Any], extra: str) -> None:
    body = json.dumps({"version": JSON_FEED, "items": [*entries, GOOD]}).encode()
    items, problem, bad = json_feed_entries(body, {"extra_fields": [extra]})
    assert problem is None
    assert len(items) + len(bad) == len(entries) + 1
    assert all(_well_typed(i) for i in items)
    assert items[-1].url == GOOD["url"] and items[-1].title == GOOD["title"]


_xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=15)
_xml_value = st.one_of(_xml_text.map(lambda t: t.replace("&", "&amp;").replace("<", "&lt;")),
                       st.just(""), st.just("<b>nested <i>markup</i></b>"), st.just("<![CDATA[<p>x</p>]]>"),
                       st.just('<a href="https://news.example/x">x</a>'))
RSS_FIELDS = ("title", "link", "description", "author", "pubDate", "category", "guid", "dc:creator")
ATOM_FIELDS = ("title", "id", "summary", "content", "updated", "published", "author", "category")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(RSS_FIELDS), _xml_value), max_size=4),
       st.lists(st.dictionaries(st.sampled_from(ATOM_FIELDS), _xml_value), max_size=4))
def test_rss_and_atom_entries_of_any_shape_are_read_or_dropped(rss: list[dict[str, str]],
                                                               atom: list[dict[str, str]]) -> None:
    ns = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
    items = "".join("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in e.items()) + "</item>" for e in rss)
    body = f'<?xml version="1.0"?><rss version="2.0" {ns}><channel><title>t</title>{items}</channel></rss>'.encode()
    read = read_feed(body, "https://news.example/rss", "application/rss+xml", {"extra_fields": ["guid"]})
    assert len(read.items) + len(read.bad) == len(rss)
    assert all(_well_typed(i) for i in read.items)
    entries = "".join("<entry>" + "".join(f"<{k}>{v}</{k}>" for k, v in e.items()) + "</entry>" for e in atom)
    body = f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>'.encode()
    read = read_feed(body, "https://news.example/atom", "application/atom+xml", {})
    assert len(read.items) + len(read.bad) == len(atom)
    assert all(_well_typed(i) for i in read.items)


def test_a_json_feed_item_with_a_numeric_url_is_dropped_and_counted(sources: dict[str, Source], caplog: Any) -> None:
    spider = make_spider(FeedSpider, sources["meridian-latest-json"])
    items = [{"id": "1", "url": "https://news.example/1", "title": "First"},
             {"id": "2", "url": 12345, "title": "Numeric link"},
             {"id": 3, "url": "https://news.example/3", "title": "Third", "tags": "not-a-list"},
             {"id": 4, "url": "https://news.example/4", "title": "Fourth", "authors": [{"name": "A. Writer"}]}]
    body = json.dumps({"version": JSON_FEED, "items": items}).encode()
    response = TextResponse(url=sources["meridian-latest-json"].urls[0], body=body,
                            headers={"Content-Type": "application/feed+json"})
    out = list(spider.parse(response))
    listed = [r.cb_kwargs["item"] for r in out]
    assert [i.title for i in listed] == ["First", "Fourth"]
    assert stat(spider, "dropped/bad_feed_item") == 2
    assert stat(spider, "feed_entries") == 2
    assert "2 feed entries dropped" in caplog.text and "url is int" in caplog.text and "tags is str" in caplog.text


class _FeedSite(LoopbackSite):
    """/feed.json: a JSON Feed with one bad item between two good ones; /bomb.xml.gz: a gzip bomb."""

    def answer(self, path: str, headers: Any) -> tuple[int, dict[str, str], Any]:
        if path == "/feed.json":
            items = [{"id": "1", "url": self.url("/a/1"), "title": "First"}, {"id": "2", "url": 12345, "title": "Bad"},
                     {"id": "3", "url": self.url("/a/3"), "title": "Third"}]
            return 200, {"Content-Type": "application/feed+json"}, json.dumps(
                {"version": JSON_FEED, "items": items}).encode()
        if path == "/bomb.xml.gz":
            return 200, {"Content-Type": "application/octet-stream"}, _zeros_gzip(LIMIT + MIB)
        return 404, {}, b""


@pytest.mark.e2e
def test_a_crawl_counts_bad_feed_items_and_refused_bodies_and_its_numbers_add_up(home: Path) -> None:
    with _FeedSite() as site:
        _write_sources(home, ("bad-json", "feed", site.url("/feed.json"), "follow = false"),
                       ("bomb-sitemap", "sitemap", site.url("/bomb.xml.gz"), ""))
        feed, bomb = _crawl(home, "bad-json"), _crawl(home, "bomb-sitemap")
    assert feed.returncode == 0, feed.stdout + feed.stderr
    assert "3 seen, 2 new" in feed.stdout and "1 bad feed item" in feed.stdout, feed.stdout
    assert "do not add up" not in feed.stdout + bomb.stdout
    assert "Traceback" not in feed.stderr + bomb.stderr
    reports = [json.loads(p.read_text())["stats"] for p in (home / "runs").glob("*.json")]
    assert sum(r.get("newsdesk/dropped/too_big", 0) for r in reports) == 1
    assert not any(r.get("newsdesk/tally_mismatch") for r in reports)
