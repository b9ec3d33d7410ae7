"""``newsdesk worker``: a Redis crawl worker that also delivers its outbox to the PostgreSQL archive.

One process runs one Scrapy crawler per source (the worker's share of the
sources), each fed from that source's Redis queue (see
:mod:`scraper.distributed`).  A delivery thread ships closed outbox files to
PostgreSQL every few seconds; while the database is down the files wait in
the outbox, so nothing is lost.  SIGTERM/SIGINT stop the worker cleanly: its
unfinished requests go back to the queues and a last delivery runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from newsdesk.core.errors import NewsdeskError
from newsdesk.core.home import Home
from newsdesk.core.words import plural

logger = logging.getLogger(__name__)


class WorkerError(NewsdeskError):
    """The worker cannot start: no Redis, no such source, no sources enabled."""


class Delivery:
    """A thread that delivers the outbox to the archive every ``every`` seconds until stopped."""

    def __init__(self, home: Home, archive_url: str, every: float) -> None:
        self.home = home
        self.url = archive_url
        self.every = every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="newsdesk-delivery", daemon=True)
        self.delivered = 0

    def start(self) -> None:
        self.thread.start()

    def once(self) -> bool:
        """One delivery; False (logged) if the archive could not take it now."""
        from index.pg import deliver

        try:
            result = deliver(self.home, self.url)
        except NewsdeskError as exc:
            logger.warning("delivery deferred: %s", exc)
            return False
        if result.files:
            self.delivered += result.records
            logger.info("delivered %d records (%d new, %d changed) from %d files", result.records, result.new,
                        result.updated, result.files)
        return True

    def _loop(self) -> None:
        while not self.stopped.wait(self.every):
            self.once()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)
        self.once()


class _OnlyProblems(logging.Filter):
    """On the terminal, while a worker runs: newsdesk's own lines, and warnings of the rest (Scrapy's INFO
    goes to the worker's log file only)."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold  # the terminal's level before (-v: INFO)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or (record.name.startswith("newsdesk")
                                                     and record.levelno >= self.threshold)


def _log_to_file(path: Path, level: str) -> Callable[[], None]:
    """Every log line (at ``level``) to ``path``; the terminal keeps only problems. Returns the undo."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
    handler.setLevel(level)
    root = logging.getLogger()
    quiet = _OnlyProblems(root.level or logging.WARNING)
    terminals = [h for h in root.handlers if isinstance(h, logging.StreamHandler)
                 and not isinstance(h, logging.FileHandler)]
    for terminal in terminals:
        terminal.addFilter(quiet)
    old_level = root.level
    root.setLevel(min(old_level, logging.getLevelName(level)) if old_level else logging.getLevelName(level))
    root.addHandler(handler)

    def undo() -> None:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
        for terminal in terminals:
            terminal.removeFilter(quiet)

    return undo


def summary_lines(worker_id: str, crawlers: Sequence[Any], log_file: Path) -> list[str]:
    """What a stopped worker did, one line per source: pages fetched, items written, errors."""
    lines = [f"worker {worker_id} stopped; its log: {log_file}"]
    for crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats is not None else {}
        source = getattr(getattr(crawler.spider, "source", None), "id", None) or getattr(crawler.spider, "name", "?")
        pages = int(stats.get("response_received_count", 0) or 0)
        items = int(stats.get("item_scraped_count", 0) or 0)
        errors = int(stats.get("log_count/ERROR", 0) or 0) + int(stats.get("newsdesk/page_failed", 0) or 0)
        lines.append(f"  {source}: {plural(pages, 'page')}, {plural(items, 'item')} written, {plural(errors, 'error')}")
    return lines


def run_worker(home: Home, redis_url: str, archive_url: str | None = None, source_ids: Sequence[str] = (),
               settings: dict[str, Any] | None = None, deliver_every: float = 10.0,
               worker_id: str | None = None, report: Callable[[str], None] | None = None) -> int:
    """Crawl from Redis until SIGTERM/SIGINT; returns an exit code.

    Scrapy's log goes to ``<home>/logs/worker-<id>.log``; when it stops, ``report`` gets a summary.
    """
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings
    from scrapy.spiderloader import SpiderLoader

    from newsdesk.ops.config import load_config
    from scraper import settings as base
    from scraper.distributed import new_worker_id, redis_client, worker_settings, worker_spider
    from scraper.sources import load_sources

    try:
        redis_client(redis_url).ping()
    except Exception as exc:  # noqa: BLE001 (redis raises many kinds: bad URL, refused, auth)
        raise WorkerError(f"cannot reach Redis at {redis_url}: {exc}", "check --redis and that the server is up") from None
    sources = {s.id: s for s in load_sources(home.sources_file).values() if s.enabled}
    unknown = [s for s in source_ids if s not in sources]
    if unknown:
        raise WorkerError(f"no enabled source {unknown[0]!r}", f"known: {', '.join(sorted(sources)) or '(none)'}")
    chosen = [sources[s] for s in source_ids] if source_ids else list(sources.values())
    if not chosen:
        raise WorkerError("no enabled sources to work on", "enable a source in sources.toml")
    home.ensure(home.root, home.outbox, home.state, home.logs)
    config = load_config(home.config_file)
    worker_id = worker_id or new_worker_id()
    merged = Settings()
    merged.setmodule(base, priority="project")
    merged.update({"NEWSDESK_HOME": str(home.root), **config.crawl_settings}, priority="project")
    merged.update(worker_settings(redis_url, worker_id), priority="cmdline")
    merged.update(settings or {}, priority="cmdline")
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 1.0  # poll Redis every second, not every 5 s, when idle
    loader = SpiderLoader.from_settings(merged)
    merged.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # the CLI set up logging
    log_file = home.logs / f"worker-{worker_id}.log"
    undo_logging = _log_to_file(log_file, merged.get("LOG_LEVEL") or "INFO")
    process = CrawlerProcess(merged)
    crawlers = []
    for source in chosen:
        crawler = process.create_crawler(worker_spider(loader.load(source.spider)))
        crawlers.append(crawler)
        process.crawl(crawler, source=source)
    delivery = Delivery(home, archive_url, deliver_every) if archive_url else None
    if delivery:
        delivery.start()
    logger.info("worker %s: %d sources from %s; log: %s", worker_id, len(chosen), redis_url, log_file)
    try:
        process.start()
    finally:
        if delivery:
            delivery.stop()
        undo_logging()
    for line in summary_lines(worker_id, crawlers, log_file):
        (report or logger.info)(line)
    return 0
