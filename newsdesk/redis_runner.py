"""The scheduler's job when crawls run on Redis workers: queue a source's run instead of crawling it here.

``newsdesk schedule --redis URL`` uses :class:`RedisRunner` in place of the
local runner: each due source gets its start requests pushed to Redis under a
per-source lock with expiry (one run per source at a time, across every
scheduler); every few seconds the runner releases the locks of runs whose
requests are all done and puts back the claims of dead workers.
"""

from __future__ import annotations

import logging
from typing import Any

from newsdesk.config import Config
from newsdesk.home import Home
from scheduler import Runner
from scraper.sources import Source

logger = logging.getLogger(__name__)

SETTLE_EVERY = 5.0  # seconds between checks for finished runs and dead workers


class RedisRunner(Runner):
    """Queues runs in Redis; the crawling is done by `newsdesk worker` processes."""

    def __init__(self, home: Home, config: Config, redis_url: str, settings: dict[str, str] | None = None) -> None:
        from scraper.distributed import Keys, redis_client

        super().__init__(home, config, settings)
        self.server = redis_client(redis_url)
        self.keys = Keys()
        self.lock_ttl = int(config.crawl_timeout or 3600)
        self.tokens: dict[str, str] = {}

    def run(self, source: Source) -> Any:
        """Queue one run of ``source`` unless its previous run is still going."""
        from scraper.distributed import push_run

        if self.stop.requested:
            return None
        self.catch_up.discard(source.id)
        self.settle()
        token = push_run(self.server, source, self.keys, lock_ttl=self.lock_ttl)
        if token is None:
            logger.info("%s: the previous run is still going (Redis lock held); skipped", source.id)
            return None
        self.tokens[source.id] = token
        return None

    def settle(self) -> None:
        """Put back dead workers' claims; release the locks of runs that have finished."""
        from scraper.distributed import reap, release_lock, run_finished

        try:
            reap(self.server, self.keys)
            for source_id, token in list(self.tokens.items()):
                if run_finished(self.server, source_id, self.keys):
                    release_lock(self.server, source_id, token, self.keys)
                    del self.tokens[source_id]
                    logger.info("run of %s finished", source_id)
        except Exception as exc:  # noqa: BLE001 (Redis briefly away: settle next time)
            logger.warning("could not check runs in Redis: %s", exc)

    def ingest(self) -> None:
        """Workers deliver their own records; nothing to index here."""
