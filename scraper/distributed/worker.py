"""The worker side's upkeep: heartbeat, reaping dead workers' claims, a rotating outbox, the worker spider and settings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Request

from scraper.distributed.claims import Claims, _claim_of, requeue
from scraper.distributed.keys import CLAIM_META, ERRBACK_META, HEARTBEAT_EVERY, HEARTBEAT_TTL, PREFIX, Keys, redis_client
from scraper.outcomes import ItemOutcomes
from scraper.pipelines.dedupe import DedupePipeline
from scraper.pipelines.outbox import OutboxPipeline

logger = logging.getLogger(__name__)


class WorkerExtension:
    """A worker's upkeep: item completion, heartbeat, never closing when idle, reaping dead workers' claims."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.worker = settings.get("NEWSDESK_WORKER_ID")
        self.keys = Keys(settings.get("NEWSDESK_REDIS_PREFIX") or PREFIX)
        self.server = redis_client(settings.get("REDIS_URL"))
        self.ttl = settings.getint("NEWSDESK_WORKER_TTL", HEARTBEAT_TTL)
        self.stop = threading.Event()
        self.beat: threading.Thread | None = None
        self.loop: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerExtension:
        if not crawler.settings.get("NEWSDESK_WORKER_ID"):
            raise NotConfigured("not a worker")
        ext = cls(crawler)
        ItemOutcomes.of(crawler).listen(ext.item_done, scraped=True, dropped=True, failed=True)
        for handler, signal in ((ext.idle, signals.spider_idle),
                                (ext.opened, signals.spider_opened), (ext.closed, signals.spider_closed)):
            crawler.signals.connect(handler, signal=signal)
        return ext

    def opened(self, spider: scrapy.Spider) -> None:
        """Start the heartbeat (a thread: it beats even while the reactor is busy) and the reaper."""
        from twisted.internet import task

        beat(self.server, self.keys, self.worker, self.ttl)
        if self.beat is None:
            self.beat = threading.Thread(target=self._beat, name="newsdesk-heartbeat", daemon=True)
            self.beat.start()
        self.loop = task.LoopingCall(self._upkeep)
        self.loop.start(self.crawler.settings.getfloat("NEWSDESK_WORKER_POLL", 1.0), now=False)

    def _beat(self) -> None:
        while not self.stop.wait(min(HEARTBEAT_EVERY, self.ttl / 3)):
            try:
                beat(self.server, self.keys, self.worker, self.ttl)
            except Exception as exc:  # noqa: BLE001 (Redis briefly away: beat again next time)
                logger.warning("heartbeat failed: %s", exc)

    def _upkeep(self) -> None:
        try:
            reap(self.server, self.keys)
            slot = getattr(self.crawler.engine, "_slot", None)  # Scrapy keeps the slot private
            if slot is not None and slot.scheduler.has_pending_requests():
                slot.nextcall.schedule()  # new work: do not wait for the engine's heartbeat
        except Exception as exc:  # noqa: BLE001 (Redis briefly away)
            logger.warning("worker upkeep failed: %s", exc)

    def item_done(self, item: Any, response: Any = None) -> None:
        """An item reached the outbox or was dropped: one fewer to wait for before the claim goes."""
        claims: Claims | None = getattr(self.crawler, "newsdesk_claims", None)
        claim = _claim_of(response)
        if claims is not None and claim is not None:
            claims.item_done(claim)

    def idle(self, spider: scrapy.Spider) -> None:
        """A worker waits for work instead of closing (rmax/scrapy-redis #40, #128)."""
        raise DontCloseSpider("waiting for requests in Redis")

    def closed(self, spider: scrapy.Spider, reason: str) -> None:
        self.stop.set()
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        try:
            self.server.delete(self.keys.heartbeat(self.worker))
        except Exception as exc:  # noqa: BLE001
            logger.warning("could not remove the heartbeat: %s", exc)


def beat(server: Any, keys: Keys, worker: str, ttl: int = HEARTBEAT_TTL) -> None:
    """Say this worker is alive for the next ``ttl`` seconds."""
    server.set(keys.heartbeat(worker), str(time.time()), ex=ttl)


