"""Downloader middlewares: guards on where a crawl may connect."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback_host(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and the name localhost."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OfflineGuardMiddleware:
    """With NEWSDESK_OFFLINE on (the test suite), refuse and loudly log any non-loopback request."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OfflineGuardMiddleware:
        if not crawler.settings.getbool("NEWSDESK_OFFLINE"):
            raise NotConfigured
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        host = urlsplit(request.url).hostname
        if not is_loopback_host(host):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("newsdesk/offline_guard_blocked")
            logger.error("NETWORK GUARD: refused a request off the loopback: %s", request.url)
            raise IgnoreRequest(f"offline guard: {request.url}")
        return None
