"""Feed, sitemap and list-page spiders on hand-written fixtures (fixtures/outlets), no network."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from scrapy import Request
from scrapy.exceptions import UsageError
from scrapy.http import HtmlResponse, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from scraper.crawlstate import CrawlState
from scraper.extract import ExtractedArticle
from newsdesk.core.record import NewsItem
from scraper.keys import canonical_url
from scraper.offline import parse_page
from scraper.pipelines.dedupe import KnownListing, RepeatedListing
from scraper.seen import SeenStore
from scraper.sources import Source, load_sources
from scraper.spiders import NewsSpider, listing_fingerprint, merge_article
from scraper.spiders.feed import FeedSpider, read_feed
from scraper.spiders.listpage import ListPageSpider
from scraper.spiders.sitemap import SitemapSpider, window
from scraper.xmlsafety import inflate
from tests.helpers import FIXTURES, VOLATILE, get_fixture, load_expected, stable

OUTLETS = FIXTURES / "outlets"
NOW = "2024-10-24T22:00:00Z"
LISTINGS = [
    "jpost-headlines.rss", "meridian-world.atom", "meridian-latest.json", "meridian-news-sitemap-index.xml",
    "meridian-news-sitemap-1.xml", "meridian-sitemap-pages.xml", "meridian-ticker.html",
]
ARTICLES = [
    "jpost-article-826101.html", "jpost-article-826099.html", "meridian-ceasefire-talks.html",
    "meridian-storm.html", "meridian-finance-ministers.html", "meridian-volcano.html",
]


@pytest.fixture(scope="module")
def sources() -> dict[str, Source]:
    return load_sources(OUTLETS / "sources.toml")


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _expected_name(page: str) -> str:
    return page.rsplit(".", 1)[0] + ".expected.json"


def _without_fetch_time(record: dict[str, Any]) -> dict[str, Any]:
    return stable(record)


def _merged_fields(record: dict[str, Any]) -> dict[str, Any]:
    left_out = (*VOLATILE, "fingerprint", "byline", "language", "body")
    kept = {k: v for k, v in record.items() if k not in left_out}
    kept["extra"] = {k: v for k, v in record["extra"].items() if k != "listed_byline"}
    return kept


def make_spider(cls: type[NewsSpider], source: Source, settings: dict[str, Any] | None = None) -> Any:
    crawler = get_crawler(cls, {"TWISTED_REACTOR_ENABLED": False, **(settings or {})})
    spider = cls.from_crawler(crawler, source=source)
    crawler.spider = spider
    return spider


def stat(spider: NewsSpider, name: str) -> Any:
    return spider.crawler.stats.get_value(f"newsdesk/{name}")  # type: ignore[union-attr]


# --- every listing fixture against its expected JSON --------------------------------------

@pytest.mark.parametrize("page", LISTINGS)
def test_listing_yields_the_expected_records_and_links(page: str, sources: dict[str, Source], frozen: None) -> None:
    expected = load_expected("outlets", _expected_name(page))
    result = parse_page(sources[expected["source"]], get_fixture("outlets", page), expected["url"])
    assert [_without_fetch_time(r) for r in result.records] == expected["records"]
    assert result.not_followed == expected["followed"]
    assert result.dropped == expected["dropped"]


@pytest.mark.parametrize("page", ARTICLES)
def test_article_page_completes_the_listed_record(page: str, sources: dict[str, Source], frozen: None) -> None:
    expected = load_expected("outlets", _expected_name(page))
    source = sources[expected["source"]]
    items, problem, _ = read_feed(get_fixture("outlets", expected["listed_in"]), source.urls[0], "", source.options)
    assert problem is None
    listed = items[expected["entry"]]
    result = parse_page(source, get_fixture("outlets", page), listed.url, callback="parse_article",
                        cb_kwargs={"item": listed})
    (record,) = result.records
    body = record.pop("body")
    # The merge is under test here, not the extractor: fields whose exact form is
    # the extractor's business (the byline as found, the language tag) are left out.
    assert _merged_fields(record) == _merged_fields(expected["record"])
    for sentence in expected["body_contains"]:
        assert sentence in body


# --- feeds ----------------------------------------------------------------------------------

def test_jpost_shaped_feed_callback(sources: dict[str, Source]) -> None:
    spider = make_spider(FeedSpider, sources["jpost-headlines"])
    body = get_fixture("outlets", "jpost-headlines.rss")
    assert body.startswith(b"\n<rss")  # leading newline, no XML declaration, as JPost serves it
    response = XmlResponse(url="https://www.jpost.com/rss/rssfeedsheadlines.aspx", body=body)
    out = list(spider.parse(response))
    assert len([r for r in out if isinstance(r, RepeatedListing)]) == 1  # a link listed twice: a counted duplicate
    out = [r for r in out if not isinstance(r, RepeatedListing)]
    assert all(isinstance(r, Request) for r in out)
    assert [r.url for r in out] == [
        "https://www.jpost.com/middle-east/article-826101",
        "https://www.jpost.com/israel-news/politics-and-diplomacy/article-826102",
        "https://www.jpost.com/israel-news/article-826099",
    ]
    first = out[0].cb_kwargs["item"]
    assert first.byline == "By SETH J. FRANTZMAN"
    assert first.published_raw == "Thu, 24 Oct 2024 19:52:00 GMT"
    assert first.updated_raw == "Thu, 24 Oct 2024 20:31:00 GMT"  # from the custom UpdateDate
    assert first.tags == ["Hezbollah", "Lebanon", "IDF"]
    assert first.extra["itemID"] == "826101" and first.extra["isPremium"] == "N"
    assert "<img" in first.summary  # raw: the normalize pipeline turns it into text


def test_json_feed_callback_on_a_text_response(sources: dict[str, Source]) -> None:
    spider = make_spider(FeedSpider, sources["meridian-latest-json"])
    response = TextResponse(url="https://www.meridian-news.example/latest/feed.json",
                            body=get_fixture("outlets", "meridian-latest.json"),
                            headers={"Content-Type": "application/feed+json"})
    request, linkless = list(spider.parse(response))
    assert isinstance(request, Request) and request.cb_kwargs["item"].extra == {"priority": "breaking"}
    assert isinstance(linkless, NewsItem) and linkless.url is None  # nothing to follow: yielded as is


def test_not_a_feed_is_a_counted_layout_warning(sources: dict[str, Source], caplog: Any) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"])
    challenge = HtmlResponse(url="https://www.meridian-news.example/world/atom.xml",
                             body=b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>")
    assert list(spider.parse(challenge)) == []
    assert stat(spider, "layout/not_a_feed") == 1
    assert "not a" in caplog.text


def test_gzip_body_sent_unasked_is_read(sources: dict[str, Source]) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"])
    packed = gzip.compress(get_fixture("outlets", "meridian-world.atom"))
    assert inflate(packed, 10**6) == get_fixture("outlets", "meridian-world.atom")
    out = list(spider.parse(XmlResponse(url="https://www.meridian-news.example/world/atom.xml", body=packed)))
    assert len(out) == 3


def test_relative_atom_link_is_resolved(sources: dict[str, Source]) -> None:
    items, _, _ = read_feed(get_fixture("outlets", "meridian-world.atom"),
                         "https://www.meridian-news.example/world/atom.xml", "", {})
    assert items[2].url == "https://www.meridian-news.example/world/2024/10/24/finance-ministers-meet-in-washington"
    assert items[2].published_raw == "2024-10-24T14:00:00Z" and items[2].updated_raw is None
    assert items[1].authors == ["Fiona Blake", "Daniel Osei"] and items[1].byline is None


# --- conditional GET ------------------------------------------------------------------------

def test_304_is_quiet_and_validators_are_sent_back(sources: dict[str, Source], tmp_path: Path) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"], {"NEWSDESK_HOME": str(tmp_path)})
    url = sources["meridian-world"].urls[0]
    spider.opened(spider)
    assert spider.state is not None
    first = spider.page_request(url, spider.parse)
    assert "If-None-Match" not in first.headers and first.meta["handle_httpstatus_list"] == [304]
    full = XmlResponse(url=url, body=get_fixture("outlets", "meridian-world.atom"), request=first,
                       headers={"ETag": '"v1"', "Last-Modified": "Thu, 24 Oct 2024 20:02:00 GMT"})
    assert len(list(spider.parse(full))) == 3
    spider.closed_state(spider, "finished")

    again = make_spider(FeedSpider, sources["meridian-world"], {"NEWSDESK_HOME": str(tmp_path)})
    again.opened(again)
    second = again.page_request(url, again.parse)
    assert second.headers["If-None-Match"] == b'"v1"'
    assert second.headers["If-Modified-Since"] == b"Thu, 24 Oct 2024 20:02:00 GMT"
    assert list(again.parse(XmlResponse(url=url, status=304, body=b"", request=second))) == []
    assert stat(again, "not_modified") == 1
    again.closed_state(again, "finished")


def test_validators_are_not_kept_when_the_run_did_not_finish(sources: dict[str, Source], tmp_path: Path) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"], {"NEWSDESK_HOME": str(tmp_path)})
    url = sources["meridian-world"].urls[0]
    spider.opened(spider)
    request = spider.page_request(url, spider.parse)
    list(spider.parse(XmlResponse(url=url, body=get_fixture("outlets", "meridian-world.atom"), request=request,
                                  headers={"ETag": '"v1"'})))
    spider.closed_state(spider, "shutdown")  # killed: the items may not all be saved
    state = CrawlState(tmp_path / "state" / "crawl.sqlite")
    assert state.validators(url) == (None, None)
    state.close()


# --- incremental: known articles are not fetched again ---------------------------------------

def _seen(tmp_path: Path, key: str) -> None:
    store = SeenStore(tmp_path / "state" / "seen.sqlite")
    store.mark(key, "fp", 1)
    store.close()


def test_known_unchanged_article_is_not_fetched(sources: dict[str, Source], tmp_path: Path) -> None:
    item = NewsItem(kind="feed", url="https://www.meridian-news.example/a?utm_source=rss", title="A",
                    published_raw="2024-10-24T10:00:00Z")
    key = canonical_url(item.url)  # type: ignore[arg-type]
    _seen(tmp_path, key)
    state = CrawlState(tmp_path / "state" / "crawl.sqlite")
    state.mark_listings({key: listing_fingerprint(item)})
    state.close()

    spider = make_spider(FeedSpider, sources["meridian-world"], {"NEWSDESK_HOME": str(tmp_path)})
    spider.opened(spider)
    (out,) = spider.follow(item)
    assert isinstance(out, KnownListing) and stat(spider, "article_known") == 1

    (out,) = spider.follow(item)
    assert isinstance(out, RepeatedListing)  # listed twice in one run: a counted duplicate

    changed = NewsItem(kind="feed", url=item.url, title="A (corrected)", published_raw=item.published_raw)
    later = make_spider(FeedSpider, sources["meridian-world"], {"NEWSDESK_HOME": str(tmp_path)})
    later.opened(later)
    (out,) = later.follow(changed)
    assert isinstance(out, Request)  # a changed listing fetches the article once more

    refresh = make_spider(FeedSpider, sources["meridian-world"],
                          {"NEWSDESK_HOME": str(tmp_path), "NEWSDESK_REFRESH": True})
    refresh.opened(refresh)
    (out,) = refresh.follow(item)
    assert isinstance(out, Request)


def test_listing_is_marked_only_once_its_record_was_handled(sources: dict[str, Source], tmp_path: Path) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"], {"NEWSDESK_HOME": str(tmp_path)})
    spider.opened(spider)
    handled = NewsItem(kind="feed", url="https://www.meridian-news.example/a", title="A")
    lost = NewsItem(kind="feed", url="https://www.meridian-news.example/b", title="B")
    list(spider.follow(handled)) + list(spider.follow(lost))
    spider.item_handled({"key": "https://www.meridian-news.example/a"})
    spider.closed_state(spider, "finished")
    state = CrawlState(tmp_path / "state" / "crawl.sqlite")
    assert state.listing("https://www.meridian-news.example/a") == listing_fingerprint(handled)
    assert state.listing("https://www.meridian-news.example/b") is None
    state.close()


def test_follow_false_keeps_the_listed_record(sources: dict[str, Source]) -> None:
    source = Source(id="x", spider="feed", urls=("https://x.example/feed",), options={"follow": False})
    spider = make_spider(FeedSpider, source)
    item = NewsItem(kind="feed", url="https://x.example/a", title="A")
    assert list(spider.follow(item)) == [item]


def test_offline_parse_never_skips_known_articles(sources: dict[str, Source]) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"])  # no spider_opened: no store
    item = NewsItem(kind="feed", url="https://www.meridian-news.example/a", title="A")
    (out,) = spider.follow(item)
    assert isinstance(out, Request)


# --- merging an article into a listed record -------------------------------------------------

def test_merge_prefers_article_values_and_keeps_what_it_replaced() -> None:
    item = NewsItem(kind="feed", url="https://x.example/a", title="Short", summary="Listed dek",
                    byline="By A", published_raw="Thu, 24 Oct 2024 19:52:00 GMT", tags=["x"])
    article = ExtractedArticle(title="Full headline", authors=["Ann Author"], byline="By Ann Author",
                               published_raw="2024-10-24T22:52Z", body="Text", summary="Article dek",
                               tags=["x", "y"], section="World")
    merge_article(item, article)
    assert (item.title, item.body, item.summary, item.section) == ("Full headline", "Text", "Listed dek", "World")
    assert item.authors == ["Ann Author"] and item.byline == "By Ann Author"
    assert item.published_raw == "2024-10-24T22:52Z"
    assert item.extra == {"listed_title": "Short", "listed_byline": "By A",
                          "listed_published_raw": "Thu, 24 Oct 2024 19:52:00 GMT"}
    assert item.tags == ["x", "y"]

    kept = NewsItem(kind="feed", url="https://x.example/a", title="T", published_raw="Thu, 24 Oct 2024 19:52:00 GMT")
    merge_article(kept, ExtractedArticle(published_raw="2024-10-24T22:52Z", updated_raw="2024-10-24T23:00Z"),
                  dates_from="listing")
    assert kept.published_raw == "Thu, 24 Oct 2024 19:52:00 GMT" and kept.updated_raw == "2024-10-24T23:00Z"


def test_unreadable_article_keeps_the_listed_record(sources: dict[str, Source]) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"])
    item = NewsItem(kind="feed", url="https://www.meridian-news.example/a", title="A")
    from scrapy.http import Response

    binary = Response(url="https://www.meridian-news.example/a", body=b"%PDF-1.7")
    assert list(spider.parse_article(binary, item)) == [item]
    assert stat(spider, "article_unreadable") == 1


# --- sitemaps -------------------------------------------------------------------------------

def test_sitemap_window_skips_old_entries_and_old_child_sitemaps(sources: dict[str, Source], frozen: None) -> None:
    spider = make_spider(SitemapSpider, sources["meridian-news"])
    index = XmlResponse(url="https://www.meridian-news.example/sitemaps/news-index.xml",
                        body=get_fixture("outlets", "meridian-news-sitemap-index.xml"))
    (child,) = spider.parse(index)
    assert child.url.endswith("/sitemaps/news-1.xml") and stat(spider, "sitemap/old_sitemaps") == 1
    urlset = XmlResponse(url=child.url, body=get_fixture("outlets", "meridian-news-sitemap-1.xml"))
    out = list(spider.parse(urlset))
    assert len(out) == 2 and stat(spider, "sitemap/outside_window") == 1
    assert out[0].cb_kwargs["item"].tags == ["Middle East", "Egypt", "ceasefire"]


def test_sitemap_without_window_keeps_undated_entries(frozen: None) -> None:
    source = Source(id="p", spider="sitemap", urls=("https://www.meridian-news.example/sitemaps/pages.xml",),
                    options={"since": "", "follow": False})
    spider = make_spider(SitemapSpider, source)
    out = list(spider.parse(XmlResponse(url=source.urls[0], body=get_fixture("outlets", "meridian-sitemap-pages.xml"))))
    assert [i.url.rsplit("/", 1)[1] for i in out] == ["finance-ministers-meet-in-washington", "about", "contact"]
    assert out[0].updated_raw == "2024-10-24T15:00:00+01:00" and out[0].published_raw is None


def test_sitemap_window_option_is_checked() -> None:
    assert window("48h") == window("2d")
    source = Source(id="p", spider="sitemap", urls=("https://x.example/s.xml",), options={"since": "two days"})
    with pytest.raises(UsageError, match="not a window"):
        make_spider(SitemapSpider, source)


# --- config-defined list pages ----------------------------------------------------------------

def test_list_page_css_and_xpath_selectors(sources: dict[str, Source]) -> None:
    spider = make_spider(ListPageSpider, sources["meridian-ticker"])
    page = HtmlResponse(url="https://www.meridian-news.example/latest", body=get_fixture("outlets", "meridian-ticker.html"))
    out = list(spider.parse(page))
    assert [type(o).__name__ for o in out] == ["Request", "Request", "Request", "NewsItem"]
    first = out[0].cb_kwargs["item"]
    assert first.published_raw == "24.10.2024 | 22:45"  # XPath text() selector
    assert first.byline == "By Jon Sigurdsson" and first.kind == "breaking"
    assert stat(spider, "layout/item_without_link") == 1


def test_list_config_without_item_selector_is_a_usage_error() -> None:
    source = Source(id="bad", spider="list", urls=("https://x.example/",), options={"headline": "h3"})
    with pytest.raises(UsageError, match="options.item"):
        make_spider(ListPageSpider, source)


def test_list_page_that_matches_nothing_is_reported(sources: dict[str, Source], caplog: Any) -> None:
    spider = make_spider(ListPageSpider, sources["meridian-ticker"])
    assert list(spider.parse(HtmlResponse(url="https://x.example/", body=b"<html><body><ul></ul></body></html>"))) == []
    assert stat(spider, "layout/no_items") == 1 and "matched nothing" in caplog.text


def test_shipped_generic_jpost_list_config_reads_the_jpost_fixture() -> None:
    source = load_sources()["jpost-breaking-list"]
    result = parse_page(source, get_fixture("jpost", "breaking-news-2024-10-24.html"), "https://www.jpost.com/breaking-news")
    by_title = {r["title"]: r for r in result.records}
    assert len(result.records) == 15
    first = by_title["Putin says he welcomes Trump statement on seeking to end conflict"]
    assert first["published"] == "2024-10-24T16:13:00+00:00" and first["agency"] == "Reuters"


def test_expected_files_are_valid_json() -> None:
    for path in OUTLETS.glob("*.expected.json"):
        json.loads(path.read_text(encoding="utf-8"))


RDF = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rss.dw.example/rdf/rss-en-world">
    <title>World | DW</title><link>https://www.dw.example/en/world</link><description>News</description>
    <dc:language>en</dc:language>
    <items><rdf:Seq><rdf:li rdf:resource="https://www.dw.example/en/talks-stall/a-70512345"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://www.dw.example/en/talks-stall/a-70512345">
    <title>Climate talks stall over finance</title>
    <link>https://www.dw.example/en/talks-stall/a-70512345?maca=en-rss-en-world-4025-rdf</link>
    <description>Negotiators failed to agree on a funding target.</description>
    <dc:date>2024-10-24T18:31:00Z</dc:date>
    <dc:subject>World</dc:subject>
  </item>
</rdf:RDF>"""

