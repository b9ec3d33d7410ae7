"""Dedupe across runs: an unchanged record is dropped; a changed one goes on as version + 1."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from newsdesk.core.record import adapt
from scraper.listing import KnownListing, RepeatedListing
from scraper.outcomes import ItemOutcomes
from scraper.pipelines import drop
from scraper.seen import SeenStore
from scraper.settings import home_of


class DedupePipeline:
    """Compare each record's fingerprint with the one stored for its key."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.home = home_of(crawler.settings)
        self.store: SeenStore | None = None
        self.this_run: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        pipeline = cls(crawler)
        ItemOutcomes.of(crawler).on_written(pipeline.written)
        return pipeline

    def open_spider(self) -> None:
        self.store = SeenStore.open(self.home.state / "seen.sqlite")

    def close_spider(self) -> None:
        if self.store is not None:
            self.store.close()

    def process_item(self, item: Any) -> Any:
        assert self.store is not None and self.crawler.stats is not None
        adapter = adapt(item)
        key, fp = adapter["key"], adapter["fingerprint"]
        if key in self.this_run or isinstance(item, RepeatedListing):
            raise drop(self.crawler, "duplicate_in_run", key)
        self.this_run.add(key)
        if isinstance(item, KnownListing):
            raise drop(self.crawler, "unchanged", key)
        known = self.store.get(key)
        if known is None:
            adapter["version"] = 1
            self.crawler.stats.inc_value("newsdesk/items_new")
        elif known[0] == fp:
            raise drop(self.crawler, "unchanged", key)
        else:
            adapter["version"] = known[1] + 1
            self.crawler.stats.inc_value("newsdesk/items_updated")
        return item

    def written(self, item: Any) -> None:
        """The record is in the outbox file: from now on it counts as seen."""
        if self.store is not None:
            adapter = adapt(item)
            self.store.mark(adapter["key"], adapter["fingerprint"], adapter["version"])
