"""The baseline for bench_crawl: a bare Scrapy spider that parses the same list pages.

Same selectors and the same requests as ``jpost_breaking`` (each item's
article link is requested; on the benchmark site it is a 404, and the errback
yields the list item), but plain dict items, no pipelines, no extensions.
Run with ``scrapy runspider`` outside the project (no project settings).
With ``-a gc_freeze=1`` it freezes its start-up objects out of the garbage
collector's sight when it opens, as newsdesk's crawl does
(``scraper.extensions.FreezeStartup``): the like-for-like baseline.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals

LIST_ITEM = "div.breaking-news-link-container > a[href][title]"


class BareListSpider(scrapy.Spider):
    """Yields one dict per list item."""

    name = "bare_list"

    def __init__(self, urls_file: str = "", gc_freeze: str = "0", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = Path(urls_file).read_text().split()
        self.gc_freeze = gc_freeze == "1"

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> BareListSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.gc_freeze:
            crawler.signals.connect(spider.freeze, signal=signals.spider_opened)
        return spider  # type: ignore[no-any-return]

    def freeze(self, spider: Any) -> None:
        gc.collect()
        gc.freeze()

    def parse(self, response: Any, **kwargs: Any) -> Iterator[Any]:
        for link in response.css(LIST_ITEM):
            reporter_date = link.css("ul.breaking-news-reporter-date > li")
            item = {
                "url": response.urljoin(link.attrib["href"]),
                "title": link.css("span.breaking-news-ticker-date").xpath("string()").get(),
                "byline": reporter_date[0].xpath("string()").get() if reporter_date else None,
                "published_raw": reporter_date[1].xpath("string()").get() if len(reporter_date) > 1 else None,
            }
            yield scrapy.Request(item["url"], callback=self.parse_article, errback=self.article_failed,
                                 cb_kwargs={"item": item})

    def parse_article(self, response: Any, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield item

    def article_failed(self, failure: Any) -> Iterator[dict[str, Any]]:
        yield failure.request.cb_kwargs["item"]