RSS091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Wire</title><link>https://wire.example/</link><description>d</description>
<language>en-us</language>
<item><title>Quake hits coast</title><link>https://wire.example/quake</link><description>A 6.1 quake.</description></item>
</channel></rss>"""


@pytest.mark.parametrize(("body", "title", "published", "tags"), [
    (RDF, "Climate talks stall over finance", "2024-10-24T18:31:00Z", ["World"]),
    (RSS091, "Quake hits coast", None, []),
])
def test_rdf_and_rss091_feeds(body: bytes, title: str, published: str | None, tags: list[str]) -> None:
    items, problem, _ = read_feed(body, "https://feeds.example/f", "application/xml", {})
    assert problem is None and len(items) == 1
    assert (items[0].title, items[0].published_raw, items[0].tags) == (title, published, tags)
    assert items[0].url and items[0].url.startswith("https://")


@pytest.mark.parametrize(("link", "key"), [
    ("https://www.bbc.co.uk/news/articles/c1x?at_medium=RSS&at_campaign=rss#0", "https://www.bbc.co.uk/news/articles/c1x"),
    ("https://www.theguardian.com/world/2024/oct/24/x?CMP=Share_iOSApp_Other", "https://www.theguardian.com/world/2024/oct/24/x"),
    ("https://www.aljazeera.com/news/2024/10/24/x?traffic_source=rss", "https://www.aljazeera.com/news/2024/10/24/x"),
    ("https://www.dw.com/en/x/a-70512345?maca=en-rss-en-world-4025-rdf", "https://www.dw.com/en/x/a-70512345"),
])
def test_feed_tracking_parameters_do_not_split_keys(link: str, key: str) -> None:
    assert canonical_url(link) == key


# --- hostile XML --------------------------------------------------------------------------

_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
           + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10) for i in range(8))
           + b']>\n')
_XXE = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'


@pytest.mark.parametrize("prolog", [_LAUGHS, _XXE], ids=["billion-laughs", "xxe"])
def test_feeds_declaring_entities_are_refused_unparsed(sources: dict[str, Source], prolog: bytes) -> None:
    spider = make_spider(FeedSpider, sources["meridian-world"])
    feed = prolog + b'<rss version="2.0"><channel><item><title>&x;&i;</title><link>https://x.example/a</link></item></channel></rss>'
    assert list(spider.parse(XmlResponse(url="https://www.meridian-news.example/world/rss", body=feed))) == []
    assert stat(spider, "dropped/hostile_xml") == 1


def test_sitemaps_declaring_entities_are_refused_even_gzipped(sources: dict[str, Source]) -> None:
    sitemap_source = next(s for s in sources.values() if s.spider == "sitemap")
    spider = make_spider(SitemapSpider, sitemap_source)
    body = gzip.compress(_XXE + b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&x;</loc></url></urlset>')
    assert list(spider.parse(XmlResponse(url="https://www.meridian-news.example/sitemap.xml.gz", body=body))) == []
    assert stat(spider, "dropped/hostile_xml") == 1