def reap(server: Any, keys: Keys) -> int:
    """Put the claims of workers whose heartbeat expired back in their queues; how many requests moved."""
    moved = 0
    for raw_key in server.scan_iter(match=f"{keys.prefix}:claims:*", count=500):
        key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
        source, _, worker = key[len(f"{keys.prefix}:claims:"):].partition(":")
        if not worker or server.exists(keys.heartbeat(worker)):
            continue
        count = requeue(server, key, keys.queue(source))
        if count:
            logger.warning("worker %s is gone: %d of its %s requests put back", worker, count, source)
        moved += count
    return moved


class WorkerOutboxPipeline(OutboxPipeline):
    """The outbox of a long-running worker: the file is closed and a new one opened every few seconds."""

    def open_spider(self) -> None:
        from twisted.internet import task

        super().open_spider()
        self.rotate_every = self.crawler.settings.getfloat("NEWSDESK_WORKER_ROTATE", 30.0)
        self.timer = task.LoopingCall(self.rotate)
        self.timer.start(self.rotate_every, now=False)

    def rotate(self) -> None:
        """Close the current file (if it holds records) so delivery can ship it; start the next."""
        if not self.count:
            return
        from newsdesk.core.runid import new_run_id

        super().close_spider()
        self.run_id = new_run_id(self.crawler.spider.source.id)  # type: ignore[union-attr]
        self.count = 0
        super().open_spider()

    def close_spider(self) -> None:
        if getattr(self, "timer", None) is not None and self.timer.running:
            self.timer.stop()
        super().close_spider()


class WorkerDedupePipeline(DedupePipeline):
    """Dedupe for a long-running worker: "seen in this run" forgets keys as the outbox rotates."""

    def process_item(self, item: Any) -> Any:
        now = time.monotonic()
        every = self.crawler.settings.getfloat("NEWSDESK_WORKER_ROTATE", 30.0)
        if now - getattr(self, "_since", now) > every:
            self.this_run.clear()
            self._since = now
        self._since = getattr(self, "_since", now)
        return super().process_item(item)


def worker_spider(cls: type[scrapy.Spider]) -> type[scrapy.Spider]:
    """``cls`` as a worker: no start requests of its own, errbacks that report when they are done."""

    class Worker(cls):  # type: ignore[valid-type, misc]
        async def start(self) -> AsyncIterator[Any]:
            """Requests come from Redis (pushed by `newsdesk schedule --redis`)."""
            return
            yield  # an async generator that yields nothing

        def page_failed(self, failure: Any) -> Iterator[Any]:
            return self._errback_done(failure, super().page_failed(failure))

        def article_failed(self, failure: Any) -> Iterator[Any]:
            return self._errback_done(failure, super().article_failed(failure))

        def _errback_done(self, failure: Any, output: Any) -> Iterator[Any]:
            request = failure.request
            request.meta[ERRBACK_META] = True
            claims: Claims | None = getattr(self.crawler, "newsdesk_claims", None)
            claim = request.meta.get(CLAIM_META)
            try:
                for out in output or ():
                    if claims is not None and claim is not None and not isinstance(out, Request):
                        claims.item_yielded(claim)
                    yield out
            finally:
                if claims is not None and claim is not None:
                    claims.exhausted(claim)

    Worker.__name__ = Worker.__qualname__ = f"Worker{cls.__name__}"
    return Worker


def worker_settings(redis_url: str, worker_id: str, prefix: str = PREFIX) -> dict[str, Any]:
    """Scrapy settings that turn a crawl into a Redis worker."""
    from scraper import settings as base

    pipelines = dict(base.ITEM_PIPELINES)
    pipelines.pop("scraper.pipelines.outbox.OutboxPipeline", None)
    pipelines.pop("scraper.pipelines.dedupe.DedupePipeline", None)
    pipelines["scraper.distributed.WorkerDedupePipeline"] = 300
    pipelines["scraper.distributed.WorkerOutboxPipeline"] = 900
    return {
        "SCHEDULER": "scraper.distributed.ReliableScheduler",
        "SCHEDULER_PERSIST": True,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": redis_url,
        "NEWSDESK_WORKER_ID": worker_id,
        "NEWSDESK_REDIS_PREFIX": prefix,
        "ITEM_PIPELINES": pipelines,
        "EXTENSIONS": {**base.EXTENSIONS, "scraper.distributed.WorkerExtension": 600},
        "SPIDER_MIDDLEWARES": {"scraper.distributed.ClaimMiddleware": 1000},
        # A worker's outbox files rotate within one process; its capture would need to follow them.
        "NEWSDESK_CAPTURE": False,
    }
