"""Outbox: append each record as a JSON line to ``<home>/outbox/<run-id>.jsonl.part``.

Each record's line is flushed to the file as it is written, and only then is
the record told *written* (:mod:`scraper.outcomes`): the dedupe store and the
spider mark it seen no earlier.  (Flushing every 100 records instead measured
no faster, and would let a killed crawl lose the records still buffered if a
source stopped listing them.)  The file is held under an exclusive
``flock`` while the crawl writes it, so ingest can tell a live file from one
left by a killed crawl (the kernel releases the lock when the holder dies).  On
close, the run's capture (:mod:`scraper.capture`) is fsynced first, so every
record's WARC record is on disk before the record can be ingested; then the
outbox file is fsynced and renamed to ``<run-id>.jsonl``.
"""

from __future__ import annotations

import fcntl
import logging
import os
from typing import IO, Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from newsdesk.core.runid import new_run_id
from scraper.capture import RunCapture
from newsdesk.core.record import NewsItem
from scraper.outcomes import ItemOutcomes
from scraper.settings import home_of

logger = logging.getLogger(__name__)


class OutboxPipeline:
    """The last pipeline: what it writes is what ingest will index."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.home = home_of(crawler.settings)
        self.run_id = crawler.settings.get("NEWSDESK_RUN_ID") or ""
        self.file: IO[str] | None = None
        self.count = 0
        self.outcomes = ItemOutcomes.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutboxPipeline:
        return cls(crawler)

    @property
    def part_path(self) -> os.PathLike[str]:
        return self.home.outbox / f"{self.run_id}.jsonl.part"

    def open_spider(self) -> None:
        spider = self.crawler.spider
        if not self.run_id:
            self.run_id = new_run_id(getattr(getattr(spider, "source", None), "id", "run"))
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("newsdesk/run_id", self.run_id)
        self.home.ensure(self.home.outbox)
        # Lock first, then give the file its .part name: ingest never sees an unlocked
        # .part of a live crawl (it would archive and unlink it under the writer).
        opening = self.home.outbox / f"{self.run_id}.jsonl.opening"
        self.file = open(opening, "a", encoding="utf-8")
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(opening, self.part_path)

    def process_item(self, item: Any) -> Any:
        assert self.file is not None
        record = item if isinstance(item, NewsItem) else NewsItem.from_dict(ItemAdapter(item).asdict())
        self.file.write(record.to_json() + "\n")
        self.file.flush()
        self.count += 1
        self.outcomes.tell_written(item)
        return item

    def close_spider(self) -> None:
        RunCapture.of(self.crawler).close()
        if self.file is None:
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        part = self.home.outbox / f"{self.run_id}.jsonl.part"
        if self.count:
            os.replace(part, self.home.outbox / f"{self.run_id}.jsonl")
            _fsync_dir(self.home.outbox)
        else:
            part.unlink(missing_ok=True)
        self.file.close()  # releases the lock after the rename: ingest never sees a half state
        self.file = None
        logger.info("outbox: %d records for run %s", self.count, self.run_id)


def _fsync_dir(path: os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
