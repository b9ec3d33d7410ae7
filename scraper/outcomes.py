"""What became of each item, told to the parts of a crawl that keep state about it.

* **written**: the outbox flushed the record's line to its file.  Only now may
  a record count as seen: the dedupe store marks its key, the spider its
  listing.  A crawl killed before leaves it unmarked, so the next run sends it
  again (ingest is idempotent) instead of losing it.
* **dropped**: a pipeline dropped the item on purpose (unchanged, a duplicate,
  no title); Scrapy's ``item_dropped`` signal.
* **scraped** / **failed**: Scrapy's ``item_scraped`` / ``item_error``, for
  listeners that need the response (a distributed worker's claims).

The written records come straight from the outbox pipeline, not through a
Scrapy signal: with the asyncio reactor Scrapy runs every receiver of a signal
in an asyncio task of its own, which costs more per item and receiver than
the dedupe pipeline's own work (benchmarks/README.md, "Scrapy signal
receivers").  The hub connects to a Scrapy signal only when something listens to it, with one receiver for all.  A listener that raises is logged and does
not keep the others from running, as with Scrapy's own receivers.
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
WrittenListener = Callable[[Any], None]  # (item,)

_HUBS: weakref.WeakKeyDictionary[Crawler, ItemOutcomes] = weakref.WeakKeyDictionary()


class ItemOutcomes:
    """One crawler's listeners for records written, items dropped, scraped or lost to an error."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.written: list[WrittenListener] = []
        self.by_signal: dict[object, list[Listener]] = {}

    @classmethod
    def of(cls, crawler: Crawler) -> ItemOutcomes:
        """The crawler's hub, made on first use."""
        hub = _HUBS.get(crawler)
        if hub is None:
            hub = _HUBS[crawler] = cls(crawler)
        return hub

    def on_written(self, callback: WrittenListener) -> None:
        """Call ``callback(item)`` for each record whose line the outbox has flushed."""
        self.written.append(callback)

    def listen(self, callback: Listener, *, scraped: bool = False, dropped: bool = False,
               failed: bool = False) -> None:
        """Call ``callback(item, response)`` for the Scrapy outcomes named (``response`` may be None)."""
        for wanted, signal in ((scraped, signals.item_scraped), (dropped, signals.item_dropped),
                               (failed, signals.item_error)):
            if not wanted:
                continue
            if signal not in self.by_signal:
                listeners: list[Listener] = []
                self.by_signal[signal] = listeners
                self.crawler.signals.connect(_receiver(listeners), signal=signal, weak=False)
            self.by_signal[signal].append(callback)

    def tell_written(self, item: Any) -> None:
        """The outbox flushed this record's line (called by ``OutboxPipeline``)."""
        for callback in self.written:
            try:
                callback(item)
            except Exception:  # noqa: BLE001 (one listener's bug must not silence the others)
                logger.exception("error in %s for a written record", _name(callback))


def _receiver(listeners: list[Listener]) -> Callable[..., None]:
    def receive(item: Any, response: Any = None) -> None:
        for callback in listeners:
            try:
                callback(item, response)
            except Exception:  # noqa: BLE001 (as above)
                logger.exception("error in %s for an item", _name(callback))
    return receive


def _name(callback: Callable[..., Any]) -> str:
    return getattr(callback, "__qualname__", repr(callback))
