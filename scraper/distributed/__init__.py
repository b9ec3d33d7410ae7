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

Modules: ``keys`` (the keys, constants, a client), ``encoding`` (requests as
stored), ``claims`` (the worker's queue, scheduler and claims), ``worker`` (its
upkeep, outbox, spider and settings), ``runs`` (the scheduler side: pushing a
run, its end, its lock).  This module is the public API; Scrapy settings name
the worker's classes by their paths here (``scraper.distributed.WorkerExtension``).
"""

from __future__ import annotations

from scraper.distributed.keys import (
    CLAIM_META, ENQUEUE_PATIENCE, ERRBACK_META, HEARTBEAT_EVERY, HEARTBEAT_TTL, PREFIX, Keys, new_worker_id, redis_client,
)
from scraper.distributed.encoding import decode_request, encode_request
from scraper.distributed.claims import ClaimMiddleware, ClaimQueue, Claims, ReliableScheduler, requeue
from scraper.distributed.worker import WorkerDedupePipeline, WorkerExtension, WorkerOutboxPipeline, beat, reap, worker_settings, worker_spider
from scraper.distributed.runs import RELEASE_LOCK, push_run, release_lock, run_finished, start_requests

__all__ = [
    "CLAIM_META",
    "ClaimMiddleware",
    "ClaimQueue",
    "Claims",
    "ENQUEUE_PATIENCE",
    "ERRBACK_META",
    "HEARTBEAT_EVERY",
    "HEARTBEAT_TTL",
    "Keys",
    "PREFIX",
    "RELEASE_LOCK",
    "ReliableScheduler",
    "WorkerDedupePipeline",
    "WorkerExtension",
    "WorkerOutboxPipeline",
    "beat",
    "decode_request",
    "encode_request",
    "new_worker_id",
    "push_run",
    "reap",
    "redis_client",
    "release_lock",
    "requeue",
    "run_finished",
    "start_requests",
    "worker_settings",
    "worker_spider",
]
