"""Extensions: the run report a crawl leaves for the CLI and the scheduler.

The report includes field coverage (``newsdesk/coverage/<field>`` of
``newsdesk/coverage/items``), which the scheduler's health checks compare
with a source's recent runs.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from newsdesk.home import Home
from scraper.items import adapt

logger = logging.getLogger(__name__)


#: Fields whose coverage is counted: how many items had them filled in.
COVERAGE_FIELDS = ("published", "authors", "body")


class RunReport:
    """Count field coverage of every item; on close, write the stats to ``<home>/runs/<run-id>.json``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.home = Home.resolve(crawler.settings.get("NEWSDESK_HOME") or None)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.count_fields, signal=signals.item_scraped)
        crawler.signals.connect(ext.count_fields, signal=signals.item_dropped)
        return ext

    def count_fields(self, item: Any) -> None:
        """Count an item (kept or dropped after cleaning) and which coverage fields it has."""
        stats = self.crawler.stats
        assert stats is not None
        adapter = adapt(item)
        stats.inc_value("newsdesk/coverage/items")
        for name in COVERAGE_FIELDS:
            if adapter.get(name):
                stats.inc_value(f"newsdesk/coverage/{name}")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.crawler.stats is not None
        stats: dict[str, Any] = dict(self.crawler.stats.get_stats())
        run_id = stats.get("newsdesk/run_id")
        if not run_id:
            return
        report = {
            "run_id": run_id,
            "source": getattr(getattr(spider, "source", None), "id", spider.name),
            "spider": spider.name,
            "finish_reason": reason,
            "stats": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in stats.items()},
        }
        self.home.ensure(self.home.runs)
        path = self.home.runs / f"{run_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(report, indent=1, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, path)
