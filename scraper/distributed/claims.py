"""The worker side's queue: a source's requests taken into a claims list, released once handled."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base as RedisQueueBase
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from scraper.distributed.encoding import decode_request, encode_request
from scraper.distributed.keys import CLAIM_META, ENQUEUE_PATIENCE, ERRBACK_META, PREFIX, Keys

logger = logging.getLogger(__name__)


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
