"""The Redis keys of a deployment, its constants, a client, worker ids."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

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
