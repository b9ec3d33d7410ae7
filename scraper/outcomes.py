"""What became of each item, told to newsdesk's listeners through one Scrapy signal receiver each.

Several parts of a crawl need to know an item's fate: the dedupe store marks
a record seen once it reached the outbox, the spider saves its listing mark
once it was handled (kept or dropped on purpose), the run report counts field
coverage, a distributed worker acknowledges the request.  With the asyncio
reactor Scrapy runs every receiver of a signal in an asyncio task of its own,
which cost newsdesk's three receivers more per item than the dedupe and
outbox pipelines together (``benchmarks/bench_crawl.py``).  So they register
plain callbacks here, and this hub is the one receiver of each signal.

A callback that raises is logged and does not keep the others from running,
as with Scrapy's own receivers.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

Listener = Callable[[Any, Any], None]  # (item, response)

_HUBS: weakref.WeakKeyDictionary[Crawler, ItemOutcomes] = weakref.WeakKeyDictionary()


class ItemOutcomes:
    """Callbacks for items scraped (in the outbox), dropped (on purpose) or lost to an error."""

    def __init__(self, crawler: Crawler) -> None:
        self.scraped: list[Listener] = []
        self.dropped: list[Listener] = []
        self.failed: list[Listener] = []
        crawler.signals.connect(self._on_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self._on_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self._on_failed, signal=signals.item_error)

    @classmethod
    def of(cls, crawler: Crawler) -> ItemOutcomes:
        """The crawler's hub, made on first use."""
        hub = _HUBS.get(crawler)
        if hub is None:
            hub = _HUBS[crawler] = cls(crawler)
        return hub

    def listen(self, callback: Listener, *, scraped: bool = True, dropped: bool = False,
               failed: bool = False) -> None:
        """Call ``callback(item, response)`` for the outcomes named (``response``: the item's source, or None)."""
        for wanted, listeners in ((scraped, self.scraped), (dropped, self.dropped), (failed, self.failed)):
            if wanted:
                listeners.append(callback)

    def _on_scraped(self, item: Any, response: Any = None) -> None:
        _tell(self.scraped, item, response)

    def _on_dropped(self, item: Any, response: Any = None) -> None:
        _tell(self.dropped, item, response)

    def _on_failed(self, item: Any, response: Any = None) -> None:
        _tell(self.failed, item, response)


def _tell(listeners: list[Listener], item: Any, response: Any) -> None:
    for callback in listeners:
        try:
            callback(item, response)
        except Exception:  # noqa: BLE001 (one listener's bug must not silence the others)
            logger.exception("error in %s for an item", getattr(callback, "__qualname__", callback))
