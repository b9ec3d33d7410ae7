"""The JPost breaking-news spider on hand-written fixture pages (HtmlResponse, no network)."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from newsdesk.core.record import NewsItem
from scraper.offline import parse_page
from scraper.sources import get_source
from scraper.spiders.jpost import JPostBreakingSpider
from tests.helpers import get_fixture, load_expected, stable

PAGE_URL = "https://www.jpost.com/breaking-news"


@pytest.fixture
def spider() -> JPostBreakingSpider:
    crawler = get_crawler(JPostBreakingSpider, {"TWISTED_REACTOR_ENABLED": False})
    spider = JPostBreakingSpider.from_crawler(crawler, source=get_source("jpost-breaking"))
    crawler.spider = spider
    return spider  # type: ignore[return-value]


def _response(name: str, url: str = PAGE_URL) -> HtmlResponse:
    return HtmlResponse(url=url, body=get_fixture("jpost", name))


def test_list_page_yields_lead_then_every_item_in_page_order(spider: JPostBreakingSpider) -> None:
    out = list(spider.parse(_response("breaking-news-2024-10-24.html")))
    lead, requests = out[0], out[1:]
    assert isinstance(lead, NewsItem)
    assert lead.title == "Putin does not deny reports about North Korea troops"
    assert lead.updated_raw == "Updated: OCTOBER 24, 2024 19:25"
    assert all(isinstance(r, Request) for r in requests)
    items = [r.cb_kwargs["item"] for r in requests]
    assert len(items) == 15
    assert items[0].title == "Putin says he welcomes Trump statement on seeking to end conflict"
    assert items[0].url == "https://www.jpost.com/breaking-news/putin-says-he-welcomes-trump-statement-826061"
    assert " ".join(items[0].byline.split()) == "By REUTERS"  # type: ignore[union-attr]
    assert items[0].published_raw.strip() == "10/24/2024 07:13 PM"  # type: ignore[union-attr]
    assert items[-1].title == "Fire breaks out at Iranian power plant, Iranian media silent"
    assert [r.url for r in requests] == [i.url for i in items]


@pytest.mark.parametrize("page", ["breaking-news-2024-10-24.html", "breaking-news-2019-11-20.html"])
def test_list_page_records_match_expected(page: str) -> None:
    result = parse_page(get_source("jpost-breaking"), get_fixture("jpost", page), PAGE_URL)
    expected = load_expected("jpost", page.replace(".html", ".expected.json"))
    assert [stable(r) for r in result.records] == expected


def test_seed_times_are_israel_time_converted_to_utc() -> None:
    result = parse_page(get_source("jpost-breaking"), get_fixture("jpost", "breaking-news-2024-10-24.html"), PAGE_URL)
    by_title = {r["title"]: r for r in result.records}
    assert by_title["Putin says he welcomes Trump statement on seeking to end conflict"]["published"] == "2024-10-24T16:13:00+00:00"
    assert by_title["Fire breaks out at Iranian power plant, Iranian media silent"]["published"] == "2024-10-24T07:10:00+00:00"
    assert by_title["Blinken: Israeli delegation expected to arrive in Doha in coming days"]["agency"] == "Maariv"
    # the lead prints only its update time
    lead = by_title["Putin does not deny reports about North Korea troops"]
    assert lead["published"] is None and lead["updated"] == "2024-10-24T16:25:00+00:00"


@pytest.mark.parametrize(
    "page",
    ["trump-says-hell-fire-special-counsel-jack-smith-826050.html",
     "Man-seriously-injured-in-Ashdod-workplace-accident-608414.html"],
)
def test_article_page_completes_the_list_record(page: str) -> None:
    expected = load_expected("jpost", page.replace(".html", ".expected.json"))
    listed = NewsItem(**expected["listed"])
    result = parse_page(get_source("jpost-breaking"), get_fixture("jpost", page), listed.url,
                        callback="parse_article", cb_kwargs={"item": listed})
    assert [stable(r) for r in result.records] == [expected["record"]]


def test_old_layout_body_keeps_breaks_and_ignores_the_utc_trap(spider: JPostBreakingSpider) -> None:
    item = NewsItem(kind="breaking", url="https://www.jpost.com/x", title="t", published_raw="11/20/2019 01:14 PM")
    out = list(spider.parse_article(_response("Man-seriously-injured-in-Ashdod-workplace-accident-608414.html"), item))
    result = parse_page(get_source("jpost-breaking"), get_fixture("jpost", "Man-seriously-injured-in-Ashdod-workplace-accident-608414.html"),
                        "https://www.jpost.com/x", callback="parse_article", cb_kwargs={"item": NewsItem(kind="breaking", url="https://www.jpost.com/x", title="t")})
    record = result.records[0]
    assert out == [item]
    assert "physician.\nPolice" in record["body"]  # fake-br divs become breaks, not "physician.Police"
    assert "Premium subscribers" not in record["body"]  # div.hide-for-premium dropped
    # itemprop=datePublished says 10:43Z; the printed 10:43 Israel time is 08:43Z.
    assert record["published"] == "2019-11-20T08:43:00+00:00"


def test_failed_article_keeps_the_list_record(spider: JPostBreakingSpider) -> None:
    item = NewsItem(kind="breaking", url="https://www.jpost.com/breaking-news/gone-1", title="Gone")
    request = Request(item.url, cb_kwargs={"item": item})  # type: ignore[arg-type]
    failure = Failure(RuntimeError("404"))
    failure.request = request  # type: ignore[attr-defined]
    assert list(spider.article_failed(failure)) == [item]
    assert spider.crawler.stats.get_value("newsdesk/article_failed") == 1  # type: ignore[union-attr]


def test_many_failed_articles_are_counted_not_logged_one_by_one(spider: JPostBreakingSpider, caplog: Any) -> None:
    from scraper.spiders import LOGGED_FAILURES

    caplog.set_level("INFO")
    for n in range(LOGGED_FAILURES + 3):
        item = NewsItem(kind="breaking", url=f"https://www.jpost.com/breaking-news/gone-{n}", title="Gone")
        failure = Failure(RuntimeError("404"))
        failure.request = Request(item.url, cb_kwargs={"item": item})  # type: ignore[attr-defined]
        assert list(spider.article_failed(failure)) == [item]
    spider.closed_state(spider, "finished")
    lines = [r.getMessage() for r in caplog.records]
    assert sum(line.startswith("article not fetched") for line in lines) == LOGGED_FAILURES
    assert sum(line.startswith("further article pages") for line in lines) == 1
    assert f"{LOGGED_FAILURES + 3} article pages not fetched in all; their records were kept as listed" in lines
    assert spider.crawler.stats.get_value("newsdesk/article_failed") == LOGGED_FAILURES + 3  # type: ignore[union-attr]


def test_changed_layout_is_reported_not_silent(spider: JPostBreakingSpider, caplog: Any) -> None:
    page = HtmlResponse(url=PAGE_URL, body=b"<html><body><div class='news-list'><a href='/x'>x</a></div></body></html>")
    assert list(spider.parse(page)) == []
    assert spider.crawler.stats.get_value("newsdesk/layout/no_items") == 1  # type: ignore[union-attr]
    assert "matched nothing" in caplog.text
