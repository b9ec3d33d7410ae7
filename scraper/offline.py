"""Run a source's spider and the cleaning pipelines on a saved page: no network, no writes.

This is ``newsdesk parse``: the view a user needs when writing or fixing a
source.  Requests the spider yields (article links) are not followed; they are
counted instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, TextResponse, XmlResponse
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from newsdesk.core.record import NewsItem
from scraper.listing import RepeatedListing
from scraper.pipelines.normalize import NormalizePipeline
from scraper.pipelines.validate import ValidatePipeline
from scraper.sources import Source


@dataclass
class ParseResult:
    """Records a saved page yields, and what was left out."""

    records: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    not_followed: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def _settings() -> Settings:
    import os

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "scraper.settings")
    return get_project_settings()


def make_response(url: str, body: bytes, content_type: str | None = None) -> TextResponse:
    """A response for a saved page: XML for feeds and sitemaps, HTML otherwise."""
    head = body[:512].lstrip().lower()
    is_xml = (content_type and "xml" in content_type) or head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset", b"<sitemapindex"))
    cls = XmlResponse if is_xml else HtmlResponse
    headers = {"Content-Type": content_type} if content_type else None
    return cls(url=url, body=body, headers=headers)


def parse_page(source: Source, body: bytes, url: str | None = None, callback: str = "parse",
               cb_kwargs: dict[str, Any] | None = None) -> ParseResult:
    """Records that ``source``'s spider yields from one saved page, normalized and validated.

    :param callback: the spider method to call (``parse`` for a start page).
    :param cb_kwargs: its keyword arguments, as a Request would pass them.
    """
    settings = _settings()
    spidercls = get_spider_loader(settings).load(source.spider)
    # No engine runs here, so no Twisted reactor is needed.
    crawler = get_crawler(spidercls, {**settings.copy_to_dict(), "TWISTED_REACTOR_ENABLED": False})
    spider = spidercls.from_crawler(crawler, source=source, url=url)
    crawler.spider = spider
    response = make_response(url or source.urls[0], body)
    pipelines = [NormalizePipeline.from_crawler(crawler), ValidatePipeline.from_crawler(crawler)]
    result = ParseResult()
    for output in getattr(spider, callback)(response, **(cb_kwargs or {})) or ():
        if isinstance(output, Request):
            # A followed page would complete a record; offline, the record stands as listed.
            item = output.cb_kwargs.get("item")
            result.not_followed.append(output.url)
            if item is None:
                continue
            output = item
        if isinstance(output, RepeatedListing):  # what the dedupe pipeline would drop
            result.dropped.append(f"duplicate in run: {output.url}")
            continue
        try:
            for pipeline in pipelines:
                output = pipeline.process_item(output)
        except DropItem as exc:
            result.dropped.append(str(exc))
            continue
        result.records.append(NewsItem.from_dict(ItemAdapter(output).asdict()).to_dict())
    assert crawler.stats is not None
    result.stats = dict(crawler.stats.get_stats())
    return result
