"""Validate: a record without a key or a title is dropped, with the reason counted."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from newsdesk.core.record import KINDS, adapt
from scraper.pipelines import drop

#: Longer than any real headline: a page's mistake or an attack, never a title.
MAX_TITLE_CHARS = 1000


class ValidatePipeline:
    """Drop records that cannot be archived; say why."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        adapter = adapt(item)
        where = adapter.get("url") or adapter.get("source") or "?"
        if not adapter.get("title"):
            raise drop(self.crawler, "missing_title", where)
        if len(adapter["title"]) > MAX_TITLE_CHARS:
            raise drop(self.crawler, "title_too_long", f"{len(adapter['title'])} characters at {where}")
        if not adapter.get("key"):
            raise drop(self.crawler, "missing_key", where)
        url = adapter.get("url")
        if url and not url.startswith(("http://", "https://")):
            raise drop(self.crawler, "bad_url", url)
        if adapter.get("kind") not in KINDS:
            raise drop(self.crawler, "bad_kind", f"{adapter.get('kind')!r} at {where}")
        return item
