"""Extensions: the run report a crawl leaves for the CLI and the scheduler; a lighter garbage collector.

The report includes field coverage (``newsdesk/coverage/<field>`` of
``newsdesk/coverage/items``), which the scheduler's health checks compare
with a source's recent runs.  Coverage counts only items whose page this run
read: a known item not fetched again (:class:`KnownListing`) has no body
because nobody looked, not because the page lost it.

Before it is written, the report's numbers are checked (:mod:`newsdesk.core.tally`):
an item that vanished without a counted reason is logged as an error.  A
crawl forced to stop (a second SIGTERM) never closes its spider; its report is
then written as the process exits, with the counts so far.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import os
from datetime import datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newsdesk.core.tally import Tally
from newsdesk.core.record import adapt
from scraper.listing import KnownListing
from scraper.outcomes import ItemOutcomes
from scraper.settings import home_of

logger = logging.getLogger(__name__)


#: Fields whose coverage is counted: how many items had them filled in.
COVERAGE_FIELDS = ("published", "authors", "body")


class RunReport:
    """Count field coverage of every item; on close, write the stats to ``<home>/runs/<run-id>.json``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.home = home_of(crawler.settings)
        self.coverage = dict.fromkeys(("items", *COVERAGE_FIELDS), 0)  # into the stats on close
        self.written = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        outcomes = ItemOutcomes.of(crawler)
        outcomes.listen(ext.count_fields, dropped=True)
        outcomes.listen(ext.count_error, failed=True)
        outcomes.on_written(ext.count_fields)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        atexit.register(self.forced_exit)

    def count_error(self, item: Any, response: Any = None) -> None:
        """A pipeline raised on an item: it is lost to this run, and counted."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("newsdesk/item_errors")

    def count_fields(self, item: Any, response: Any = None) -> None:
        """Count an item whose page this run read (kept or dropped after cleaning) and its coverage fields."""
        if isinstance(item, KnownListing):
            return
        adapter = adapt(item)
        self.coverage["items"] += 1
        for name in COVERAGE_FIELDS:
            if adapter.get(name):
                self.coverage[name] += 1

    def spider_closed(self, spider: Spider, reason: str) -> None:
        atexit.unregister(self.forced_exit)
        self.write(spider, reason)

    def forced_exit(self) -> None:
        """The process ends without the spider having closed (a forced stop): report what was counted."""
        spider = self.crawler.spider
        if not self.written and spider is not None:
            self.write(spider, "shutdown_forced")

    def write(self, spider: Spider, reason: str) -> None:
        """Check the numbers add up, then write the stats to the run report."""
        assert self.crawler.stats is not None
        if self.written:
            return
        self.written = True
        for name, count in self.coverage.items():
            if count:
                self.crawler.stats.inc_value(f"newsdesk/coverage/{name}", count)
        for problem in Tally.of(self.crawler.stats.get_stats()).problems(reason):
            self.crawler.stats.inc_value("newsdesk/tally_mismatch")
            logger.error("the run's numbers do not add up: %s", problem)
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


class FreezeStartup:
    """When the first spider opens, move every object made so far out of the garbage collector's sight.

    A crawl process starts by importing Scrapy, Twisted, lxml and newsdesk
    (some 80,000 container objects) and then allocates quickly, so Python's
    full collections keep walking the start-up objects, which live until exit:
    in ``benchmarks/bench_crawl.py`` about 1.6 s of a 9 s crawl of 5,000
    items went to the collector, 0.3 s with them frozen (``gc.freeze``).
    Objects made later are collected as before.  Off with
    ``NEWSDESK_GC_FREEZE = False``.
    """

    frozen = False  # once per process: a worker opens several spiders

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("NEWSDESK_GC_FREEZE", True):
            raise NotConfigured("NEWSDESK_GC_FREEZE is off")
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FreezeStartup:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        if FreezeStartup.frozen:
            return
        gc.collect()  # what is garbage already is not frozen
        gc.freeze()
        FreezeStartup.frozen = True
        logger.debug("froze %d start-up objects out of the garbage collector's sight", gc.get_freeze_count())
