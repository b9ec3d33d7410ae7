"""Spiders, one module per kind of source; all built on :class:`NewsSpider`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from twisted.python.failure import Failure

from newsdesk.home import Home
from scraper.sources import Source, SourceConfigError, get_source


class NewsSpider(scrapy.Spider):
    """A spider bound to one configured source (``-a source=<id>``, optional ``-a url=<URL>``)."""

    source: Source

    def __init__(self, source: Source, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.start_urls = [url] if url else list(source.urls)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        source = kwargs.pop("source", None)
        if source is None:
            raise UsageError(f"spider {cls.name} needs a source: scrapy crawl {cls.name} -a source=<id>")
        if isinstance(source, str):
            home = Home.resolve(crawler.settings.get("NEWSDESK_HOME") or None)
            try:
                source = get_source(source, home.sources_file)
            except SourceConfigError as exc:
                raise UsageError(str(exc)) from None
        spider = super().from_crawler(crawler, *args, source=source, **kwargs)
        return spider  # type: ignore[return-value]

    async def start(self) -> AsyncIterator[Any]:
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.page_failed, dont_filter=True)

    def page_failed(self, failure: Failure) -> None:
        """A start page could not be fetched: count it and say why, in one line."""
        self.count("page_failed")
        self.logger.warning("page not fetched (%s): %s", failure.getErrorMessage(),
                            failure.request.url)  # type: ignore[attr-defined]

    def count(self, key: str, n: int = 1) -> None:
        """Add to a ``newsdesk/...`` stat."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"newsdesk/{key}", n)
