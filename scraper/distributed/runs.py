"""The scheduler side: a source's run pushed to Redis (lock, fresh dupefilter, start requests), its end, its lock."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from scrapy.http import Request

from scraper.distributed.encoding import encode_request
from scraper.distributed.keys import Keys
from scraper.sources import Source

logger = logging.getLogger(__name__)


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
