"""Distributed crawling on Redis (scrapy-redis): workers share each source's request queue and dupefilter.

Keys (``P`` is the prefix, ``newsdesk`` by default):

* ``P:queue:<source>`` — the source's requests (a list; scrapy-redis' request
  serialization);
* ``P:dupefilter:<source>`` — request fingerprints of the current run
  (scrapy-redis ``RFPDupeFilter``): a page is queued once per run;
* ``P:claims:<source>:<worker>`` — requests a worker took and has not finished;
* ``P:worker:<worker>`` — the worker's heartbeat (expires ``HEARTBEAT_TTL`` s
  after its last beat);
* ``P:lock:<source>`` — one run per source at a time (a lock with expiry).

Two scrapy-redis pitfalls are designed out:

* *Idle workers shutting down* (rmax/scrapy-redis #40, #128): a worker spider
  raises ``DontCloseSpider`` whenever it is idle and polls its queues; it stops
  only on SIGTERM/SIGINT.
* *A killed worker losing pages*: scrapy-redis pops a request and marks its
  fingerprint when it is queued, so a request popped by a worker that is then
  killed is gone for good, and rediscovering its URL is filtered.  Here a
  worker takes a request with ``LMOVE`` from the queue into its own claims
  list (atomic: the request is in one of the two lists at every moment), and
  removes it from there only after the response was handled: the callback's
  output consumed (new requests already queued) and each of its items through
  the pipelines (written to the outbox).  A worker whose heartbeat expired is
  dead: anyone (another worker, the scheduler) moves its claims back to the
  queue with ``LMOVE``, so they are fetched again.  A worker stopping cleanly
  puts back its own unfinished claims.

Records still go to each worker's local outbox (rotated every
``NEWSDESK_WORKER_ROTATE`` seconds so delivery can ship closed files); the
outbox file of a killed worker is recovered by the next delivery on its home.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Request
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base as RedisQueueBase
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from scraper.outcomes import ItemOutcomes
from scraper.pipelines.dedupe import DedupePipeline
from scraper.pipelines.outbox import OutboxPipeline
from scraper.sources import Source

logger = logging.getLogger(__name__)

PREFIX = "newsdesk"
HEARTBEAT_EVERY = 5.0
HEARTBEAT_TTL = 20
ENQUEUE_PATIENCE = 120.0  # seconds a worker waits for Redis to queue a request before giving up
CLAIM_META = "newsdesk_claim"
ERRBACK_META = "newsdesk_errback"


def redis_client(url: str) -> Any:
    """A Redis client for ``url`` (``redis://host:port/db``)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30)


@dataclass(frozen=True)
class Keys:
    """The Redis keys of one deployment (one prefix)."""

    prefix: str = PREFIX

    def queue(self, source: str) -> str:
        return f"{self.prefix}:queue:{source}"

    def dupefilter(self, source: str) -> str:
        return f"{self.prefix}:dupefilter:{source}"

    def claims(self, source: str, worker: str) -> str:
        return f"{self.prefix}:claims:{source}:{worker}"

    def heartbeat(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}"

    def lock(self, source: str) -> str:
        return f"{self.prefix}:lock:{source}"


def new_worker_id() -> str:
    """A worker id unique across machines: host, pid and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# --- encoding (shared by workers and the scheduler) -----------------------------------

def encode_request(request: Request, spider: scrapy.Spider) -> bytes:
    """A request as scrapy-redis stores it (callbacks by name on ``spider``)."""
    data = request.to_dict(spider=spider)
    data.get("meta", {}).pop(CLAIM_META, None)
    return picklecompat.dumps(data)


def decode_request(raw: bytes, spider: scrapy.Spider) -> Request:
    """The request back, bound to ``spider``'s methods."""
    return request_from_dict(picklecompat.loads(raw), spider=spider)


# --- the worker side: queue, scheduler, claims ------------------------------------------

class ClaimQueue(RedisQueueBase):
    """A source's FIFO queue; ``pop`` moves the request into this worker's claims list atomically."""

    def __init__(self, server: Any, spider: scrapy.Spider, key: str, serializer: Any = None,
                 claims_key: str = "") -> None:
        super().__init__(server, spider, key, serializer)
        self.key = key
        self.claims_key = claims_key

    def __len__(self) -> int:
        return int(self.server.llen(self.key))

    def push(self, request: Request) -> None:
        self.server.lpush(self.key, encode_request(request, self.spider))

    def pop(self, timeout: int = 0) -> Request | None:
        raw = self.server.lmove(self.key, self.claims_key, "RIGHT", "LEFT")
        if raw is None:
            return None
        request = decode_request(raw, self.spider)
        request.meta[CLAIM_META] = (self.claims_key, raw)
        return request


class ReliableScheduler(RedisScheduler):
    """scrapy-redis' scheduler with per-source keys, claims, and no flush on close."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReliableScheduler:
        instance = super().from_crawler(crawler)
        instance.crawler = crawler
        return instance  # type: ignore[return-value]

    def open(self, spider: scrapy.Spider) -> None:
        self.spider = spider
        settings = spider.crawler.settings
        source = spider.source.id  # type: ignore[attr-defined]
        keys = Keys(settings.get("NEWSDESK_REDIS_PREFIX") or PREFIX)
        worker = settings.get("NEWSDESK_WORKER_ID")
        if not worker:
            raise NotConfigured("NEWSDESK_WORKER_ID is not set")
        self.keys = keys
        self.queue = ClaimQueue(self.server, spider, keys.queue(source), claims_key=keys.claims(source, worker))
        self.df = RFPDupeFilter(self.server, key=keys.dupefilter(source),
                                debug=settings.getbool("DUPEFILTER_DEBUG"))
        self.claims = Claims(self.server)
        spider.crawler.newsdesk_claims = self.claims  # type: ignore[attr-defined]
        put_back = requeue(self.server, self.queue.claims_key, self.queue.key)  # left by an earlier run of this id
        if put_back:
            logger.info("%s: %d unfinished requests of an earlier run put back", source, put_back)

    def enqueue_request(self, request: Request) -> bool:
        """Queue the request; a retry or redirect of a claimed request then gives up the old claim.

        While Redis is unreachable this waits (up to ENQUEUE_PATIENCE s): a request
        a callback yielded must not be dropped, or its parent's claim would go
        with nothing queued in its place.
        """
        import redis

        old = request.meta.get(CLAIM_META)
        deadline = time.monotonic() + ENQUEUE_PATIENCE
        while True:
            try:
                queued = super().enqueue_request(request)
                break
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise
                logger.warning("Redis unreachable, retrying to queue %s: %s", request.url, exc)
                time.sleep(1.0)
        if old is not None:
            request.meta.pop(CLAIM_META, None)
            self.claims.release(old)
        return bool(queued)

    def next_request(self) -> Request | None:
        """The next request, or None (retried on the engine's next tick) while Redis is unreachable."""
        import redis

        try:
            return super().next_request()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("Redis unreachable, no new requests for now: %s", exc)
            return None

    def close(self, reason: str) -> None:
        """Keep the queue and dupefilter (shared); put this worker's unfinished claims back."""
        put_back = requeue(self.server, self.queue.claims_key, self.queue.key)
        if put_back:
            logger.info("%d unfinished requests put back in %s", put_back, self.queue.key)


def requeue(server: Any, claims_key: str, queue_key: str) -> int:
    """Move every request of a claims list back to its queue (each move atomic); how many moved."""
    moved = 0
    while server.lmove(claims_key, queue_key, "RIGHT", "RIGHT") is not None:
        moved += 1
    return moved


class _Pending:
    __slots__ = ("items", "done", "exhausted")

    def __init__(self) -> None:
        self.items = 0
        self.done = 0
        self.exhausted = False


class Claims:
    """Tracks each claimed request until its output is handled, then removes the claim."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.pending: dict[tuple[str, bytes], _Pending] = {}
        self.released: deque[tuple[str, bytes]] = deque(maxlen=4096)

    def _state(self, claim: tuple[str, bytes]) -> _Pending:
        return self.pending.setdefault(claim, _Pending())

    def item_yielded(self, claim: tuple[str, bytes]) -> None:
        self._state(claim).items += 1

    def item_done(self, claim: tuple[str, bytes]) -> None:
        state = self._state(claim)
        state.done += 1
        self._maybe_release(claim, state)

    def exhausted(self, claim: tuple[str, bytes]) -> None:
        state = self._state(claim)
        state.exhausted = True
        self._maybe_release(claim, state)

    def _maybe_release(self, claim: tuple[str, bytes], state: _Pending) -> None:
        if state.exhausted and state.done >= state.items:
            self.pending.pop(claim, None)
            self.release(claim)

    def release(self, claim: tuple[str, bytes]) -> None:
        """Remove one claim from its list (once)."""
        if claim in self.released:
            return
        self.released.append(claim)
        self.server.lrem(claim[0], 1, claim[1])


def _claim_of(obj: Any) -> tuple[str, bytes] | None:
    request = getattr(obj, "request", None)
    meta = getattr(request, "meta", None) or {}
    return meta.get(CLAIM_META)


class ClaimMiddleware:
    """Spider middleware: counts a claimed response's items and notes when its output is consumed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClaimMiddleware:
        if not crawler.settings.get("NEWSDESK_WORKER_ID"):
            raise NotConfigured("not a worker")
        return cls(crawler)

    def _claims(self) -> Claims | None:
        return getattr(self.crawler, "newsdesk_claims", None)

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterator[Any]:
        claim, claims = _claim_of(response), self._claims()
        if claim is None or claims is None:
            yield from result
            return
        try:
            for out in result:
                if not isinstance(out, Request) and not response.request.meta.get(ERRBACK_META):
                    claims.item_yielded(claim)
                yield out
        finally:
            claims.exhausted(claim)

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        claim, claims = _claim_of(response), self._claims()
        if claim is None or claims is None:
            async for out in result:
                yield out
            return
        try:
            async for out in result:
                if not isinstance(out, Request) and not response.request.meta.get(ERRBACK_META):
                    claims.item_yielded(claim)
                yield out
        finally:
            claims.exhausted(claim)


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
        from newsdesk.runid import new_run_id

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


# --- the scheduler side ------------------------------------------------------------------

def start_requests(source: Source) -> list[Request]:
    """The requests a crawl of ``source`` starts with (its list pages, feeds, sitemaps)."""
    from scrapy.spiderloader import SpiderLoader
    from scrapy.settings import Settings

    loader = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["scraper.spiders"]}))
    spider = loader.load(source.spider)(source=source)

    async def collect() -> list[Request]:
        return [r async for r in spider.start() if isinstance(r, Request)]

    return asyncio.run(collect()), spider  # type: ignore[return-value]


RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


def push_run(server: Any, source: Source, keys: Keys = Keys(), lock_ttl: int = 3600) -> str | None:
    """Start a run of ``source`` in Redis: take its lock, reset its dupefilter, queue its start requests.

    Returns the lock token, or None when the source's previous run still holds the lock.
    """
    token = uuid.uuid4().hex
    if not server.set(keys.lock(source.id), token, nx=True, ex=lock_ttl):
        return None
    requests, spider = start_requests(source)  # type: ignore[misc]
    pipe = server.pipeline(transaction=True)
    pipe.delete(keys.dupefilter(source.id))  # a new run: every page may be fetched once again
    for request in requests:
        pipe.lpush(keys.queue(source.id), encode_request(request, spider))
    pipe.execute()
    logger.info("run of %s queued in Redis: %d start requests", source.id, len(requests))
    return token


def run_finished(server: Any, source_id: str, keys: Keys = Keys()) -> bool:
    """No request of the source is queued or claimed."""
    if server.llen(keys.queue(source_id)):
        return False
    for key in server.scan_iter(match=f"{keys.prefix}:claims:{source_id}:*", count=500):
        if server.llen(key):
            return False
    return not server.llen(keys.queue(source_id))


def release_lock(server: Any, source_id: str, token: str, keys: Keys = Keys()) -> bool:
    """Release the source's run lock if ``token`` still holds it."""
    return bool(server.eval(RELEASE_LOCK, 1, keys.lock(source_id), token))
