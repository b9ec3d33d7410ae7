"""Item pipelines, one job each: normalize (100) → validate (200) → dedupe (300) → outbox (900)."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem


def drop(crawler: Crawler, reason: str, detail: str) -> DropItem:
    """Count a drop under ``newsdesk/dropped/<reason>`` and return the DropItem to raise."""
    assert crawler.stats is not None
    crawler.stats.inc_value(f"newsdesk/dropped/{reason}")
    return DropItem(f"{reason.replace('_', ' ')}: {detail}")
